"""The likelihood of the signal fraction ``w`` and its 68% interval.

The scans are cross-fitted: each fold's held-out events are evaluated under that fold's
``p_S`` (and its tilt of ``p_B``), so every event by a model that did not train on it, and
the log-likelihoods summed over folds. :func:`scan` evaluates ``-2 log L`` on a grid of ``w``
around the maximum with every ``p_S`` held at its fitted shape (the conditional likelihood),
or refitted at each ``w`` (the profile likelihood); :func:`capture_scan` profiles it over
``a``, the fraction of the signal distributed like the background in ``x``, told from it by
the mass alone:

.. math:: w (1 - a)\\, p_S + (1 - w)\\, p_B(x | m)\\, p(m) + w\\, a\\, p_B(x | m)\\, g(m)

with ``g`` the mass density of ``p_S``. :func:`interval` reads the maximum and the interval
(``-2 Delta log L = 1``) off a :class:`Profile`. Both scans also keep ``q0 = 2 (log L(w_hat) -
log L(0))``, the likelihood ratio of the best ``w`` against no signal (the test of ``w = 0``
of :mod:`~resonant_ad.density.null`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["Profile", "capture_scan", "interval", "scan"]


@dataclass(frozen=True)
class Profile:
    """``-2 log L`` of the SR data at fixed ``w`` values (lower is better)."""

    w: tuple[float, ...]
    deviance: tuple[float, ...]
    """``-2 (log L(w) - max log L)`` at each grid value."""
    conditional: tuple[float, ...]
    """The same with every ``p_S`` held at its fitted shape (and, with ``capture``, no
    background-like signal)."""
    capture: tuple[float, ...] = ()
    """With ``capture``: the fraction of the signal that is background-like at each grid
    value (0 where the fit without it is the better, penalty included)."""
    exact: tuple[float, float, float, float] | None = None
    """With ``capture``: ``(w, lo, hi, a)``, the maximum, the 68% interval found by root
    finding on the profile itself (no parabola), and the background-like fraction at the
    maximum."""
    q0: float = float("nan")
    """``2 (log L(w_hat) - log L(0))`` of the same held-out events (``w_hat`` the scan's
    maximum; at ``w = 0`` the likelihood is the background's alone)."""
    plain: tuple[float, float, float, float] | None = None
    """With ``capture``: ``(w, lo, hi, q0)`` of the same held-out likelihood with no
    background-like signal (``a = 0``), the fit without ``capture`` from the same ``p_S``."""
    capture_gain: float = float("nan")
    """With ``capture``: what profiling over ``a`` adds to the maximum of ``2 log L``."""


def _expit(u: float) -> float:
    return 1 / (1 + math.exp(-u))


def scan(
    log_s: list[Tensor],
    log_bg: list[Tensor],
    points: int,
    refit: Callable[[float], float] | None = None,
) -> Profile:
    """The likelihood of ``w`` on ``points`` grid values: ``log_s`` and ``log_bg`` hold, per
    fold, ``log p_S`` and ``log p_B`` of its held-out events. The grid is centred on the
    conditional maximum and spans 3 sigma of its curvature (4.5 with ``refit``). ``refit``:
    the summed held-out log-likelihood with every ``p_S`` refitted at a ``w`` (the profile;
    ``None``: the conditional likelihood)."""
    from scipy.optimize import minimize_scalar

    def conditional(w: float) -> float:
        if w <= 0:
            return float(sum(b.sum() for b in log_bg))
        lw, l1 = math.log(w), math.log1p(-w)
        return float(
            sum(torch.logaddexp(lw + s, l1 + b).sum() for s, b in zip(log_s, log_bg, strict=True))
        )

    # the conditional maximum and its curvature set the grid's centre and width
    res = minimize_scalar(lambda u: -conditional(_expit(u)), bounds=(-18, 0), method="bounded")
    w_c = _expit(res.x)
    h = max(w_c * 1e-3, 1e-7)
    curv = (conditional(w_c + h) - 2 * conditional(w_c) + conditional(max(w_c - h, 0.0))) / h**2
    sigma = 1 / math.sqrt(-curv) if curv < 0 else max(w_c, 1e-4)
    span = 3.0 * sigma * (1.5 if refit is not None else 1.0)
    grid = np.linspace(w_c - span, w_c + span, max(3, points))
    grid = np.unique(np.clip(grid, 0.0, 0.999))
    cond = np.array([conditional(float(w)) for w in grid])
    if refit is not None:
        prof = np.array([refit(float(w)) if w > 0 else cond[i] for i, w in enumerate(grid)])
    else:
        prof = cond
    top = max(float(prof.max()), -float(res.fun))
    return Profile(
        tuple(float(w) for w in grid),
        tuple(float(v) for v in -2 * (prof - prof.max())),
        tuple(float(v) for v in -2 * (cond - cond.max())),
        q0=max(0.0, 2.0 * (top - conditional(0.0))),
    )


def capture_scan(
    log_s: np.ndarray, log_bg: np.ndarray, log_g: np.ndarray, points: int, penalty: float = 0.0
) -> Profile:
    """The likelihood of ``w`` profiled over the background-like fraction ``a`` of the
    signal, of held-out events with ``log p_S`` ``log_s``, ``log p_B(x | m) + log p(m)``
    ``log_bg`` and ``log_g = log g(m) - log p(m)`` (each under its fold's model), as the
    envelope of the fits with and without ``a`` (CMS's discrete profiling, Dauncey et al.,
    arXiv:1408.6865): at each ``w`` the better of ``-2 log L`` at ``a = 0`` and ``-2 log L``
    profiled over ``a`` plus ``penalty`` (the price of the parameter ``a``; 0: the profile
    over ``a`` alone). Its maximum and 68% interval by root finding, and ``points`` grid
    values over twice the interval; beside them the fit at ``a = 0`` (``plain``) and what
    ``a`` adds to ``2 log L`` (``capture_gain``).

    A tenth of the events are signal, a third of it distributed like the background in
    ``x`` and told from it by its mass alone:

    >>> from scipy.stats import norm
    >>> rng = np.random.default_rng(0)
    >>> n = 20_000
    >>> signal = rng.random(n) < 0.1
    >>> hidden = signal & (rng.random(n) < 1 / 3)
    >>> x = np.where(signal & ~hidden, rng.normal(2, 0.5, n), rng.normal(0, 1, n))
    >>> m = np.where(signal, rng.normal(3.5, 0.02, n), rng.uniform(3.3, 3.7, n))
    >>> log_g, log_pm = norm.logpdf(m, 3.5, 0.02), -np.log(0.4)  # p(m): flat in 3.3-3.7
    >>> p = capture_scan(norm.logpdf(x, 2, 0.5) + log_g, norm.logpdf(x) + log_pm,
    ...                  log_g - log_pm, 7)
    >>> w, lo, hi, a = p.exact
    >>> bool(lo < signal.mean() < hi), round(w, 2), round(a, 1)
    (True, 0.1, 0.3)

    Without the capture the hidden third is missed:

    >>> w0, lo0, hi0, q0 = p.plain
    >>> round(w0, 2), bool(hi0 < signal.mean()), bool(0 < q0 < p.q0), bool(p.capture_gain > 5)
    (0.07, True, True, True)

    and where ``a`` costs more than it adds, the envelope is the fit without it:

    >>> dear = capture_scan(norm.logpdf(x, 2, 0.5) + log_g, norm.logpdf(x) + log_pm,
    ...                     log_g - log_pm, 7, penalty=p.capture_gain + 1)
    >>> dear.exact[0] == p.plain[0], dear.exact[3], dear.plain == p.plain
    (True, 0.0, True)
    """
    from scipy.optimize import brentq, minimize_scalar

    s, b, d = log_s, log_bg, log_g

    def log_l(w: float, a: float) -> float:
        if w <= 0:
            return float(b.sum())
        parts = [math.log1p(-w) + b]
        if a < 1:
            parts.append(math.log(w) + math.log1p(-a) + s)
        if a > 0:
            parts.append(math.log(w) + math.log(a) + b + d)
        return float(np.logaddexp.reduce(np.stack(parts), axis=0).sum())

    def best_a(w: float) -> tuple[float, float]:
        """The profiled ``(log L, a)`` at ``w``."""
        at_zero = log_l(w, 0.0)
        if w <= 0:
            return at_zero, 0.0
        res = minimize_scalar(lambda a: -log_l(w, a), bounds=(0.0, 1.0 - 1e-9), method="bounded")
        return (at_zero, 0.0) if at_zero >= -res.fun else (-float(res.fun), float(res.x))

    def maximum(log_like: Callable[[float], float]) -> tuple[float, float]:
        """``(w_hat, log L(w_hat))``: the maximum of ``log_like`` over ``w >= 0``."""
        res = minimize_scalar(lambda u: -log_like(_expit(u)), bounds=(-18, 0), method="bounded")
        w_hat, top = _expit(res.x), log_like(_expit(res.x))
        return (0.0, log_like(0.0)) if log_like(0.0) > top else (w_hat, top)

    def crossings(log_like: Callable[[float], float], w_hat: float, level: float) -> list[float]:
        """Where ``log_like``, above ``level`` at ``w_hat``, falls to it on either side."""

        def excess(w: float) -> float:
            return log_like(w) - level

        w_lo = 0.0 if excess(0.0) >= 0 else brentq(excess, 0.0, w_hat, xtol=1e-6)
        step, w_hi = max(w_hat, 1e-3), min(0.999, w_hat + max(w_hat, 1e-3))
        while excess(w_hi) > 0 and w_hi < 0.999:
            step *= 2
            w_hi = min(0.999, w_hat + step)
        if excess(w_hi) < 0:
            w_hi = brentq(excess, w_hat, w_hi, xtol=1e-6)
        return [w_lo, w_hi]

    def with_a(w: float) -> float:
        return best_a(w)[0]

    def without_a(w: float) -> float:
        return log_l(w, 0.0)

    at_zero = log_l(0.0, 0.0)
    free, plain = maximum(with_a), maximum(without_a)
    # the envelope of the two, the capture's log L less half its penalty: its maximum, and
    # its 68% interval (the hull of where either branch is within 0.5 of that maximum)
    cost = 0.5 * penalty
    top = max(plain[1], free[1] - cost)
    captured = free[1] - cost > plain[1]
    w_hat = free[0] if captured else plain[0]
    a_hat = best_a(w_hat)[1] if captured else 0.0
    ends = crossings(without_a, plain[0], top - 0.5) if plain[1] >= top - 0.5 else []
    if free[1] - cost >= top - 0.5:
        ends += crossings(with_a, free[0], top - 0.5 + cost)
    w_lo, w_hi = min(ends), max(ends)
    p_lo, p_hi = crossings(without_a, plain[0], plain[1] - 0.5)
    half = 0.5 * (w_hi - w_lo)
    grid = np.unique(np.clip(np.linspace(w_lo - half, w_hi + half, max(3, points)), 0.0, 0.999))
    prof = [best_a(float(w)) for w in grid]
    cond = np.array([without_a(float(w)) for w in grid])
    values = np.maximum(np.array([p[0] for p in prof]) - cost, cond)
    return Profile(
        tuple(float(w) for w in grid),
        tuple(float(v) for v in -2 * (values - top)),
        tuple(float(v) for v in -2 * (cond - cond.max())),
        tuple(p[1] if p[0] - cost > c else 0.0 for p, c in zip(prof, cond, strict=True)),
        (float(w_hat), float(w_lo), float(w_hi), float(a_hat)),
        max(0.0, 2.0 * (top - at_zero)),
        (plain[0], p_lo, p_hi, max(0.0, 2 * (plain[1] - at_zero))),
        2.0 * (free[1] - plain[1]),
    )


def interval(profile: Profile) -> tuple[float, tuple[float, float]]:
    """The profile's minimum and 68% interval: found on the profile itself where it was
    (``exact``), else from a parabola fitted to ``-2 log L`` (weighted towards the
    minimum); ends clipped to ``[0, 1]``.

    >>> w = tuple(np.linspace(0.0, 0.2, 9).tolist())
    >>> p = Profile(w, tuple(((np.array(w) - 0.1) / 0.02) ** 2), w)
    >>> w_hat, (lo, hi) = interval(p)
    >>> round(w_hat, 6), round(float(lo), 6), round(float(hi), 6)
    (0.1, 0.08, 0.12)
    """
    if profile.exact is not None:
        w_hat, lo, hi, _ = profile.exact
        return w_hat, (lo, hi)
    w = np.asarray(profile.w)
    dev = np.asarray(profile.deviance)
    weights = 1.0 / (1.0 + dev)  # points far up the curve matter less
    a, b, _ = np.polyfit(w, dev, 2, w=np.sqrt(weights))
    if a <= 0:  # no curvature: the best grid point, the grid as the interval
        i = int(np.argmin(dev))
        return float(w[i]), (float(w.min()), float(w.max()))
    w_min = -b / (2 * a)
    half = math.sqrt(1.0 / a)
    if w_min >= 0:
        return float(min(w_min, 1.0)), (max(0.0, w_min - half), min(1.0, w_min + half))
    # the maximum is at the boundary w = 0: the upper end is 1 above the curve at 0
    return 0.0, (0.0, float(min(1.0, w_min + math.sqrt(w_min**2 + half**2))))
