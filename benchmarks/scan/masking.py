"""Does the signal hide itself in the scan's background estimate? A diagnostic on the stored
scans of ``sliding_window.py`` that uses the labels, so it is never a rule of the estimate.

For every stored scan with signal, the estimate is made twice over 2.6-5.0 TeV: as the scan
makes it, and with the windows whose tightest cut passes true signal of at least 20% of the
true background there excluded from the references from the start (as if the excess
exclusion had found them at once). Printed per scan: the largest Z in a window holding
3.5 TeV, the expectation there, its uncertainty and the ``scatter`` part of it, both ways.
Where the second is far higher, the signal windows, left among the references because their
first Z stayed below the exclusion threshold, inflated the windows' scatter of ``kappa``.

The second part asks whether a rule without labels gets there: every window's estimate made
with the windows within half a window width of it excluded from the start (so, grown, every
window sharing more than half of one of them: the windows that overlap it), as a bump hunt
masks the window it tests. Printed per folder and range, over all its scans (with and
without signal): the pulls of the estimate against the true background count, the largest Z
in a window holding 3.5 TeV with signal and the largest |Z| without, both ways.

Usage: ``python benchmarks/scan/masking.py [FOLDER ...]`` (default: the committed scans with
10 and with 40 classifier members); writes ``scan/results/masking.txt``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common.stored_scans import (
    RANGES,
    SIGNAL_MASS,
    WIDTH,
    inside,
    largest_abs_z,
    pull,
    read_scans,
    signal_z,
)
from resonant_ad.search.background import calibrated_expectations
from resonant_ad.search.counts import WindowResult

SIGNAL_SHARE = 0.2
"""A window counts as a signal window where the true signal passing its tightest cut is at
least this fraction of the true background passing it."""


def best(windows: list[WindowResult], start: set[int]) -> str:
    """The largest Z in a window holding the signal's mass, with the windows ``start``
    excluded from the references from the start."""
    out = calibrated_expectations(windows, WIDTH, also_excluded=start)
    z, region, c = max(
        (c.significance, w.signal_region, c)
        for w in out
        if w.signal_region[0] <= SIGNAL_MASS <= w.signal_region[1]
        for c in w.counts
    )
    return (
        f"Z {z:+6.2f} in [{region[0]:g}, {region[1]:g}] at eps {c.efficiency:g}: expected "
        f"{c.expected:6.1f} +- {c.expected_uncertainty:5.1f} "
        f"(scatter {c.uncertainty_parts['scatter']:5.1f})"
    )


def masked(windows: list[WindowResult]) -> list[WindowResult]:
    """Every window's estimate made with the windows within half a width of it excluded from
    the start."""
    centres = np.array([w.center for w in windows])
    return [
        calibrated_expectations(
            windows, WIDTH, also_excluded=set(np.flatnonzero(np.abs(centres - c) < WIDTH / 2))
        )[i]
        for i, c in enumerate(centres)
    ]


def label_free(scans: dict[str, dict[str, Any]]) -> list[str]:
    """Pulls, Z with signal and largest |Z| without, as the scan estimates and masked."""
    lines = []
    for m_range in RANGES:
        for name, estimate in (
            ("as the scan makes it", lambda w: calibrated_expectations(w, WIDTH)),
            ("each window masked  ", masked),
        ):
            pulls, signal, null = [], [], []
            for d in scans.values():
                out = estimate(inside(d["window_results"], m_range))
                pulls += [pull(c) for w in out for c in w.counts]
                if d["n_sig"]:
                    signal.append(signal_z(out))
                else:
                    null.append(largest_abs_z(out))
            p, (lo, hi) = np.array(pulls), m_range
            lines.append(
                f"  {lo}-{hi} TeV, {name}: pulls mean {p.mean():+.2f}, std {p.std(ddof=1):.2f}, "
                f"beyond +-3 {100 * np.mean(np.abs(p) > 3):.1f}%; with signal Z "
                + " ".join(f"{z:+.2f}" for z in signal)
                + f" (>= 5 in {sum(z >= 5 for z in signal)} of {len(signal)}); without, largest "
                "|Z| "
                + " ".join(f"{z:+.2f}" for z in null)
                + f" (> 3.5 in {sum(abs(z) > 3.5 for z in null)} of {len(null)})"
            )
    return lines


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
    stored = {folder: read_scans(Path(folder)) for folder in args.folders}
    for folder, scans in stored.items():
        lines.append(f"\n{folder}:")
        for name, d in scans.items():
            if d["n_sig"] == 0:
                continue
            windows = d["window_results"]
            signal = {
                i
                for i, w in enumerate(windows)
                if w.counts[-1].true_signal >= SIGNAL_SHARE * max(w.counts[-1].true_background, 1)
            }
            lines.append(
                f"  {name}: signal windows from "
                f"{sorted(windows[i].signal_region[0] for i in signal)} TeV"
            )
            lines.append(f"    as the scan makes it:       {best(windows, set())}")
            lines.append(f"    signal windows excluded:    {best(windows, signal)}")
    lines.append(
        "\nwithout labels: every window's estimate made without the windows that overlap it"
    )
    for folder, scans in stored.items():
        lines.append(f"\n{folder} ({len(scans)} scans):")
        lines += label_free(scans)
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
