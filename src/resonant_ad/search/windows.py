"""The windows of a sliding-window scan: which of ``[scan]``'s windows hold events enough,
whether its range leaves every window references to calibrate on, and each window's seed."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from resonant_ad.config import StudyConfig
from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion, sliding_windows
from resonant_ad.errors import InputError
from resonant_ad.search.background import check_references

__all__ = [
    "MIN_SIDEBAND_EVENTS",
    "MIN_WINDOW_EVENTS",
    "check_scan_range",
    "scan_regions",
    "window_seed",
]

log = logging.getLogger(__name__)

MIN_WINDOW_EVENTS = 500
"""Windows with fewer data events than this are skipped."""
MIN_SIDEBAND_EVENTS = 250
"""Windows whose sidebands' near halves hold fewer events than this are skipped."""


def window_seed(base: int, window: SignalRegion) -> int:
    """The base seed of a window's template and classifier: the scan's seed and the window.

    >>> window_seed(0, SignalRegion(3.3, 3.7)) != window_seed(0, SignalRegion(3.4, 3.8))
    True
    """
    parts = [base, round(window.lo * 1e6), round(window.hi * 1e6)]
    return int(np.random.SeedSequence(parts).generate_state(1)[0])


def check_scan_range(config: StudyConfig, windows: Sequence[SignalRegion] | None = None) -> None:
    """Refuse, in one line and before any training, a scan whose range leaves some window
    too few others to calibrate its background on (:func:`.background.check_references`),
    or whose classifier has too few members to score out of fold; ``windows`` defaults to
    all windows of ``[scan]``."""
    if config.classifier.ensemble_size < 2:
        raise InputError(
            f"[classifier] ensemble_size = {config.classifier.ensemble_size}: the scan scores "
            "each window's events out of fold, by members trained without them; it needs 2"
        )
    sc = config.scan
    if sc.background != "calibrated":
        return
    if windows is None:
        windows = sliding_windows(sc.m_min, sc.m_max, sc.width, sc.step, margin=sc.margin)
    what = f"[scan] {sc.m_min:g}-{sc.m_max:g} TeV"
    check_references([0.5 * (w.lo + w.hi) for w in windows], sc.width, what)


def scan_regions(config: StudyConfig, data: Events) -> tuple[list[SignalRegion], list[str]]:
    """The windows of ``[scan]`` with events enough, and why the others were skipped."""
    sc = config.scan
    skipped: list[str] = []
    windows = []
    for w in sliding_windows(sc.m_min, sc.m_max, sc.width, sc.step, margin=sc.margin):
        try:
            w.check(data.m, min_events=MIN_WINDOW_EVENTS)
            # the near half of each sideband sets the expectation: it needs the events
            half = 0.5 * w.width
            for name, band in (("left", (w.lo - half, w.lo)), ("right", (w.hi, w.hi + half))):
                n_band = int(np.sum((data.m >= band[0]) & (data.m <= band[1])))
                if n_band < MIN_SIDEBAND_EVENTS:
                    raise InputError(
                        f"{w}: the near half of its {name} sideband [{band[0]:.3g}, "
                        f"{band[1]:.3g}] TeV holds {n_band} events, fewer than "
                        f"{MIN_SIDEBAND_EVENTS}"
                    )
            windows.append(w)
        except InputError as err:
            log.info("window skipped: %s", err)
            skipped.append(f"{w}: {err}")
    return windows, skipped
