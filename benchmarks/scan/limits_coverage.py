"""Do the scan's upper limits cover the signal, and does pyhf's significance agree with the
scan's?

For every stored scan of ``scan/sliding_window.py`` (Poisson-bootstrap replicas of the dev
sample, without signal and with 450 or 1000 signal events; their estimates made by the
current code over 2.6-5.0 TeV): at every window and cut that passed signal, the 95% CL
CLs upper limit on the signal events passing the cut (:mod:`resonant_ad.search.limits`,
pyhf, asymptotic) against the true number of signal events that passed (the labels; a cut
without signal is covered by construction); at every cut with an excess, pyhf's discovery
significance against the scan's ``Z``. Coverage is also counted over the tightest cut of the windows
passing at least 20 signal events. The limits are tasks of the engine
(:func:`~resonant_ad.search.limits.scan_limits`), run on ``--workers`` processes and stored
in ``--workdir``.

Usage: ``python benchmarks/scan/limits_coverage.py --scans
benchmarks/scan/results/raw_scans,benchmarks/scan/results/raw_scans_nsig1000`` (one set of
scans per argument, its folders joined by commas; one line per set; ``--out`` appends).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common.stored_scans import RANGES, WIDTH, inside, read_scans
from resonant_ad.search.background import calibrated_expectations
from resonant_ad.search.engine import open_executor
from resonant_ad.search.limits import discovery_significance, scan_limits, workspace
from resonant_ad.search.scan_result import confirmed_significances

HEADER = (
    "bench_limits_coverage: the 95% CL CLs upper limits (pyhf, asymptotic) of the stored "
    "dev-sample scans against the true signal passing each cut, and pyhf's discovery Z "
    "against the scan's (benchmarks/scan/limits_coverage.py; estimates over 2.6-5.0 TeV by "
    "the current code)"
)


def coverage(folders: list[Path], workdir: Path, executor: Any) -> str:
    t0 = time.perf_counter()
    covered, dz, tight = [], [], []
    n_limits = 0
    n_sigs: dict[int, int] = {}
    scans = {f"{f.name}/{k}": v for f in folders for k, v in read_scans(f).items()}
    for name, scan in scans.items():
        windows = confirmed_significances(
            calibrated_expectations(inside(scan["window_results"], RANGES[0]), WIDTH), WIDTH
        )
        # the injected N_sig (the scan's own n_sig is the replica's weighted signal)
        nominal = int(name.rsplit("/", 1)[1].split("_nsig")[1].split("_")[0])
        n_sigs[nominal] = n_sigs.get(nominal, 0) + 1
        for w in windows:
            for c in w.counts:
                if c.significance > 0:
                    z = discovery_significance(workspace(c))
                    dz.append((z - c.significance, c.significance))
        # a limit covers a true 0 by construction: the cuts that passed signal only
        with_signal = [
            dataclasses.replace(w, counts=tuple(c for c in w.counts if c.true_signal > 0))
            for w in windows
        ]
        done, _ = scan_limits(with_signal, workdir / name, executor=executor)
        for w, c, lim in done:
            n_limits += 1
            covered.append(lim.observed >= c.true_signal)
            if c.efficiency == min(x.efficiency for x in w.counts) and c.true_signal >= 20:
                tight.append(lim.observed >= c.true_signal)
    cov = np.array(covered)
    dz_a = np.abs(np.array([d for d, _ in dz]))
    below = np.array([z < 5 for _, z in dz])
    lines = [
        f"{', '.join(str(f) for f in folders)}: {len(scans)} scans ("
        + ", ".join(f"{n} with N_sig {k}" for k, n in sorted(n_sigs.items()))
        + f"), {n_limits} limits, {len(dz_a)} discovery Z, {time.perf_counter() - t0:.0f} s",
        f"  cuts that passed signal: {len(cov)}; the 95% upper limit covers the true signal in "
        f"{cov.mean():.1%} (target >= 90%)",
        f"  tightest cut of the windows passing >= 20 signal events: covered in "
        f"{np.mean(tight):.1%} of {len(tight)}",
        f"  pyhf's discovery Z - the scan's Z where Z > 0 ({len(dz_a)} cuts): median "
        f"{np.median(dz_a):.3f}, 95% quantile {np.quantile(dz_a, 0.95):.3f}, largest "
        f"{dz_a.max():.3f}; within 0.2 in {np.mean(dz_a <= 0.2):.1%}; where the scan's Z < 5 "
        f"({below.sum()} cuts) in {np.mean(dz_a[below] <= 0.2):.1%}, where Z >= 5 "
        f"({(~below).sum()}) in {np.mean(dz_a[~below] <= 0.2):.1%}",
    ]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--scans", nargs="+", required=True)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--workdir", type=Path, default=Path("/tmp/limits_coverage"))
    args = p.parse_args()
    if args.out is not None and not args.out.exists():
        args.out.write_text(HEADER + "\n")
    with open_executor(args.workers) as executor:
        for group in args.scans:
            folders = [Path(f) for f in group.split(",")]
            text = coverage(folders, args.workdir, executor)
            print(text, flush=True)
            if args.out is not None:
                with args.out.open("a") as f:
                    f.write(text + "\n")


if __name__ == "__main__":
    main()
