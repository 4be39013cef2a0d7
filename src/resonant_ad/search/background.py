"""The background expected after a cut in each window of a scan, calibrated on the others.

A weakly supervised classifier also learns where its template misses the background, so
after a cut the data pass more often than the template: ``kappa = observed /
expected_template`` is about 1.1-1.4 on realistic jets without any signal. That ratio is set
by the template's mismodelling and varies slowly with ``mjj``; a signal raises it only in the
windows that hold it. Measured on the Pythia dev sample while this estimate was designed (the
first two windows of two replicas, one with signal; not part of ``bench_scan``'s output),
the window's own classifier applied in the window's neighbours (to their data and to
templates made there) passes data and template alike (``kappa`` 0.7-1.1 where the window's
own is 1.2-1.4): what a window's classifier learns is that window's own mismodelling, which
only its size, measured in the other windows with their own classifiers, tells about.

So for each cut, ``log kappa(m)`` is modelled as a smooth function of the window centre
plus a scatter ``s`` of each window's own ``kappa`` around it (its classifier and template),
and window ``i`` is predicted from its references, the windows that do not overlap it (centres
at least a window width away), by a fit of their Poisson counts with that scatter
(iteratively reweighted least squares in ``log kappa``, made robust by Tukey's biweight).
The smooth function is one of :data:`MODELS` (a constant, a line or a parabola over all
references, or a constant or a line over those within two window widths), chosen per cut
without labels, by how well the windows predict each other: every window without an excess
is predicted from its references, the model with the smallest squared prediction error is
kept, and ``s^2`` is the variance that makes those errors standard (at least 0; from their
median, so that the few windows a signal raises weigh little; at the ends of the scan, where
the model is extrapolated, at least what makes their mean standard). The expectation's
uncertainty has three parts (``uncertainty_parts``): ``fit`` (the model at the window,
larger where it is extrapolated), ``scatter`` (``s``) and ``template`` (the window's
template count).

A signal raises ``kappa`` in several neighbouring windows. Windows whose ``|Z|`` exceeds
``exclude_above`` at some cut, and the windows sharing more than half of one, are neither
references nor validation windows for the others, repeated until that set no longer changes;
it starts from the windows whose ``kappa`` lies far from a robust constant or line through
all windows. Only windows with references on both sides are excluded so: at the ends of a
scan an excess cannot be told from a background ``kappa`` that curves there.

A scan needs, for every window, at least ``MIN_REFERENCES`` windows that do not overlap it
(:func:`check_references`, before any training); where exclusions leave fewer, the farthest
overlapping windows without an excess complete them (``reference_windows`` names them).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

import numpy as np

from resonant_ad.errors import InputError
from resonant_ad.search.counts import CutCount, WindowResult, signed_significance

__all__ = [
    "EXCESS_EXCLUDED",
    "MIN_REFERENCES",
    "MODELS",
    "Model",
    "calibrated_expectations",
    "check_references",
    "references",
]

log = logging.getLogger(__name__)

EXCESS_EXCLUDED = 3.0
"""Windows with ``|Z|`` above this at any cut are not references for the others."""
MIN_REFERENCES = 2
"""The fewest windows not overlapping a window that its estimate may be made from."""
TUKEY_C = 4.685
"""Tukey's biweight constant (95% efficiency for normal residuals)."""


def references(
    centres: np.ndarray, i: int, width: float, excluded: set[int], reach: float | None = None
) -> list[int]:
    """The windows whose centres lie at least ``width`` (and at most ``reach``) from window
    ``i``'s, less the ``excluded``.

    >>> references(np.array([3.0, 3.2, 3.4, 3.6, 3.8]), 1, 0.4, set())
    [3, 4]
    >>> references(np.array([3.0, 3.2, 3.4, 3.6, 3.8]), 1, 0.4, set(), reach=0.4)
    [3]
    """
    d = np.abs(centres - centres[i])
    far = (d >= width - 1e-9) & (d <= (np.inf if reach is None else reach) + 1e-9)
    return [int(j) for j in np.flatnonzero(far) if int(j) not in excluded]


