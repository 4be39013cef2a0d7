"""``resonant-ad scan CONFIG.toml --out DIR``: the sliding-window bump hunt."""

from __future__ import annotations

import argparse
from typing import Any

from resonant_ad.commands.execution import add_config_options, add_run_options

__all__ = ["register"]

HELP = "sliding-window search over mjj with one template method"
DESCRIPTION = (
    "Slide signal-region windows over mjj ([scan] in CONFIG), make a template "
    "and a classifier in each, cut at fixed template efficiencies and report the observed "
    "vs expected counts and their significance (scan.json, scan.png in --out)."
)


def run(args: argparse.Namespace) -> int:
    from resonant_ad.commands.execution import open_scan
    from resonant_ad.errors import InputError
    from resonant_ad.report.outputs import write_scans
    from resonant_ad.search.scan import run_scans, scan_data

    if args.n_sig is not None and args.n_sig < 0:
        raise InputError(f"--n-sig {args.n_sig}: the number of signal events must be >= 0")
    execution, config, inputs = open_scan(args, require_signal=False)
    methods = [args.method] if args.method else list(config.scan.methods)
    data = scan_data(config, inputs, args.n_sig)
    if args.replica is not None:
        from resonant_ad.data.injection import poisson_replica

        data = poisson_replica(data, args.replica)
    with execution as executor:
        results = run_scans(
            config,
            data,
            args.out,
            methods=methods,
            executor=executor,
            progress=not args.no_progress,
        )
    print(write_scans(results, args.out))
    return 0


def register(sub: Any) -> None:
    from resonant_ad.methods.registry import names

    p = sub.add_parser("scan", help=HELP, description=DESCRIPTION)
    add_config_options(p, "TOML configuration ([data] and [scan] are used)")
    p.add_argument("--method", choices=names(scan=True), help="template method (default: [scan])")
    p.add_argument("--n-sig", type=int, help="signal events to inject (default: [scan] n_sig)")
    p.add_argument(
        "--replica",
        type=int,
        help="scan a Poisson-bootstrap replica of the data instead (event weights drawn from "
        "Poisson(1), seeded by this number): pseudo-experiments with the data's own "
        "fluctuations, e.g. for the global significance",
    )
    add_run_options(p, run)
