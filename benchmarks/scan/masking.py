"""Does the signal hide itself in the scan's background estimate? A diagnostic on the stored
scans of ``sliding_window.py`` that uses the labels, so it is never a rule of the estimate.

For every stored scan with signal, the estimate is made twice over 2.6-5.0 TeV: as the scan
makes it, and with the windows whose tightest cut passes true signal of at least 20% of the
true background there excluded from the references from the start (as if the excess
exclusion had found them at once). Printed per scan: the largest Z in a window holding
3.5 TeV, the expectation there, its uncertainty and the ``scatter`` part of it, both ways.
Where the second is far higher, the signal windows, left among the references because their
first Z stayed below the exclusion threshold, inflated the windows' scatter of ``kappa``.

Usage: ``python benchmarks/scan/masking.py [FOLDER ...]`` (default: the committed scans with
10 and with 40 classifier members); writes ``scan/results/masking.txt``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from resonant_ad.search.background import calibrated_expectations
from resonant_ad.search.counts import WindowResult

SIGNAL_SHARE = 0.2
"""A window counts as a signal window where the true signal passing its tightest cut is at
least this fraction of the true background passing it."""


def best(windows: list[WindowResult], start: set[int]) -> str:
    """The largest Z in a window holding 3.5 TeV, with the windows ``start`` excluded from
    the references from the start."""
    out = calibrated_expectations(windows, 0.4, also_excluded=start)
    z, region, c = max(
        (c.significance, w.signal_region, c)
        for w in out
        if w.signal_region[0] <= 3.5 <= w.signal_region[1]
        for c in w.counts
    )
    return (
        f"Z {z:+6.2f} in [{region[0]:g}, {region[1]:g}] at eps {c.efficiency:g}: expected "
        f"{c.expected:6.1f} +- {c.expected_uncertainty:5.1f} "
        f"(scatter {c.uncertainty_parts['scatter']:5.1f})"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "folders",
        nargs="*",
        default=[
            "benchmarks/scan/results/raw_scans",
            "benchmarks/scan/results/raw_scans_40_members",
        ],
    )
    p.add_argument("--out", default="benchmarks/scan/results/masking.txt")
    args = p.parse_args()
    lines = [
        "bench_scan_masking: the largest Z in a window holding 3.5 TeV over 2.6-5.0 TeV, as the "
        "scan estimates it and with the signal windows (true signal >= 20% of the true "
        "background at the tightest cut; labels, a diagnostic only) excluded from the start "
        "(benchmarks/scan/masking.py)",
    ]
    for folder in args.folders:
        lines.append(f"\n{folder}:")
        for path in sorted(Path(folder).glob("scan_nsig*_r*.json")):
            d = json.loads(path.read_text())
            if d["n_sig"] == 0:
                continue
            windows = [WindowResult.from_dict(w) for w in d["windows"]]
            signal = {
                i
                for i, w in enumerate(windows)
                if w.counts[-1].true_signal >= SIGNAL_SHARE * max(w.counts[-1].true_background, 1)
            }
            lines.append(
                f"  {path.stem}: signal windows from "
                f"{sorted(windows[i].signal_region[0] for i in signal)} TeV"
            )
            lines.append(f"    as the scan makes it:       {best(windows, set())}")
            lines.append(f"    signal windows excluded:    {best(windows, signal)}")
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
