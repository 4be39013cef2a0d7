"""Do the scan's upper limits cover the signal, and does pyhf's significance agree with the
scan's?

For every stored scan of ``scan/sliding_window.py`` (Poisson-bootstrap replicas of the dev
sample, with and without 450 signal events; their estimates made by the current code over
2.6-5.0 TeV), every window and cut: the 95% CL CLs upper limit on the signal events passing
the cut (:mod:`resonant_ad.search.limits`, pyhf, asymptotic) against the true number of
signal events that passed (the labels), and pyhf's discovery significance against the
scan's ``Z``. Coverage is counted where signal passed (the background-only cuts cover a true
0 by construction) and over the signal windows' tightest cut.

Usage: ``python benchmarks/scan/limits_coverage.py --scans benchmarks/scan/results/raw_scans``
(one line per folder; ``--out`` appends).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common.stored_scans import RANGES, WIDTH, inside, read_scans
from resonant_ad.search.background import calibrated_expectations
from resonant_ad.search.limits import upper_limit
from resonant_ad.search.scan_result import confirmed_significances


def coverage(folder: Path) -> str:
    t0 = time.perf_counter()
    covered, dz, tight = [], [], []
    n_scans = n_limits = 0
    for name, scan in read_scans(folder).items():
        windows = confirmed_significances(
            calibrated_expectations(inside(scan["window_results"], RANGES[0]), WIDTH), WIDTH
        )
        n_scans += 1
        for w in windows:
            for c in w.counts:
                lim = upper_limit(c, w.signal_region)
                n_limits += 1
                if c.true_signal > 0:
                    covered.append(lim.observed >= c.true_signal)
                if c.significance > 0:
                    dz.append(lim.discovery_significance - c.significance)
                if c.efficiency == min(x.efficiency for x in w.counts) and c.true_signal >= 20:
                    tight.append((name, w.signal_region, c.true_signal, lim.observed))
    cov = np.array(covered)
    dz_a = np.abs(np.array(dz))
    lines = [
        f"{folder}: {n_scans} scans, {n_limits} limits (window x cut), "
        f"{time.perf_counter() - t0:.0f} s",
        f"  cuts that passed signal: {len(cov)}; the 95% upper limit covers the true signal in "
        f"{cov.mean():.1%} (target >= 90%)",
        f"  tightest cut of the windows passing >= 20 signal events: covered in "
        f"{np.mean([u >= s for *_, s, u in tight]):.1%} of {len(tight)}",
        f"  pyhf's discovery Z - the scan's Z where Z > 0 ({len(dz_a)} cuts): median "
        f"{np.median(dz_a):.3f}, 95% quantile {np.quantile(dz_a, 0.95):.3f}, largest "
        f"{dz_a.max():.3f}; within 0.2 in {np.mean(dz_a <= 0.2):.1%}",
    ]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--scans", nargs="+", type=Path, required=True)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    for folder in args.scans:
        text = coverage(folder)
        print(text, flush=True)
        if args.out is not None:
            with args.out.open("a") as f:
                f.write(text + "\n")


if __name__ == "__main__":
    main()
