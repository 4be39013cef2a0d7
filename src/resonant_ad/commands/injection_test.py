"""``resonant-ad injection-test CONFIG.toml --out DIR --mass M``: an artificial signal added
to the data, and whether each template learns it and the scan recovers it."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from resonant_ad.commands.execution import add_config_options, add_run_options

__all__ = ["register"]

HELP = "add an artificial bump to the data: does each template learn it, does the scan find it"
DESCRIPTION = (
    "Add an artificial signal to the data of CONFIG (a Gaussian bump in mjj at --mass with "
    "a compact cluster in the features, shaped after the data; no simulation needed), scan "
    "([scan] in CONFIG) with each method, and report each template's uptake of the bump "
    "(1: the template learned it, as one trained on the window itself should; 0: it did "
    "not, as a sideband interpolation should) and the scan's excess in the bump's window "
    "against the bump events passing each cut (injection_test.json and the scans in --out)."
)


def run(args: argparse.Namespace) -> int:
    from resonant_ad.commands.execution import open_scan
    from resonant_ad.data.bump import artificial_bump
    from resonant_ad.report.outputs import write_scans
    from resonant_ad.search.injection_test import run_injection_test
    from resonant_ad.search.scan import scan_data

    execution, config, inputs = open_scan(args, require_signal=False)
    # the data as a scan of CONFIG sees them: [scan] n_sig of a labelled file's signal in
    data = scan_data(config, inputs, None if len(inputs.signal) else 0)
    bump = artificial_bump(
        data,
        args.mass,
        args.width,
        significance=args.significance,
        quantiles=args.quantile,
        relative_spread=args.spread,
    )
    if args.n_events is not None:
        bump = dataclasses.replace(bump, n_events=args.n_events)
    methods = list(dict.fromkeys(args.method or ["data", *config.scan.methods]))
    with execution as executor:
        result = run_injection_test(
            config,
            data,
            bump,
            args.out,
            methods=methods,
            executor=executor,
            progress=not args.no_progress,
        )
    write_scans(list(result.scans), args.out)
    (Path(args.out) / "injection_test.json").write_text(json.dumps(result.to_dict(), indent=2))
    print(result.table())
    return 0


def register(sub: Any) -> None:
    from resonant_ad.methods.registry import names

    p = sub.add_parser("injection-test", help=HELP, description=DESCRIPTION)
    add_config_options(p, "TOML configuration ([data] and [scan] are used)")
    p.add_argument("--mass", type=float, required=True, help="the bump's mjj (TeV)")
    p.add_argument(
        "--width", type=float, help="its standard deviation in mjj (default 4%% of --mass)"
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument("--n-events", type=int, help="the bump's events")
    size.add_argument(
        "--significance",
        type=float,
        default=3.0,
        help="the bump's events for this S/sqrt(B) within --mass +- 2 --width (default 3)",
    )
    p.add_argument(
        "--quantile",
        type=float,
        default=0.3,
        help="each feature's centre: this quantile of the data near --mass (default 0.3)",
    )
    p.add_argument(
        "--spread",
        type=float,
        default=0.3,
        help="each feature's spread: this fraction of its standard deviation (default 0.3; "
        "a cluster of 0.1 was learned by no template on the dev sample)",
    )
    p.add_argument(
        "--method",
        action="append",
        choices=names(scan=True),
        help="a template method (repeatable; default: data and the [scan] methods)",
    )
    add_run_options(p, run)
