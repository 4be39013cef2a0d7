"""Models of ``kappa``, the ratio of observed to template counts after a cut, across the
windows of a scan, and the choice among them (:mod:`resonant_ad.search.background` uses them).

For each cut, ``log kappa(m)`` is modelled as a smooth function of the window centre plus a
scatter ``s`` of each window's own ``kappa`` around it (its classifier and template), and
window ``i`` is predicted from its references, the windows that do not overlap it (centres at
least a window width away), by a fit of their Poisson counts with that scatter (iteratively
reweighted least squares in ``log kappa``, made robust by Tukey's biweight). The smooth
function is one of :data:`MODELS` (a constant, a line or a parabola over all references, or
a constant or a line over those within two window widths), chosen per cut without labels, by
how well the windows predict each other: every window without an excess is predicted from
its references, the model with the smallest squared prediction error is kept, and ``s^2`` is
the variance that makes those errors standard (at least 0; from their median, so that the
few windows a signal raises weigh little; at the ends of the scan, where the model is
extrapolated, at least what makes their mean standard).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from resonant_ad.search.counts import WindowResult

__all__ = ["MODELS", "TUKEY_C", "Cut", "Model", "choose_model", "cuts_of", "predictions"]

TUKEY_C = 4.685
"""Tukey's biweight constant (95% efficiency for normal residuals)."""


@dataclasses.dataclass(frozen=True)
class Cut:
    """One cut over the windows: observed and template counts, the template's own relative
    variance, and the window centres relative to the scan's middle."""

    observed: np.ndarray
    template: np.ndarray
    template_var: np.ndarray
    x: np.ndarray
    dispersion: float
    """The background count's variance over its mean (1 for one cut; see
    :class:`~resonant_ad.search.counts.CutCount`): the median over the windows, which a
    signal in a few of them does not move."""

    def fit(self, ref: Sequence[int], degree: int, s2: float) -> tuple[np.ndarray, np.ndarray]:
        """``(coefficients, covariance)`` of ``log kappa`` at ``x``, a polynomial of
        ``degree`` fitted to the windows ``ref``: Poisson counts with a scatter ``s2``
        (iteratively reweighted least squares with a log link), made robust by Tukey's
        biweight on the standardised residuals (scale from their median absolute value), so
        that a reference a signal raises does not pull the fit."""
        r = np.asarray(ref)
        design = np.vander(self.x[r], degree + 1, increasing=True)
        obs, tmpl, t_var = self.observed[r], self.template[r], self.template_var[r]
        disp = self.dispersion
        y = np.log(np.maximum(obs, 0.5) / tmpl)
        beta = np.linalg.lstsq(design, y, rcond=None)[0]
        robust = np.ones(len(r))
        cov = np.eye(degree + 1)
        for _ in range(20):
            mu = tmpl * np.exp(np.clip(design @ beta, -20.0, 20.0))
            var = disp / mu + t_var + s2
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
        w = robust / (disp / (tmpl * np.exp(np.clip(design @ beta, -20.0, 20.0))) + t_var + s2)
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


def predictions(
    cut: Cut,
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


def _between(cut: Cut, i: int, ref: Sequence[int]) -> bool:
    """Whether window ``i`` lies between references ``ref`` (not an extrapolation)."""
    return bool(ref) and bool(cut.x[ref].min() < cut.x[i] < cut.x[ref].max())


def choose_model(
    cut: Cut, refs_of: dict[Model, list[list[int]]], excluded: set[int]
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
            pred, v_fit, resid, _ = predictions(cut, refs, usable, model.degree, s2)
            var = (
                cut.dispersion / (cut.template[usable] * np.exp(pred))
                + cut.template_var[usable]
                + v_fit
            )
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


def cuts_of(windows: Sequence[WindowResult]) -> list[Cut]:
    """The windows' counts, one :class:`Cut` per cut."""
    centres = np.array([w.center for w in windows])
    n_template = np.array([max(w.n_template, 1) for w in windows], dtype=np.float64)
    out = []
    for k in range(len(windows[0].counts)):
        cs = [w.counts[k] for w in windows]
        eps = np.array(
            [c.expected_template / max(w.n_data, 1e-9) for c, w in zip(cs, windows, strict=True)]
        )
        out.append(
            Cut(
                np.array([c.observed for c in cs], dtype=np.float64),
                np.array([max(c.expected_template, 1e-9) for c in cs]),
                (1.0 - eps)
                / np.maximum(eps * n_template, 1e-9)
                * np.array([c.template_dispersion for c in cs]),
                centres - 0.5 * (centres.min() + centres.max()),
                float(np.median([c.dispersion for c in cs])),
            )
        )
    return out
