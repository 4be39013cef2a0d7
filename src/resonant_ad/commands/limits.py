"""``resonant-ad limits``: upper limits on the signal in each window of a finished scan."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from resonant_ad.commands.execution import add_run_options

__all__ = ["register"]

HELP = "95%% CL CLs upper limits (pyhf) on the signal in each window of a scan"
DESCRIPTION = (
    "Read SCAN/scan.json (written by 'resonant-ad scan') and write, per "
    "method, window and cut, the 95%% CL CLs upper limit on the signal events passing "
    "the cut (observed, and expected with its +-1 and +-2 sigma band) and pyhf's "
    "discovery significance to SCAN/limits.json, each counting experiment as a pyhf "
    "workspace to SCAN/workspaces/, and one limit plot per method and cut. Every limit is "
    "stored in SCAN/limits/ as it is made: a second run reads back what is done."
)


def run(args: argparse.Namespace) -> int:
    from resonant_ad.commands.execution import executor_from_args
    from resonant_ad.errors import InputError
    from resonant_ad.report.limit_plot import plot_limits
    from resonant_ad.search.counts import WindowResult
    from resonant_ad.search.limits import injected_efficiencies, scan_limits, workspace

    execution = executor_from_args(args)
    folder = Path(args.scan)
    scans = _read_scans(folder, InputError)
    injected = None
    if args.efficiency_from is not None:
        injected = {
            s["method"]: [WindowResult.from_dict(w) for w in s["windows"]]
            for s in _read_scans(Path(args.efficiency_from), InputError)
        }
    in_window = injected is not None or args.signal_efficiency != 1
    what = "in the window" if in_window else "passing the cut"
    out: list[dict[str, Any]] = []
    lines = []
    (folder / "workspaces").mkdir(exist_ok=True)
    with execution as executor:
        for scan in scans:
            method = scan["method"]
            windows = [WindowResult.from_dict(w) for w in scan["windows"]]
            efficiency: Any = args.signal_efficiency
            if injected is not None:
                if method not in injected:
                    raise InputError(f"{args.efficiency_from}: no scan with {method}")
                efficiency = injected_efficiencies(injected[method])
            done, missing = scan_limits(
                windows,
                folder,
                efficiencies=args.efficiency,
                signal_efficiency=efficiency,
                executor=executor,
                progress=not args.no_progress,
            )
            for w, c in missing:
                lo, hi = w.signal_region
                lines.append(
                    f"{method} [{lo:.2f}, {hi:.2f}] at {c.efficiency:g}: no injected signal "
                    "passed there, no efficiency to limit the window's signal with"
                )
            for _, c, lim in done:
                lo, hi = lim.signal_region
                ws = workspace(c, signal_efficiency=lim.signal_efficiency)
                name = f"{method}_{lo:.2f}-{hi:.2f}_eps{lim.efficiency:g}.json"
                (folder / "workspaces" / name).write_text(json.dumps(ws, indent=1))
            limits = [lim for _, _, lim in done]
            out.append({"method": method, "limits": [lim.to_dict() for lim in limits]})
            lines.extend(_table(method, what, limits))
            for eps in sorted({lim.efficiency for lim in limits}, reverse=True):
                plot_limits(
                    [lim for lim in limits if lim.efficiency == eps],
                    folder / f"limits_{method}_eps{eps:g}.png",
                    title=f"{method}, $N_{{sig}}$ = {scan['n_sig']}",
                )
    (folder / "limits.json").write_text(json.dumps({"scans": out}, indent=2))
    print("\n".join(lines))
    return 0


def _table(method: str, what: str, limits: list[Any]) -> list[str]:
    lines = [
        f"limits with {method}: 95% CL upper limits on the signal ({what})",
        f"  {'window [TeV]':<14} {'cut':>7} {'observed':>9} {'expected':>9} "
        f"{'-1 sigma':>9} {'+1 sigma':>9} {'Z':>6}",
    ]
    for lim in limits:
        lo, hi = lim.signal_region
        e = lim.expected
        lines.append(
            f"  [{lo:.2f}, {hi:.2f}]   {lim.efficiency:>7g} {lim.observed:>9.1f} "
            f"{e[2]:>9.1f} {e[1]:>9.1f} {e[3]:>9.1f} {lim.discovery_significance:>+6.2f}"
        )
    return lines


def _read_scans(folder: Path, error: type[Exception]) -> list[dict[str, Any]]:
    path = folder / "scan.json"
    if not path.is_file():
        raise error(f"{path}: no scan.json there (run 'resonant-ad scan' first)")
    scans: list[dict[str, Any]] = json.loads(path.read_text())["scans"]
    return scans


def register(sub: Any) -> None:
    p = sub.add_parser("limits", help=HELP, description=DESCRIPTION)
    p.add_argument("scan", help="the folder of a finished scan (holding scan.json)")
    p.add_argument(
        "--efficiency",
        type=float,
        action="append",
        help="only the cut at this template efficiency (repeatable; default: every cut)",
    )
    eff = p.add_mutually_exclusive_group()
    eff.add_argument(
        "--signal-efficiency",
        type=float,
        default=1.0,
        help="the fraction of the window's signal that passes the cut (measured by injection): "
        "the limits are then on the signal events in the window (default 1: on those passing)",
    )
    eff.add_argument(
        "--efficiency-from",
        metavar="INJECTED_SCAN",
        help="the folder of a scan with the signal hypothesis injected (same windows and "
        "cuts): each window's cut takes its measured signal efficiency from there, and the "
        "limits are on the signal events in the window",
    )
    add_run_options(p, run)
