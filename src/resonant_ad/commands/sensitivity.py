"""``resonant-ad sensitivity CONFIG.toml --out DIR``: the scan's significance at the signal's
mass against the injected signal."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from resonant_ad.commands.execution import add_config_options, add_run_options

__all__ = ["register"]

HELP = "the scan's Z at the signal mass against the injected signal (several injections)"
DESCRIPTION = (
    "For each N_sig of --n-sig and each of --injections draws of the signal, "
    "scan ([scan] in CONFIG) the background plus the injected signal with each method, "
    "and report the median and 16-84%% band of the significance in the windows holding "
    "the signal's mass against N_sig and S/sqrt(B) (sensitivity.json, sensitivity.png "
    "and each scan's folder in --out)."
)


def run(args: argparse.Namespace) -> int:
    from resonant_ad.commands.execution import open_scan
    from resonant_ad.report.sensitivity_plot import plot_sensitivity
    from resonant_ad.search.sensitivity import run_sensitivity, summarise

    execution, config, inputs = open_scan(args)
    methods = args.method or list(config.scan.methods)
    with execution as executor:
        points = run_sensitivity(
            config,
            inputs,
            args.out,
            methods=methods,
            n_sigs=args.n_sig,
            injections=args.injections,
            signal_mass=args.signal_mass,
            executor=executor,
            progress=not args.no_progress,
        )
    rows = summarise(points)
    out = Path(args.out)
    (out / "sensitivity.json").write_text(
        json.dumps({"signal_mass": args.signal_mass, "rows": rows}, indent=2)
    )
    plot_sensitivity(rows, out / "sensitivity.png")
    lines = [f"sensitivity at {args.signal_mass:g} TeV: confirmed Z (median, 16-84%)"]
    for r in rows:
        z, s = r["confirmed_z"], r["s_over_sqrt_b"]
        lines.append(
            f"  {r['method']:<14} N_sig {r['n_sig']:>5}  S/sqrt(B) {s['median']:5.2f}  "
            f"Z {z['median']:+6.2f} ({z['p16']:+.2f}, {z['p84']:+.2f})  "
            f"[{r['injections']} injections]"
        )
    print("\n".join(lines))
    return 0


def register(sub: Any) -> None:
    from resonant_ad.methods.registry import names

    p = sub.add_parser("sensitivity", help=HELP, description=DESCRIPTION)
    add_config_options(p, "TOML configuration ([data] and [scan] are used)")
    p.add_argument(
        "--method",
        action="append",
        choices=names(scan=True),
        help="template method (repeatable; default: [scan] methods)",
    )
    p.add_argument(
        "--n-sig",
        type=int,
        nargs="+",
        default=[0, 150, 300, 450, 700, 1000],
        help="the injected signal sizes (default 0 150 300 450 700 1000)",
    )
    p.add_argument("--injections", type=int, default=3, help="draws of the signal per N_sig")
    p.add_argument(
        "--signal-mass", type=float, required=True, help="the signal's resonance mass (TeV)"
    )
    add_run_options(p, run)