def check_references(centres: Sequence[float], width: float, what: str = "the scan") -> None:
    """Refuse a scan in which some window has fewer than ``MIN_REFERENCES`` windows that do
    not overlap it (one line, before any training).

    >>> check_references([3.2, 3.4, 3.6], 0.4)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    resonant_ad.errors.InputError: the scan's windows ... leave window 3.4 TeV with 0 windows ...
    """
    c = np.asarray(centres, dtype=np.float64)
    if len(c) == 0:
        raise InputError(f"{what} has no windows")
    n = [len(references(c, i, width, set())) for i in range(len(c))]
    worst = int(np.argmin(n))
    if n[worst] < MIN_REFERENCES:
        raise InputError(
            f"{what}'s windows of {width:g} TeV at {c.min():g}-{c.max():g} TeV leave window "
            f"{c[worst]:g} TeV with {n[worst]} windows at least {width:g} TeV from its centre: "
            f"the background estimate needs {MIN_REFERENCES}; widen [scan] m_min and m_max "
            "(or make the windows narrower)"
        )


@dataclasses.dataclass(frozen=True)
class _Cut:
    """One cut over the windows: observed and template counts, the template's own relative
    variance, and the window centres relative to the scan's middle."""

    observed: np.ndarray
    template: np.ndarray
    template_var: np.ndarray
    x: np.ndarray

    def fit(self, ref: Sequence[int], degree: int, s2: float) -> tuple[np.ndarray, np.ndarray]:
        """``(coefficients, covariance)`` of ``log kappa`` at ``x``, a polynomial of
        ``degree`` fitted to the windows ``ref``: Poisson counts with a scatter ``s2``
        (iteratively reweighted least squares with a log link), made robust by Tukey's
        biweight on the standardised residuals (scale from their median absolute value), so
        that a reference a signal raises does not pull the fit."""
        r = np.asarray(ref)
        design = np.vander(self.x[r], degree + 1, increasing=True)
        obs, tmpl, t_var = self.observed[r], self.template[r], self.template_var[r]
        y = np.log(np.maximum(obs, 0.5) / tmpl)
        beta = np.linalg.lstsq(design, y, rcond=None)[0]
        robust = np.ones(len(r))
        cov = np.eye(degree + 1)
        for _ in range(20):
            mu = tmpl * np.exp(np.clip(design @ beta, -20.0, 20.0))
            var = 1.0 / mu + t_var + s2
            z = design @ beta + (obs - mu) / mu
            w = robust / var
            cov = np.linalg.pinv(design.T @ (design * w[:, None]))
            new = cov @ design.T @ (w * z)
            # outliers among the references, judged against their own spread (the median
            # absolute deviation, at least their statistics), not against the scatter
            u = (y - design @ new) / np.sqrt(var - s2)
            scale = max(1.0, 1.4826 * float(np.median(np.abs(u))))
            robust = np.clip(1.0 - (u / (TUKEY_C * scale)) ** 2, 0.0, None) ** 2
            if len(r) <= degree + 1 or np.count_nonzero(robust) <= degree:
                robust = np.ones(len(r))  # too few references to tell an outlier
            done = np.allclose(new, beta, atol=1e-9)
            beta = new
            if done:
                break
        # the covariance of the robust fit: its information from the references it kept
        w = robust / (1.0 / (tmpl * np.exp(np.clip(design @ beta, -20.0, 20.0))) + t_var + s2)
        cov = np.linalg.pinv(design.T @ (design * w[:, None]))
        return beta, cov

    def predict(self, i: int, beta: np.ndarray, cov: np.ndarray) -> tuple[float, float]:
        """``log kappa`` at window ``i`` and its variance from the fit."""
        v = self.x[i] ** np.arange(len(beta))
        return float(v @ beta), float(v @ cov @ v)


