"""A whole scan's result: its windows, what it cost, each window's significance as far as
its neighbours confirm it, and the global significance of its largest excess (the
look-elsewhere effect).

Neighbouring windows overlap (windows of 0.4 TeV every 0.1 TeV share three quarters of their
events), so a resonance in one window lies largely in the next one too, and that window's
classifier finds it as well. A window's own classifier and template, on the other hand, make
excesses of their own that its neighbours do not share: on the Pythia dev sample, single
windows without signal reach ``Z`` of +4 to +5 at one cut where neither neighbour exceeds
+1.3 (``docs/statistics.md``). The confirmed significance of a window at a cut is the smaller in
magnitude of its ``Z`` and the more extreme one of its two neighbours' at that cut, of the
same sign (0 where no neighbour shares the sign); in a scan whose windows do not overlap it
is the window's ``Z``. For background alone it exceeds a level less often than the window's
``Z`` does, so its normal tail probability is conservative.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from resonant_ad.search.counts import WindowResult

__all__ = ["ScanResult", "confirmed_significances", "global_significance"]


def confirmed_significances(windows: Sequence[WindowResult], width: float) -> list[WindowResult]:
    """The windows with each cut's ``confirmed_significance`` set: ``Z`` limited by the
    more extreme ``Z`` of the nearest overlapping window on either side (centres less than
    ``width`` apart) at the same cut, with the same sign (see the module docstring).

    >>> from resonant_ad.search.counts import CutCount
    >>> z = [0.5, 4.0, 0.3, 3.0, 3.5, -2.0]
    >>> w = [WindowResult((c, c + 0.4), 100, 400, 0, (CutCount(0.01, 0.9, 1, 1.0, 0.1, zi,
    ...     1.0),), 0.0, 0.0) for c, zi in zip((3.0, 3.1, 3.2, 3.3, 3.4, 3.5), z)]
    >>> [c.counts[0].confirmed_significance for c in confirmed_significances(w, 0.4)]
    [0.5, 0.5, 0.3, 3.0, 3.0, 0.0]
    """
    centres = np.array([w.center for w in windows])
    out = []
    for i, w in enumerate(windows):
        d = centres - centres[i]
        overlap = np.abs(d) < width - 1e-9
        sides = [np.flatnonzero((d < 0) & overlap), np.flatnonzero((d > 0) & overlap)]
        near = [int(j[np.argmin(np.abs(d[j]))]) for j in sides if len(j)]
        counts = []
        for c in w.counts:
            z = c.significance
            nb = [windows[j].significance(c.efficiency) for j in near]
            if not nb:
                confirmed = z
            elif z >= 0:
                confirmed = max(0.0, min(z, max(nb)))
            else:
                confirmed = min(0.0, max(z, min(nb)))
            counts.append(dataclasses.replace(c, confirmed_significance=float(confirmed)))
        out.append(dataclasses.replace(w, counts=tuple(counts)))
    return out


def global_significance(
    z_by_cut: Sequence[Sequence[float]], level: float = 0.5
) -> dict[str, float]:
    """The largest local excess and its global significance (look-elsewhere effect).

    Gross and Vitells (Eur. Phys. J. C 70 (2010) 525): the chance that background alone
    gives an excess of ``u`` somewhere in the scan is about ``p_local(u) + N(u0)
    exp(-(u^2 - u0^2) / 2)``, with ``N(u0)`` the number of up-crossings of a low reference
    level ``u0`` (``level``) by ``Z`` along the scan, counted here in the observed scan (a
    start above ``u0`` counts as one). Each cut is a scan of its own: their ``N(u0)`` add
    up, as do their ``p_local`` (a bound for correlated cuts).

    >>> g = global_significance([[0.2, 1.1, -0.3, 0.9, 4.0, 1.0, -0.5]])
    >>> round(g["local"], 2), g["upcrossings"], round(g["global"], 2)
    (4.0, 2.0, 3.16)
    """
    from scipy.stats import norm

    z = [np.asarray(c, dtype=np.float64) for c in z_by_cut if len(c)]
    if not z:
        return {"local": float("nan"), "global": float("nan"), "upcrossings": 0.0}
    u = max(float(c.max()) for c in z)
    crossings = sum(
        float(c[0] >= level) + float(np.sum((c[:-1] < level) & (c[1:] >= level))) for c in z
    )
    if u <= level:  # no excess beyond the reference level: nothing to correct
        return {"local": u, "global": u, "upcrossings": crossings}
    p = len(z) * float(norm.sf(u)) + crossings * float(np.exp(-(u * u - level * level) / 2))
    return {"local": u, "global": float(norm.isf(min(p, 0.5))), "upcrossings": crossings}


@dataclass(frozen=True)
class ScanResult:
    """A whole scan: its windows and what it cost. The global significance is that of the
    largest confirmed excess (:func:`confirmed_significances`)."""

    method: str
    n_sig: int
    efficiencies: tuple[float, ...]
    windows: tuple[WindowResult, ...]
    skipped: tuple[str, ...]
    train_seconds: float
    total_seconds: float

    def to_dict(self) -> dict[str, object]:
        n = max(len(self.windows), 1)
        return {
            "method": self.method,
            "n_sig": self.n_sig,
            "efficiencies": list(self.efficiencies),
            "train_seconds": self.train_seconds,
            "total_seconds": self.total_seconds,
            "seconds_per_window": self.total_seconds / n,
            "max_abs_significance": max((abs(w.significance()) for w in self.windows), default=0),
            "max_abs_confirmed_significance": max(
                (abs(w.significance(confirmed=True)) for w in self.windows), default=0
            ),
            "global_significance": global_significance(
                [
                    [w.significance(e, confirmed=True) for w in self.windows]
                    for e in self.efficiencies
                    if self.windows
                ]
            ),
            "skipped": list(self.skipped),
            "windows": [w.to_dict() for w in self.windows],
        }
