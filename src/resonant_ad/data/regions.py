"""Signal regions in ``mjj``, their sidebands, and sliding windows of many signal regions."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import numpy as np

from resonant_ad.data.events import Events
from resonant_ad.errors import InputError

__all__ = ["DEFAULT_SIGNAL_REGION", "SignalRegion", "near_sidebands", "sliding_windows"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignalRegion:
    """A window ``[lo, hi]`` in ``mjj`` (TeV) and the sidebands around it.

    ``sideband_width`` ``None`` makes the sidebands the whole complement of the window
    (CATHODE); a number bounds them to ``[lo - w, lo)`` and ``(hi, hi + w]`` (FETA).

    >>> sr = SignalRegion(3.3, 3.7)
    >>> sr.contains(np.array([3.2, 3.5, 3.9])).tolist()
    [False, True, False]
    >>> sr.interpolation_masses()
    (3.2, 3.8)
    """

    lo: float
    hi: float
    sideband_width: float | None = None

    def __post_init__(self) -> None:
        for name, v in (("lo", self.lo), ("hi", self.hi)):
            if not math.isfinite(v) or v <= 0:
                raise InputError(f"signal region {name} = {v} TeV: must be a positive number")
        if self.hi <= self.lo:
            raise InputError(f"signal region [{self.lo}, {self.hi}] TeV: lo must be below hi")
        if self.lo > 50:
            raise InputError(
                f"signal region [{self.lo}, {self.hi}]: mjj is in TeV here, this looks like GeV"
            )
        if self.sideband_width is not None and self.sideband_width <= 0:
            raise InputError(f"sideband width {self.sideband_width} TeV: must be positive")

    @property
    def center(self) -> float:
        return 0.5 * (self.lo + self.hi)

    @property
    def width(self) -> float:
        return self.hi - self.lo

    def contains(self, m: np.ndarray) -> np.ndarray:
        """Mask of masses inside the signal region."""
        m = np.asarray(m)
        return (m >= self.lo) & (m <= self.hi)

    def sideband(self, m: np.ndarray) -> np.ndarray:
        """Mask of masses in the sidebands (outside the window, within the bands if bounded)."""
        m = np.asarray(m)
        outside = ~self.contains(m)
        if self.sideband_width is None:
            return outside
        w = self.sideband_width
        return outside & (m >= self.lo - w) & (m <= self.hi + w)

    def interpolation_masses(self, offset: float = 0.1) -> tuple[float, float]:
        """Sideband masses ``(m1, m2)`` just outside the window, ``offset`` TeV from its edges."""
        return (round(self.lo - offset, 10), round(self.hi + offset, 10))

    def check(self, m: np.ndarray, min_events: int = 100) -> None:
        """Raise :class:`InputError` if the data cannot support this signal region."""
        m = np.asarray(m)
        if len(m) == 0:
            raise InputError("no events to define a signal region on")
        lo, hi = float(np.min(m)), float(np.max(m))
        if self.hi <= lo or self.lo >= hi:
            raise InputError(
                f"signal region [{self.lo}, {self.hi}] TeV lies outside the data's mjj range "
                f"[{lo:.3f}, {hi:.3f}] TeV"
            )
        n_in = int(self.contains(m).sum())
        if n_in < min_events:
            raise InputError(
                f"signal region [{self.lo}, {self.hi}] TeV holds {n_in} events, "
                f"fewer than the {min_events} needed"
            )
        n_sb = int(self.sideband(m).sum())
        if n_sb < min_events:
            raise InputError(
                f"sidebands of [{self.lo}, {self.hi}] TeV hold {n_sb} events, "
                f"fewer than the {min_events} needed"
            )

    def __str__(self) -> str:
        return f"SR[{self.lo:g}, {self.hi:g}] TeV"


DEFAULT_SIGNAL_REGION = SignalRegion(3.3, 3.7)


def near_sidebands(events: Events, region: SignalRegion, width: float) -> Events:
    """The events within ``width`` TeV below and above the SR ``region``.

    >>> ev = Events(np.array([3.0, 3.25, 3.5, 3.75, 4.0]), np.zeros((5, 1)), np.zeros(5))
    >>> near_sidebands(ev, SignalRegion(3.3, 3.7), 0.1).m.tolist()
    [3.25, 3.75]
    """
    return events.select(replace(region, sideband_width=width).sideband(events.m))


def sliding_windows(
    m_min: float,
    m_max: float,
    width: float,
    step: float,
    *,
    log_scale: bool = False,
    margin: float = 0.0,
    sideband_width: float | None = None,
) -> list[SignalRegion]:
    """Signal regions sliding over ``[m_min + margin, m_max - margin]``.

    With ``log_scale`` False, windows have a fixed ``width`` in TeV and start every
    ``step`` TeV. With ``log_scale`` True, ``width`` and ``step`` are in ``log(mjj)``:
    each window is ``[lo, lo * exp(width)]``, matching a resolution that grows with mass.
    ``margin`` keeps room for sidebands at both ends of the spectrum; windows that would
    reach into it are skipped (and logged).

    >>> [(w.lo, w.hi) for w in sliding_windows(3.0, 4.0, 0.4, 0.2)]
    [(3.0, 3.4), (3.2, 3.6), (3.4, 3.8), (3.6, 4.0)]
    """
    if width <= 0 or step <= 0:
        raise InputError(f"window width {width} and step {step} must be positive")
    if m_max <= m_min:
        raise InputError(f"mass range [{m_min}, {m_max}] is empty")
    first, last = m_min + margin, m_max - margin
    windows: list[SignalRegion] = []
    skipped: list[str] = []
    k = 0
    while True:
        if log_scale:
            lo = first * math.exp(k * step)
            hi = lo * math.exp(width)
        else:
            lo = first + k * step
            hi = lo + width
        lo, hi = round(lo, 10), round(hi, 10)
        if lo >= last:
            break
        if hi > last + 1e-9:
            skipped.append(f"[{lo:g}, {hi:g}]")
        else:
            windows.append(SignalRegion(lo, hi, sideband_width))
        k += 1
    if skipped:
        log.info(
            "skipped the window(s) %s TeV: they reach past %g TeV, the end of the range less "
            "the margin kept for their sidebands",
            ", ".join(skipped),
            round(last, 10),
        )
    if not windows:
        raise InputError(
            f"no window of width {width} fits in [{first:.3f}, {last:.3f}] TeV after the margins"
        )
    return windows