@dataclasses.dataclass(frozen=True)
class Model:
    """A model of ``log kappa(m)``: a polynomial of ``degree`` fitted to the references
    within ``reach`` window widths of the window (``None``: all of the scan)."""

    degree: int
    reach: float | None = None

    def __str__(self) -> str:
        shape = ("constant", "line", "parabola")[self.degree]
        where = "all windows" if self.reach is None else f"windows within {self.reach:g} widths"
        return f"{shape} over {where}"


MODELS = (Model(0), Model(1), Model(2), Model(0, 2.0), Model(1, 2.0))
"""The models the calibration chooses from, per cut, by how well they predict the windows."""


def _references(
    centres: np.ndarray, width: float, excluded: set[int], reach: float | None
) -> list[list[int]]:
    """Each window's references (:func:`references`); where fewer than ``MIN_REFERENCES``
    are left, the windows without an excess that overlap it, the farthest first (a signal
    they share with it makes its estimate higher, a smaller Z, never lower)."""
    out = []
    for i in range(len(centres)):
        r = references(centres, i, width, excluded, None if reach is None else reach * width)
        if len(r) < MIN_REFERENCES:
            near = [j for j in range(len(centres)) if j != i and j not in excluded and j not in r]
            near.sort(key=lambda j: -abs(centres[j] - centres[i]))
            r = r + near[: MIN_REFERENCES - len(r)]
        out.append(r)
    return out


