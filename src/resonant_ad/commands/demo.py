"""``resonant-ad demo``: SIGMA on the bundled simulated dataset, end to end, in minutes."""

from __future__ import annotations

import argparse
from typing import Any

from resonant_ad.commands.execution import add_run_options
from resonant_ad.resources import demo_config

__all__ = ["DEMO_CONFIG", "register"]

DEMO_CONFIG = demo_config()
"""The demo's settings, a study config like any other (package data, next to its dataset)."""

HELP = "SIGMA end to end on the bundled simulated data (a few minutes on a laptop CPU)"
DESCRIPTION = (
    "Inject signal into the bundled simulated dataset, train SIGMA's v_data with "
    "the cpu preset, make every template for the SR 3.3-3.7 TeV, train the classifiers and "
    f"yardsticks, and run a short sliding-window scan. Settings: {DEMO_CONFIG}."
)


def run(args: argparse.Namespace) -> int:
    from resonant_ad.commands.execution import open_config
    from resonant_ad.search.demo import run_demo
    from resonant_ad.search.inputs import load_inputs

    execution, config = open_config(args)
    inputs = load_inputs(config.data)
    with execution as executor:
        table = run_demo(config, inputs, args.out, executor=executor, progress=not args.no_progress)
    print(table)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help=HELP, description=DESCRIPTION)
    p.add_argument("--out", default="demo-output", help="output folder (default demo-output)")
    p.add_argument("--config", default=str(DEMO_CONFIG), help="another study config to demo")
    add_run_options(p, run)
