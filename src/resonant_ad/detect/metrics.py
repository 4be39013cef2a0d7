"""ROC, SIC with its statistical cut-off, AUC, injection summaries and significances."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import xlogy

from resonant_ad.errors import InputError

__all__ = [
    "DEFAULT_FPR",
    "MAX_REL_ERROR",
    "DetectionMetrics",
    "SICCurve",
    "asimov_significance",
    "asimov_significance_with_uncertainty",
    "auc",
    "evaluate",
    "max_sic",
    "min_background_efficiency",
    "naive_significance",
    "roc_curve",
    "sic_at_fpr",
    "sic_curve",
    "sic_on_grid",
    "summarize",
    "tpr_at_fpr",
]

log = logging.getLogger(__name__)

DEFAULT_FPR = 1e-3
"""The fixed working point of the SIGMA paper: SIC at a background efficiency of 1e-3."""
MAX_REL_ERROR = 0.2
"""SIC curves stop where the relative statistical error on eps_B exceeds this."""


def _check_scores_labels(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1)
    if len(s) != len(y):
        raise InputError(f"{len(s)} scores for {len(y)} labels")
    if not np.all(np.isfinite(s)):
        raise InputError("scores contain NaN or infinite values")
    yb = y.astype(bool)
    if not np.array_equal(yb.astype(y.dtype), y):
        raise InputError("labels must be 0 (background) or 1 (signal)")
    if yb.all() or not yb.any():
        raise InputError("need both signal (1) and background (0) labels to build a ROC curve")
    return s, yb


def roc_curve(
    scores: np.ndarray, labels: np.ndarray, sample_weight: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve of a score where larger means more signal-like.

    Returns ``(fpr, tpr, thresholds)``: one point per distinct score value, an event passing
    when its score is ``>= threshold``, preceded by the point ``(0, 0)`` at threshold ``+inf``.
    ``fpr`` is the background efficiency ``eps_B``, ``tpr`` the signal efficiency ``eps_S``.
    ``sample_weight``: per-event weights (finite, non-negative), so that an event of integer
    weight ``k`` counts as ``k`` copies of it (and one of weight 0 is left out).

    >>> fpr, tpr, thr = roc_curve(np.array([0.9, 0.8, 0.7, 0.1]), np.array([1, 0, 1, 0]))
    >>> fpr.tolist(), tpr.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
    >>> roc_curve(np.array([0.9, 0.8, 0.1]), np.array([1, 0, 0]), np.r_[1.0, 1.0, 3.0])[0].tolist()
    [0.0, 0.0, 0.25, 1.0]
    """
    s, y = _check_scores_labels(scores, labels)
    w = None
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
        if len(w) != len(y):
            raise InputError(f"{len(w)} weights for {len(y)} scores")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise InputError("weights must be finite and non-negative")
        if not (w[y].sum() > 0 and w[~y].sum() > 0):
            raise InputError("need a positive total weight of both signal and background")
        s, y, w = s[w > 0], y[w > 0], w[w > 0]  # an event of weight zero is not there
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    # last index of each run of equal scores
    last = np.flatnonzero(np.diff(s) != 0)
    last = np.append(last, len(s) - 1)
    if w is None:
        tps = np.cumsum(y)[last]
        fps = (last + 1) - tps
        n_sig, n_bkg = int(y.sum()), int(len(y) - y.sum())
    else:
        w = w[order]
        tps = np.cumsum(w * y)[last]
        fps = np.cumsum(w * ~y)[last]
        n_sig, n_bkg = tps[-1], fps[-1]
    fpr = np.concatenate([[0.0], fps / n_bkg])
    tpr = np.concatenate([[0.0], tps / n_sig])
    thresholds = np.concatenate([[np.inf], s[last]])
    return fpr, tpr, thresholds