def _predictions(
    cut: _Cut,
    refs: list[list[int]],
    windows: Sequence[int] | np.ndarray,
    degree: int,
    s2: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """For each window: its predicted ``log kappa``, the fit's variance there, the residual
    of its own ``log kappa`` and the degree used (at most one less than its references)."""
    pred, v_fit, resid, used = [], [], [], []
    for i in windows:
        r = refs[i]
        d = min(degree, len(r) - 1)
        if d == 2 and not _between(cut, i, r):
            d = 1  # a parabola only between references, never extrapolated
        beta, cov = cut.fit(r, d, float(np.min(s2)))  # the references' own scatter
        p, v = cut.predict(i, beta, cov)
        # no further than a factor 2 beyond the references' own range of kappa
        y = np.log(np.maximum(cut.observed[r], 0.5) / cut.template[r])
        p = float(np.clip(p, y.min() - np.log(2.0), y.max() + np.log(2.0)))
        pred.append(p)
        v_fit.append(min(v, 1.0))
        resid.append(np.log(max(cut.observed[i], 0.5) / cut.template[i]) - p)
        used.append(d)
    return np.array(pred), np.array(v_fit), np.array(resid), used


CHI2_1_MEDIAN = 0.454936
"""The median of a chi-square with one degree of freedom."""


def _scatter(resid: np.ndarray, var: np.ndarray, robust: bool) -> float:
    """The ``s2 >= 0`` that makes ``resid^2 / (var + s2)`` standard: its median the median of
    a chi-square of one degree of freedom (``robust``: the few windows a signal raises weigh
    little), or its mean 1 (0 if already below)."""
    target = CHI2_1_MEDIAN if robust else 1.0

    def level(s2: float) -> float:
        r = resid**2 / (var + s2)
        return float(np.median(r) if robust else np.mean(r))

    if len(resid) == 0 or level(0.0) <= target:
        return 0.0
    lo, hi = 0.0, float(np.max(resid**2))
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if level(mid) > target else (lo, mid)
    return 0.5 * (lo + hi)


def _between(cut: _Cut, i: int, ref: Sequence[int]) -> bool:
    """Whether window ``i`` lies between references ``ref`` (not an extrapolation)."""
    return bool(ref) and bool(cut.x[ref].min() < cut.x[i] < cut.x[ref].max())


def _choose(
    cut: _Cut, refs_of: dict[Model, list[list[int]]], excluded: set[int]
) -> tuple[Model, np.ndarray, list[list[int]]]:
    """The model of one cut that predicts the windows without an excess best, each from its
    references, the scatter ``s2`` of each window that makes those residuals standard, and
    the model's references. The scatter is robust (from the median over all windows; a
    signal raises a few); windows predicted beyond their references (extrapolated, at the
    ends of the scan) get at least the scatter that makes the mean of their own squared
    residuals standard (no signal is excluded there). The score is the squared residual,
    the median over the interpolated windows and the mean over the extrapolated ones,
    weighted by their numbers."""
    n = len(cut.x)
    valid = [i for i in range(n) if i not in excluded]
    best: tuple[float, Model, np.ndarray, list[list[int]]] | None = None
    for model, refs in refs_of.items():
        usable = np.array([i for i in valid if refs[i]], dtype=np.int64)
        if len(usable) < 2:
            continue
        edge = np.array([not _between(cut, i, r) for i, r in enumerate(refs)])
        s2 = np.zeros(n)
        for _ in range(3):  # the fits' weights depend on the scatter
            pred, v_fit, resid, _ = _predictions(cut, refs, usable, model.degree, s2)
            var = 1.0 / (cut.template[usable] * np.exp(pred)) + cut.template_var[usable] + v_fit
            inner, outer = ~edge[usable], edge[usable]
            s2_in = _scatter(resid, var, robust=True)
            s2_out = max(s2_in, _scatter(resid[outer], var[outer], robust=False))
            s2 = np.where(edge, s2_out, s2_in)
        r2 = resid**2
        score = (
            (float(np.median(r2[inner])) * inner.sum() + float(np.sum(r2[outer]))) / len(r2)
            if inner.any()
            else float(np.mean(r2))
        )
        if best is None or score < best[0] - 1e-12:
            best = (score, model, s2, refs)
    if best is None:  # too few windows to validate on: a constant, no scatter measured
        return MODELS[0], np.zeros(n), refs_of[MODELS[0]]
    return best[1], best[2], best[3]


def calibrated_expectations(
    windows: Sequence[WindowResult], width: float, *, exclude_above: float = EXCESS_EXCLUDED
) -> list[WindowResult]:
    """The windows with each cut's expectation calibrated on the other windows of the scan
    (see the module docstring).

    >>> from resonant_ad.search.counts import CutCount
    >>> w = [WindowResult((c, c + 0.4), 1000, 4000, 0,
    ...     (CutCount(0.01, 0.9, 12, 99.0, 1.0, 0.0, 10.0),), 0.0, 0.0) for c in (3.0, 3.4, 3.8)]
    >>> c = calibrated_expectations(w, 0.4)[1].counts[0]
    >>> round(c.expected, 3), round(c.significance, 3), c.reference_windows
    (12.0, 0.0, ((3.0, 3.4), (3.8, 4.2)))
    """
    if not windows:
        return []
    centres = np.array([w.center for w in windows])

    # only a window with references on both sides can be told from a curved background
    interior = {
        i
        for i in range(len(windows))
        if np.any(centres <= centres[i] - width + 1e-9)
        and np.any(centres >= centres[i] + width - 1e-9)
    }

    def grown(excess: set[int]) -> set[int]:
        """The interior windows of ``excess`` and the windows that share more than half of
        one of them."""
        return {
            int(j)
            for i in excess & interior
            for j in np.flatnonzero(np.abs(centres - centres[i]) < 0.5 * width - 1e-9)
        }

    cuts = _cuts(windows)
    excluded = grown(_outliers(cuts))
    out = _calibrate(windows, cuts, width, excluded)
    for _ in range(len(windows)):
        excess = grown(
            {
                i
                for i, w in enumerate(out)
                if max(abs(c.significance) for c in w.counts) > exclude_above
            }
        )
        if excess == excluded:
            break
        excluded = excess
        out = _calibrate(windows, cuts, width, excluded)
    if excluded:
        log.info(
            "calibration without the windows of |Z| > %g and their neighbours: %s",
            exclude_above,
            ", ".join(str(windows[i].signal_region) for i in sorted(excluded)),
        )
    return out


def _cuts(windows: Sequence[WindowResult]) -> list[_Cut]:
    """The windows' counts, one :class:`_Cut` per cut."""
    centres = np.array([w.center for w in windows])
    n_template = np.array([max(w.n_template, 1) for w in windows], dtype=np.float64)
    out = []
    for k in range(len(windows[0].counts)):
        cs = [w.counts[k] for w in windows]
        eps = np.array(
            [c.expected_template / max(w.n_data, 1e-9) for c, w in zip(cs, windows, strict=True)]
        )
        out.append(
            _Cut(
                np.array([c.observed for c in cs], dtype=np.float64),
                np.array([max(c.expected_template, 1e-9) for c in cs]),
                (1.0 - eps) / np.maximum(eps * n_template, 1e-9),
                centres - 0.5 * (centres.min() + centres.max()),
            )
        )
    return out


def _outliers(cuts: list[_Cut]) -> set[int]:
    """The windows whose ``log kappa`` lies far from a robust constant (the median) or a
    robust line (Tukey's biweight) through all windows at some cut, beyond ``TUKEY_C`` times
    the median absolute standardised deviation (at least their statistical error): where the
    exclusion of excess windows starts. A signal that spans several windows would otherwise
    be in the references and the validation of many windows and hide itself; the constant
    holds while fewer than half the windows carry the signal, the line where the background
    ``kappa`` has a slope."""
    out: set[int] = set()
    for cut in cuts:
        everything = list(range(len(cut.x)))
        y = np.log(np.maximum(cut.observed, 0.5) / cut.template)
        fits = [np.full(len(y), float(np.median(y)))]
        if len(everything) >= 4:
            beta, _ = cut.fit(everything, 1, 0.0)
            fits.append(beta[0] + beta[1] * cut.x)
        for fit in fits:
            u = (y - fit) / np.sqrt(1.0 / (cut.template * np.exp(fit)) + cut.template_var)
            scale = max(1.0, 1.4826 * float(np.median(np.abs(u))))
            out |= {int(i) for i in np.flatnonzero(np.abs(u) > TUKEY_C * scale)}
    return out


def _calibrate(
    windows: Sequence[WindowResult], cuts: list[_Cut], width: float, excluded: set[int]
) -> list[WindowResult]:
    centres = np.array([w.center for w in windows])
    refs_of = {m: _references(centres, width, excluded, m.reach) for m in MODELS}
    per_window: list[list[CutCount]] = [[] for _ in windows]
    everything = list(range(len(windows)))
    for k, cut in enumerate(cuts):
        model, s2, refs = _choose(cut, refs_of, excluded)
        pred, v_fit, _, used = _predictions(cut, refs, everything, model.degree, s2)
        for i, w in enumerate(windows):
            c = w.counts[k]
            expected = float(cut.template[i] * np.exp(pred[i]))
            parts = {
                "fit": expected * float(np.sqrt(v_fit[i])),
                "scatter": expected * float(np.sqrt(s2[i])),
                "template": expected * float(np.sqrt(cut.template_var[i])),
            }
            sigma = float(np.sqrt(sum(v * v for v in parts.values())))
            shape = model if used[i] == model.degree else Model(used[i], model.reach)
            per_window[i].append(
                dataclasses.replace(
                    c,
                    expected=expected,
                    expected_uncertainty=sigma,
                    significance=signed_significance(c.observed, expected, sigma),
                    estimate=f"calibrated: {shape}",
                    uncertainty_parts=parts,
                    reference_windows=tuple(windows[j].signal_region for j in refs[i]),
                )
            )
    return [
        dataclasses.replace(w, counts=tuple(c)) for w, c in zip(windows, per_window, strict=True)
    ]
