"""A whole scan's result: its windows, what it cost, and the global significance of its
largest excess (the look-elsewhere effect)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from resonant_ad.search.counts import WindowResult

__all__ = ["ScanResult", "global_significance"]


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
    """A whole scan: its windows and what it cost."""

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
            "global_significance": global_significance(
                [
                    [w.significance(e) for w in self.windows]
                    for e in self.efficiencies
                    if self.windows
                ]
            ),
            "skipped": list(self.skipped),
            "windows": [w.to_dict() for w in self.windows],
        }