def _labelled_roc(
    scores: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """ROC ``(fpr, tpr)`` of checked scores and labels, and their signal and background
    counts."""
    s, y = _check_scores_labels(scores, labels)
    fpr, tpr, _ = roc_curve(s, y)
    return fpr, tpr, int(y.sum()), int((~y).sum())


def auc(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """Area under a ROC curve by the trapezoidal rule (``fpr`` non-decreasing).

    >>> auc(np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 1.0]))
    1.0
    >>> auc(np.array([0.0, 1.0]), np.array([0.0, 1.0]))
    0.5
    """
    fpr = np.asarray(fpr, dtype=np.float64)
    tpr = np.asarray(tpr, dtype=np.float64)
    return float(np.sum(np.diff(fpr) * 0.5 * (tpr[1:] + tpr[:-1])))


def min_background_efficiency(n_background: int, max_rel_error: float = MAX_REL_ERROR) -> float:
    """Smallest ``eps_B`` whose relative statistical error stays within ``max_rel_error``.

    With ``N_B`` test background events the number passing a cut is ``N_B eps_B``, its
    relative Poisson error ``1 / sqrt(N_B eps_B)``; requiring it ``<= max_rel_error`` gives
    ``eps_B >= 1 / (max_rel_error**2 N_B)`` (``25 / N_B`` at 20%).

    >>> min_background_efficiency(100_000)
    0.00025
    """
    if n_background <= 0:
        raise InputError(f"{n_background} background events: need at least one")
    if max_rel_error <= 0:
        raise InputError(f"max relative error {max_rel_error}: must be positive")
    return (1.0 / max_rel_error) ** 2 / n_background


@dataclass(frozen=True)
class SICCurve:
    """SIC = eps_S / sqrt(eps_B) along a ROC curve, cut where eps_B's error exceeds the limit.

    Attributes:
        fpr: background efficiencies ``eps_B`` kept (all ``>= eps_b_min`` and ``> 0``).
        tpr: signal efficiencies at those points.
        sic: ``tpr / sqrt(fpr)``.
        eps_b_min: the statistical cut-off on ``eps_B``.
        n_background: number of test background events the curve was computed on.
    """

    fpr: np.ndarray
    tpr: np.ndarray
    sic: np.ndarray
    eps_b_min: float
    n_background: int

    @property
    def rejection(self) -> np.ndarray:
        """Background rejection ``1 / eps_B``."""
        return 1.0 / self.fpr


def _sic_from_roc(
    fpr: np.ndarray, tpr: np.ndarray, n_background: int, max_rel_error: float
) -> SICCurve:
    eps_min = min_background_efficiency(n_background, max_rel_error)
    keep = (fpr >= eps_min * (1 - 1e-12)) & (fpr > 0)
    f, t = fpr[keep], tpr[keep]
    return SICCurve(f, t, t / np.sqrt(f), eps_min, n_background)


def sic_curve(
    scores: np.ndarray, labels: np.ndarray, max_rel_error: float = MAX_REL_ERROR
) -> SICCurve:
    """SIC curve of a score on labelled test events, with the statistical cut-off.

    >>> c = sic_curve(np.arange(200.0), np.r_[np.zeros(100), np.ones(100)])
    >>> float(c.eps_b_min), float(c.fpr.min()), float(c.sic.max())
    (0.25, 0.25, 2.0)
    """
    fpr, tpr, _, n_b = _labelled_roc(scores, labels)
    return _sic_from_roc(fpr, tpr, n_b, max_rel_error)


def tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, target: float) -> float:
    """Signal efficiency at background efficiency ``target``, linearly interpolated on the ROC.

    Where the ROC has a vertical step exactly at ``target`` the top of the step is used.

    >>> tpr_at_fpr(np.array([0.0, 0.5, 1.0]), np.array([0.0, 0.8, 1.0]), 0.25)
    0.4
    """
    fpr = np.asarray(fpr, dtype=np.float64)
    tpr = np.asarray(tpr, dtype=np.float64)
    if not 0.0 <= target <= 1.0:
        raise InputError(f"target FPR {target} outside [0, 1]")
    i = int(np.searchsorted(fpr, target, side="left"))
    if i < len(fpr) and fpr[i] == target:
        j = int(np.searchsorted(fpr, target, side="right")) - 1
        return float(tpr[j])
    if i == 0:
        return float(tpr[0])
    if i >= len(fpr):
        return float(tpr[-1])
    f0, f1, t0, t1 = fpr[i - 1], fpr[i], tpr[i - 1], tpr[i]
    return float(t0 + (t1 - t0) * (target - f0) / (f1 - f0))


_WARNED: set[tuple[float, int, float]] = set()
"""(FPR, background test events, cut) combinations already warned about: said once."""


def _sic_at(
    fpr: np.ndarray, tpr: np.ndarray, n_background: int, target: float, max_rel_error: float
) -> float:
    eps_min = min_background_efficiency(n_background, max_rel_error)
    if target < eps_min * (1 - 1e-12):
        key = (target, n_background, max_rel_error)
        if key not in _WARNED:
            _WARNED.add(key)
            log.warning(
                "FPR %.3g is below the %.0f%% statistical cut-off eps_B >= %.3g with %d "
                "background test events: SIC there is NaN (n/a in the tables) for every "
                "method tested on them; max SIC and AUC are still measured",
                target,
                100 * max_rel_error,
                eps_min,
                n_background,
            )
        return math.nan
    return tpr_at_fpr(fpr, tpr, target) / math.sqrt(target)


def sic_at_fpr(
    scores: np.ndarray,
    labels: np.ndarray,
    fpr: float = DEFAULT_FPR,
    max_rel_error: float = MAX_REL_ERROR,
) -> float:
    """SIC at a fixed background efficiency, ROC-interpolated; NaN beyond the statistical cut.

    >>> scores = np.arange(200.0)
    >>> labels = np.r_[np.zeros(100), np.ones(100)]
    >>> round(sic_at_fpr(scores, labels, fpr=0.5), 6)
    1.414214
    >>> import math; math.isnan(sic_at_fpr(scores, labels, fpr=0.1))
    True
    """
    f, t, _, n_b = _labelled_roc(scores, labels)
    return _sic_at(f, t, n_b, fpr, max_rel_error)


def max_sic(scores: np.ndarray, labels: np.ndarray, max_rel_error: float = MAX_REL_ERROR) -> float:
    """Largest SIC on the curve within the statistical cut (NaN if no point survives)."""
    c = sic_curve(scores, labels, max_rel_error)
    return float(c.sic.max()) if len(c.sic) else math.nan


def sic_on_grid(curve: SICCurve, eps_b: np.ndarray) -> np.ndarray:
    """SIC at the given background efficiencies, interpolated on the ROC; NaN outside the cut.

    Use a common grid to take medians and percentiles of SIC curves over injections.
    """
    eps_b = np.asarray(eps_b, dtype=np.float64)
    out = np.full(eps_b.shape, np.nan)
    if len(curve.fpr) == 0:
        return out
    lo = max(curve.eps_b_min * (1 - 1e-12), float(curve.fpr[0]))
    ok = (eps_b >= lo) & (eps_b <= curve.fpr[-1])
    for k in np.flatnonzero(ok.reshape(-1)):
        e = float(eps_b.reshape(-1)[k])
        out.reshape(-1)[k] = tpr_at_fpr(curve.fpr, curve.tpr, e) / math.sqrt(e)
    return out


@dataclass(frozen=True)
class DetectionMetrics:
    """The headline numbers of one score on one labelled test set."""

    sic_at_fpr: float
    max_sic: float
    auc: float
    fpr: float = DEFAULT_FPR
    n_signal: int = 0
    n_background: int = 0


def evaluate(
    scores: np.ndarray,
    labels: np.ndarray,
    fpr: float = DEFAULT_FPR,
    max_rel_error: float = MAX_REL_ERROR,
) -> DetectionMetrics:
    """SIC at ``fpr``, max SIC (both within the statistical cut) and AUC from one ROC.

    >>> m = evaluate(np.arange(200.0), np.r_[np.zeros(100), np.ones(100)], fpr=0.5)
    >>> round(m.sic_at_fpr, 4), m.max_sic, m.auc
    (1.4142, 2.0, 1.0)
    """
    f, t, n_s, n_b = _labelled_roc(scores, labels)
    c = _sic_from_roc(f, t, n_b, max_rel_error)
    return DetectionMetrics(
        sic_at_fpr=_sic_at(f, t, n_b, fpr, max_rel_error),
        max_sic=float(c.sic.max()) if len(c.sic) else math.nan,
        auc=auc(f, t),
        fpr=fpr,
        n_signal=n_s,
        n_background=n_b,
    )


def summarize(values: Sequence[float] | np.ndarray) -> dict[str, float]:
    """Median and 16th/84th percentiles over injections, ignoring NaNs.

    All-NaN (or empty) input gives NaN for every entry.

    >>> {k: round(v, 6) for k, v in summarize([1.0, 2.0, 3.0, float("nan")]).items()}
    {'median': 2.0, 'p16': 1.32, 'p84': 2.68}
    >>> summarize([])["median"]
    nan
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return {"median": math.nan, "p16": math.nan, "p84": math.nan}
    p16, med, p84 = np.percentile(v, [16.0, 50.0, 84.0])
    return {"median": float(med), "p16": float(p16), "p84": float(p84)}


def _scalar_or_array(a: np.ndarray) -> float | np.ndarray:
    return float(a) if np.ndim(a) == 0 else a


def naive_significance(s: float | np.ndarray, b: float | np.ndarray) -> float | np.ndarray:
    """``s / sqrt(b)``, valid for ``s << b``.

    >>> naive_significance(10.0, 100.0)
    1.0
    """
    return _scalar_or_array(
        np.asarray(s, dtype=np.float64) / np.sqrt(np.asarray(b, dtype=np.float64))
    )


def asimov_significance(s: float | np.ndarray, b: float | np.ndarray) -> float | np.ndarray:
    """Median discovery significance of a Poisson count, ``Z = sqrt(2((s+b) ln(1+s/b) - s))``.

    Cowan, Cranmer, Gross, Vitells, Eur. Phys. J. C 71 (2011) 1554, eq. (97).

    >>> round(float(asimov_significance(10.0, 100.0)), 5)
    0.98399
    """
    s = np.asarray(s, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if np.any(b <= 0):
        raise InputError("background must be positive for a significance")
    n = np.maximum(s + b, 0.0)
    # n ln(n / b) with its limit 0 at n = 0: no event observed gives Z = sqrt(2b)
    z2 = 2.0 * (xlogy(n, n / b) - s)
    return _scalar_or_array(np.sqrt(np.maximum(z2, 0.0)))


def asimov_significance_with_uncertainty(
    s: float | np.ndarray, b: float | np.ndarray, sigma_b: float | np.ndarray
) -> float | np.ndarray:
    """Asimov significance with an absolute background uncertainty ``sigma_b`` (Cowan's formula).

    ``Z = sqrt(2[(s+b) ln((s+b)(b+σ²)/(b²+(s+b)σ²)) - (b²/σ²) ln(1 + σ² s/(b(b+σ²)))])``;
    ``sigma_b = 0`` falls back to :func:`asimov_significance`. A scan can pass the template's
    statistical uncertainty here (e.g. ``b / sqrt(n_template_passing)``).

    >>> round(float(asimov_significance_with_uncertainty(10.0, 100.0, 10.0)), 5)
    0.6902
    """
    s = np.asarray(s, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    sig = np.asarray(sigma_b, dtype=np.float64)
    if np.any(b <= 0):
        raise InputError("background must be positive for a significance")
    if np.any(sig < 0):
        raise InputError("background uncertainty must be non-negative")
    s, b, sig = np.broadcast_arrays(s, b, sig)
    out = np.asarray(asimov_significance(s, b), dtype=np.float64).copy()
    m = sig > 0
    if np.any(m):
        sm, bm, v = s[m], b[m], sig[m] ** 2
        n = np.maximum(sm + bm, 0.0)
        t1 = xlogy(n, n * (bm + v) / (bm**2 + n * v))  # 0 at n = 0, not 0 * log 0
        t2 = (bm**2 / v) * np.log1p(v * sm / (bm * (bm + v)))
        out[m] = np.sqrt(np.maximum(2.0 * (t1 - t2), 0.0))
    return _scalar_or_array(out)
