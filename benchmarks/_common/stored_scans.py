"""The stored scans of ``scan/sliding_window.py`` and what the scan benchmarks read from them:
the scan geometry, the windows inside a range, the pull of an estimate against the true
background count and the largest Z with and without signal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from resonant_ad.search.counts import CutCount, WindowResult

RANGES = ((2.6, 5.0), (3.0, 4.6))
"""The scan ranges: each scan runs over the first; the second is its windows inside it."""
WIDTH, STEP, MARGIN = 0.4, 0.1, 0.2
"""The windows' width, their step and the margins at the ends of a range (TeV)."""
SIGNAL_MASS = 3.5
"""The injected signal's resonance mass (TeV)."""


def read_scan(path: Path) -> dict[str, Any]:
    """One stored scan, its windows also as :class:`WindowResult` (``window_results``)."""
    d = json.loads(path.read_text())
    d["window_results"] = [WindowResult.from_dict(w) for w in d["windows"]]
    return d


def read_scans(folder: Path) -> dict[str, dict[str, Any]]:
    """Every stored scan in ``folder`` by name (``scan_nsigN_rR``)."""
    return {p.stem: read_scan(p) for p in sorted(folder.glob("scan_nsig*_r*.json"))}


def inside(windows: list[WindowResult], m_range: tuple[float, float]) -> list[WindowResult]:
    """The windows a scan over ``m_range`` holds (its margins left out)."""
    return [
        w
        for w in windows
        if w.signal_region[0] >= m_range[0] + MARGIN - 1e-9
        and w.signal_region[1] <= m_range[1] - MARGIN + 1e-9
    ]


def pull(c: CutCount) -> float:
    """``(expected - true background) / sqrt(uncertainty^2 + dispersion * expected)``: the
    window's own Poisson noise is in the true count (an average over several cuts fluctuates
    by its ``dispersion`` times less)."""
    noise = c.expected_uncertainty**2 + c.dispersion * c.expected
    return float((c.expected - c.true_background) / np.sqrt(noise))


def signal_z(windows: list[WindowResult]) -> float:
    """The largest Z over the cuts of the windows holding :data:`SIGNAL_MASS`."""
    return max(
        c.significance
        for w in windows
        if w.signal_region[0] <= SIGNAL_MASS <= w.signal_region[1]
        for c in w.counts
    )


def largest_abs_z(windows: list[WindowResult]) -> float:
    """The Z of largest magnitude over every window and cut."""
    return max((c.significance for w in windows for c in w.counts), key=abs)
