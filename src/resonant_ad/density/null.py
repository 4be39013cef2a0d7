"""The spurious signal: the signal fraction that the mixture fit finds where there is no
signal, as a systematic of ``w`` and as the null distribution of the test of ``w = 0``.

Where the background model misfits the data, the flexible ``p_S`` takes in the misfit: with
no signal at all the fitted ``w`` is above zero and its statistical interval excludes zero.
The same fit made where there is no signal measures this without labels. Each such *null
fit* (:class:`NullFit`: the fit in a validation window next to the SR, with ``p_B`` from the
same background training, or on a background-only pseudo-dataset) gives a spurious ``w_0``
and the likelihood ratio ``q0 = 2 (log L(w_hat) - log L(0))`` of its held-out events.
:class:`SpuriousSignal` turns ``n`` of them into:

- **a correction and a systematic of w**: ``w`` is corrected by the null fits' mean ``mu``,
  and the systematic is the size about zero of the spurious signal of a new null fit,
  ``sqrt(mu^2 + s^2 (1 + 1/n))`` (``s`` their sample spread, ``n`` their number; with one
  fit, its ``|w_0|``). The null fits measure the misfit that ``p_S`` takes in where there is
  no signal; they cannot tell whether the SR's fit takes in the same (with a signal there,
  ``p_S`` has a signal to fit). So the interval is centred on the best estimate and reaches
  both a SR fit that takes in none of the misfit and one that takes in twice its mean. The
  systematic is added in quadrature to each side of the statistical interval. Whether the
  mean is *measured* above zero (``stable``: ``mu > 2 s / sqrt(n)``, at least 3 fits) is
  reported beside it and changes nothing.
- **a p-value of w = 0**: the fraction of null fits whose ``q0`` is at least the SR's,
  ``(1 + #{q0_i >= q0}) / (1 + n)`` (so never below ``1 / (1 + n)``), beside the asymptotic
  one of Wilks' theorem with ``w`` on its boundary, ``P(chi2_1 >= q0) / 2``, which holds only
  where ``p_B`` is exact.

Neither rule looks at a true ``w``.

>>> nulls = [NullFit(f"window {k}", w, (w - 0.002, w + 0.002), q)
...          for k, (w, q) in enumerate([(0.006, 9.0), (0.007, 12.0), (0.008, 16.0)])]
>>> s = SpuriousSignal(tuple(nulls))
>>> s.stable, round(s.correction, 4), round(s.systematic, 5)
(True, 0.007, 0.00709)
>>> w, (lo, hi) = s.total_interval(0.0075, (0.0055, 0.0095))
>>> round(w, 4), round(lo, 5), round(hi, 5)
(0.0005, 0.0, 0.00787)
>>> round(s.p_value(10.0), 2), s.p_value(20.0)
(0.75, 0.25)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from resonant_ad.errors import InputError

__all__ = ["NullFit", "SpuriousSignal", "null_fit_task", "wilks_p_value"]

STABLE_STANDARD_ERRORS = 2.0
"""The spurious signal's mean is reported as measured above zero (``stable``) where it
exceeds this many standard errors (a diagnostic: the rule is the same either way)."""
STABLE_MIN_FITS = 3
"""Null fits needed before the mean can be called stable (two give no usable spread)."""


def _unit(v: float) -> float:
    """``v`` clipped to ``[0, 1]`` (a fraction)."""
    return float(min(max(v, 0.0), 1.0))


def wilks_p_value(q0: float) -> float:
    """The asymptotic p-value of ``q0`` for a signal fraction on its boundary ``w >= 0``:
    half a chi-square of one degree of freedom (1 at ``q0 = 0``).

    >>> round(wilks_p_value(1.0), 4), wilks_p_value(0.0)
    (0.1587, 1.0)
    """
    from scipy.stats import chi2

    return 1.0 if q0 <= 0 else float(0.5 * chi2.sf(q0, 1))


@dataclass(frozen=True)
class NullFit:
    """The mixture fit made where there is no signal."""

    label: str
    """Where: e.g. ``window [2.9, 3.3]`` or ``replica 3``."""
    w: float
    """The fitted (spurious) ``w``."""
    interval: tuple[float, float]
    """Its statistical 68% interval."""
    q0: float
    """Its ``2 (log L(w_hat) - log L(0))``."""
    starts: tuple[tuple[float, float, float], ...] = ()
    """With several starts of ``w`` (``w_init``): ``(start, w, held-out -2 Delta log L)`` of
    each, the fit above being the one with the best held-out likelihood (0)."""
    capture: float | None = None
    """With ``capture``: the background-like fraction of the signal at the fitted ``w``."""
    without_capture: NullFit | None = None
    """With ``capture``: the same fit without the background-like signal (its scan at
    ``a = 0``, the same ``p_S``)."""
    held_out_nll: float | None = None
    """The fit's held-out ``-log L`` summed over its folds (fits of the same events with
    other settings are compared by it; not in :meth:`summary`)."""

    def summary(self) -> dict[str, Any]:
        """As plain Python (for reports)."""
        out = {"label": self.label, "w": self.w, "interval": list(self.interval), "q0": self.q0}
        if self.starts:
            out["starts"] = [list(s) for s in self.starts]
        if self.capture is not None:
            out["capture"] = self.capture
        if self.without_capture is not None:
            out["without_capture"] = self.without_capture.summary()
        return out


@dataclass(frozen=True)
class SpuriousSignal:
    """The spurious ``w`` of ``fits`` (at least one), and what follows from it for a fit
    where a signal is searched for (see the module's docstring for the rules)."""

    fits: tuple[NullFit, ...]

    def __post_init__(self) -> None:
        if not self.fits:
            raise InputError("the spurious signal needs at least one null fit")
        if not all(math.isfinite(f.w) and math.isfinite(f.q0) for f in self.fits):
            raise InputError("a null fit has a non-finite w or q0")

    @property
    def w(self) -> np.ndarray:
        """The spurious ``w`` of each null fit."""
        return np.array([f.w for f in self.fits])

    @property
    def mean(self) -> float:
        return float(self.w.mean())

    @property
    def spread(self) -> float:
        """The sample standard deviation of the spurious ``w`` (0 with one fit)."""
        return float(self.w.std(ddof=1)) if len(self.fits) > 1 else 0.0

    @property
    def rms(self) -> float:
        """The root mean square of the spurious ``w`` (its size about zero)."""
        return float(np.sqrt(np.mean(self.w**2)))

    @property
    def stable(self) -> bool:
        """Whether the mean is measured to be above zero: at least ``STABLE_MIN_FITS`` fits
        and ``mean > STABLE_STANDARD_ERRORS * spread / sqrt(n)``."""
        n = len(self.fits)
        error = self.spread / math.sqrt(n)
        return n >= STABLE_MIN_FITS and self.mean > STABLE_STANDARD_ERRORS * error

    @property
    def correction(self) -> float:
        """What is subtracted from ``w``: the null fits' mean."""
        return self.mean

    @property
    def systematic(self) -> float:
        """The systematic error of ``w``: the root mean square about zero of a new null
        fit's spurious ``w``, ``sqrt(mean^2 + spread^2 (1 + 1/n))`` (the mean's own error
        included)."""
        n = len(self.fits)
        return math.sqrt(self.mean**2 + self.spread**2 * (1.0 + 1.0 / n))

    def total_interval(
        self, w: float, statistical: tuple[float, float]
    ) -> tuple[float, tuple[float, float]]:
        """``w`` corrected and its 68% interval with the systematic added in quadrature to
        each side of the ``statistical`` one (``w`` and ends clipped to ``[0, 1]``)."""
        lo, hi = statistical
        centre = w - self.correction
        below = math.hypot(max(w - lo, 0.0), self.systematic)
        above = math.hypot(max(hi - w, 0.0), self.systematic)
        return _unit(centre), (_unit(centre - below), _unit(centre + above))

    def p_value(self, q0: float) -> float:
        """The p-value of ``q0`` under the null fits' distribution of it:
        ``(1 + #{q0_i >= q0}) / (1 + n)``."""
        q = np.array([f.q0 for f in self.fits])
        return float((1 + np.sum(q >= q0)) / (1 + len(q)))

    def summary(self, w: float, statistical: tuple[float, float], q0: float) -> dict[str, Any]:
        """The null fits and what they make of a fit with ``w``, its ``statistical``
        interval and ``q0``, as plain Python (for ``signal_fraction.json``)."""
        corrected, total = self.total_interval(w, statistical)
        return {
            "fits": [f.summary() for f in self.fits],
            "n": len(self.fits),
            "spurious_w": [float(v) for v in self.w],
            "mean": self.mean,
            "spread": self.spread,
            "rms": self.rms,
            "stable": self.stable,
            "correction": self.correction,
            "systematic": self.systematic,
            "w_fitted": float(w),
            "w": corrected,
            "statistical_interval": [float(v) for v in statistical],
            "total_interval": list(total),
            "q0": float(q0),
            "p_value": self.p_value(q0),
            "null_q0": [f.q0 for f in self.fits],
            "p_value_wilks": wilks_p_value(q0),
        }


def null_fit_task(label: str, fit: Any) -> NullFit:
    """Task of a study: the :class:`NullFit` named ``label`` of a fitted mixture made where
    there is no signal (its :meth:`~resonant_ad.density.mixture.SignalMixture.null_fit`), so
    that only its numbers, not the model, travel."""
    return fit.null_fit(label)
