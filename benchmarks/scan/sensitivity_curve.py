"""The scan's sensitivity on the dev sample: its significance at 3.5 TeV against the injected
signal, by injection (``resonant-ad sensitivity``'s library calls).

Pythia dev sample, the scan of ``sliding_window.py`` (2.6-5.0 TeV, windows of 0.4 TeV every
0.1 TeV, cuts at template efficiency 0.1 / 0.01 / 0.001, ``cpu`` preset, 60 epochs, 10
classifier members, templates of 4 times the data), for each ``N_sig`` of ``--n-sig`` and
``--injections`` draws of the signal, with each method of ``--methods`` (those sharing one
``v_data`` training cost it once per injection). Prints and writes the median and 16-84%
band of the largest ``Z`` and confirmed ``Z`` in the windows holding 3.5 TeV, and the
injected ``S / sqrt(B)``.

Usage: ``python benchmarks/scan/sensitivity_curve.py --workers 2`` (a run folder
``--workdir`` keeps every scan: an interrupted run resumes). ``--merge FOLDER`` adds the
rows of an earlier output (other methods on the same injections: the draws depend on the
seed, ``N_sig`` and the injection only) to the table and the plot, with its header lines.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common.stored_scans import RANGES, SIGNAL_MASS
from resonant_ad.config import DataConfig
from resonant_ad.report.sensitivity_plot import plot_sensitivity
from resonant_ad.search.engine import open_executor
from resonant_ad.search.inputs import load_inputs
from resonant_ad.search.sensitivity import run_sensitivity, summarise
from scan.sliding_window import DEFAULT_SETTINGS, default_config


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-dir", default="../shared/data/pythia-dev")
    p.add_argument("--methods", nargs="+", default=["sigma-context", "sigma-poly"])
    p.add_argument("--n-sig", type=int, nargs="+", default=[0, 450, 1000])
    p.add_argument("--injections", type=int, default=3)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--workdir", default="/tmp/scan_sensitivity")
    p.add_argument("--out", default="benchmarks/scan/results/sensitivity_curve")
    p.add_argument("--merge", type=Path, help="an earlier output folder whose rows to keep")
    args = p.parse_args()
    earlier: list[dict] = []
    earlier_header: list[str] = []
    if args.merge is not None:
        earlier = json.loads((args.merge / "sensitivity.json").read_text())["rows"]
        earlier_header = (args.merge / "summary.txt").read_text().splitlines()[:2]

    config = default_config()
    inputs = load_inputs(DataConfig(events=Path(args.data_dir) / "events.h5"))
    t0 = time.perf_counter()
    with open_executor(args.workers) as executor:
        points = run_sensitivity(
            config,
            inputs,
            args.workdir,
            methods=args.methods,
            n_sigs=args.n_sig,
            injections=args.injections,
            signal_mass=SIGNAL_MASS,
            executor=executor,
            progress=False,
        )
    rows = [r for r in earlier if r["method"] not in args.methods] + summarise(points)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        f"bench_scan_sensitivity: Pythia dev sample, the scan of sliding_window.py over "
        f"{RANGES[0][0]}-{RANGES[0][1]} TeV ({DEFAULT_SETTINGS}); {args.injections} "
        f"injections per N_sig; Z at "
        f"{SIGNAL_MASS} TeV (benchmarks/scan/sensitivity_curve.py)",
        f"machine: {platform.machine()}, {args.workers} worker(s); wall time "
        f"{time.perf_counter() - t0:.0f} s ({', '.join(args.methods)})",
        *(f"merged from {args.merge}: {line}" for line in earlier_header[1:]),
        f"{'method':<14} {'N_sig':>5} {'S/sqrt(B)':>9} {'Z median (16-84%)':>22} "
        f"{'confirmed Z (16-84%)':>24}  per injection (Z / confirmed)",
    ]
    for r in rows:
        z, c, s = r["z"], r["confirmed_z"], r["s_over_sqrt_b"]
        each = ", ".join(f"{q['z']:+.2f}/{q['confirmed_z']:+.2f}" for q in r["points"])
        lines.append(
            f"{r['method']:<14} {r['n_sig']:>5} {s['median']:>9.2f} "
            f"{z['median']:>+8.2f} ({z['p16']:+.2f}, {z['p84']:+.2f}) "
            f"{c['median']:>+8.2f} ({c['p16']:+.2f}, {c['p84']:+.2f})  {each}"
        )
    text = "\n".join(lines)
    print(text)
    (out / "summary.txt").write_text(text + "\n")
    (out / "sensitivity.json").write_text(json.dumps({"rows": rows}, indent=1))
    plot_sensitivity(rows, out / "sensitivity.png")


if __name__ == "__main__":
    main()
