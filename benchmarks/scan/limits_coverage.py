"""Do the scan's upper limits cover the signal, and does pyhf's significance agree with the
scan's?

For every stored scan of ``scan/sliding_window.py`` (Poisson-bootstrap replicas of the dev
sample, with and without 450 signal events; their estimates made by the current code over
2.6-5.0 TeV): at every window and cut that passed signal, the 95% CL CLs upper limit on
the signal events passing the cut (:mod:`resonant_ad.search.limits`, pyhf, asymptotic)
against the true number of signal events that passed (the labels; a cut without signal is
covered by construction); at every cut with an excess, pyhf's discovery significance
against the scan's ``Z``. Coverage is also counted over the tightest cut of the windows
passing at least 20 signal events.

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
from resonant_ad.search.limits import discovery_significance, upper_limit, workspace
from resonant_ad.search.scan_result import confirmed_significances

HEADER = (
    "bench_limits_coverage: the 95% CL CLs upper limits (pyhf, asymptotic) of the stored "
    "dev-sample scans against the true signal passing each cut, and pyhf's discovery Z "
    "against the scan's (benchmarks/scan/limits_coverage.py; estimates over 2.6-5.0 TeV by "
    "the current code)"
)


def coverage(folder: Path) -> str:
    t0 = time.perf_counter()
    covered, dz, tight = [], [], []
    n_scans = n_limits = 0
    for scan in read_scans(folder).values():
        windows = confirmed_significances(
            calibrated_expectations(inside(scan["window_results"], RANGES[0]), WIDTH), WIDTH
        )
        n_scans += 1
        for w in windows:
            for c in w.counts:
                if c.significance > 0:
                    z = discovery_significance(workspace(c))
                    dz.append(z - c.significance)
                if c.true_signal <= 0:
                    continue  # a limit covers a true 0 by construction
                lim = upper_limit(c, w.signal_region)
                n_limits += 1
                covered.append(lim.observed >= c.true_signal)
                if c.efficiency == min(x.efficiency for x in w.counts) and c.true_signal >= 20:
                    tight.append(lim.observed >= c.true_signal)
    cov = np.array(covered)
    dz_a = np.abs(np.array(dz))
    lines = [
        f"{folder}: {n_scans} scans, {n_limits} limits, {len(dz_a)} discovery Z, "
        f"{time.perf_counter() - t0:.0f} s",
        f"  cuts that passed signal: {len(cov)}; the 95% upper limit covers the true signal in "
        f"{cov.mean():.1%} (target >= 90%)",
        f"  tightest cut of the windows passing >= 20 signal events: covered in "
        f"{np.mean(tight):.1%} of {len(tight)}",
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
    if args.out is not None and not args.out.exists():
        args.out.write_text(HEADER + "\n")
    for folder in args.scans:
        text = coverage(folder)
        print(text, flush=True)
        if args.out is not None:
            with args.out.open("a") as f:
                f.write(text + "\n")


if __name__ == "__main__":
    main()
