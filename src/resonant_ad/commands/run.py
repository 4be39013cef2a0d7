"""``resonant-ad run CONFIG.toml --out DIR``: the full study from a config file."""

from __future__ import annotations

import argparse
from typing import Any

from resonant_ad.commands.execution import add_config_options, add_run_options

__all__ = ["register"]

HELP = "run a study from a TOML config (injections x SRs x methods)"
DESCRIPTION = (
    "Train the templates, classifiers and yardsticks named in CONFIG for every "
    "signal region, N_sig and injection; write report.json, plots and the trained models "
    "to --out. Finished pieces are kept there: a re-run resumes where it stopped."
)


def run(args: argparse.Namespace) -> int:
    from resonant_ad.commands.execution import open_config
    from resonant_ad.report.outputs import write_study
    from resonant_ad.search.inputs import load_inputs
    from resonant_ad.search.study import run_study

    execution, config = open_config(args)
    inputs = load_inputs(config.data)
    with execution as executor:
        result = run_study(
            config, inputs, args.out, executor=executor, progress=not args.no_progress
        )
    print(write_study(result, args.out))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("run", help=HELP, description=DESCRIPTION)
    add_config_options(p, "TOML study configuration")
    add_run_options(p, run)
