"""The dijet mass spectrum in and around a signal region: ``p(m)`` as a KDE of the masses
in a window (:class:`MassDensity`), the dijet function fitted to the sidebands
(:class:`DijetFit`), and that fit normalised in the SR, the background's ``p(m)`` with no
signal in its shape (:class:`SidebandMassDensity`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

from resonant_ad.errors import InputError

__all__ = ["SQRT_S", "DijetFit", "MassDensity", "SidebandMassDensity", "silverman_bandwidth"]

SQRT_S = 13.0
"""The collision energy (TeV) that scales ``mjj`` in the dijet function."""
_NODES = 256
"""Gauss-Legendre nodes per mass range for the fit's normalisation."""
_GRID = 4097
"""Points of the inverse-CDF grid that samples SR masses from the fit."""


def _dijet_features(m: np.ndarray, sqrt_s: float) -> np.ndarray:
    """``(log(1 - x), -log x, -log(x)^2)`` of ``x = m / sqrt_s``: the sufficient statistics
    of the dijet function, whose log is linear in its parameters."""
    x = np.asarray(m, dtype=np.float64).reshape(-1) / sqrt_s
    lx = np.log(x)
    return np.stack([np.log1p(-x), -lx, -(lx**2)], axis=1)


def _quadrature(ranges: tuple[tuple[float, float], ...]) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes over the mass ranges and the logs of their weights."""
    t, w = np.polynomial.legendre.leggauss(_NODES)
    nodes, weights = [], []
    for lo, hi in ranges:
        nodes.append(lo + (hi - lo) * (t + 1) / 2)
        weights.append(w * (hi - lo) / 2)
    return np.concatenate(nodes), np.log(np.concatenate(weights))


@dataclass(frozen=True)
class DijetFit:
    """The dijet function ``f(m) ∝ (1 - x)^p1 / x^(p2 + p3 log x)``, ``x = m / sqrt_s``,
    fitted to the masses in ``ranges`` by an unbinned maximum likelihood, the density
    normalised over those ranges (the sidebands).

    ``log f`` is linear in ``(p1, p2, p3)``: the negative log-likelihood is convex and is
    minimised by Newton's method (a trust region) in coordinates whitened by the data's
    covariance of the three statistics, where the collinear directions of a narrow range
    stay well conditioned. :meth:`fraction` integrates the fit over a window, e.g. the SR,
    and :meth:`sample` draws masses in a window from it.

    >>> rng = np.random.default_rng(0)
    >>> m = 2.9 + rng.exponential(0.6, 200_000)
    >>> fit = DijetFit.fit(m, ((2.9, 3.3), (3.7, 4.1)))
    >>> sidebands = ((m > 2.9) & (m < 3.3)) | ((m > 3.7) & (m < 4.1))
    >>> truth = np.mean((m > 3.3) & (m < 3.7)) / np.mean(sidebands)
    >>> bool(abs(fit.fraction(3.3, 3.7) / truth - 1) < 0.02)
    True
    """

    params: tuple[float, float, float]
    ranges: tuple[tuple[float, float], ...]
    n_events: int
    sqrt_s: float = SQRT_S

    @classmethod
    def fit(
        cls, m: np.ndarray, ranges: tuple[tuple[float, float], ...], sqrt_s: float = SQRT_S
    ) -> DijetFit:
        """Fit the masses ``m`` that lie in ``ranges`` (disjoint ``(lo, hi)`` pairs)."""
        ranges = tuple((float(lo), float(hi)) for lo, hi in ranges if hi > lo)
        if not ranges:
            raise InputError("the mjj fit needs at least one mass range")
        if max(hi for _, hi in ranges) >= sqrt_s or min(lo for lo, _ in ranges) <= 0:
            raise InputError(f"the mjj fit's ranges {ranges} must lie in (0, {sqrt_s}) TeV")
        m = np.asarray(m, dtype=np.float64).reshape(-1)
        inside = np.zeros(len(m), dtype=bool)
        for lo, hi in ranges:
            inside |= (m >= lo) & (m <= hi)
        m = m[inside]
        if len(m) < 10:
            raise InputError(f"{len(m)} masses in the mjj fit's ranges {ranges}: need 10")
        phi = _dijet_features(m, sqrt_s)
        mean = phi.mean(axis=0)
        evals, evecs = np.linalg.eigh(np.cov(phi, rowvar=False))
        keep = evals > 1e-12 * evals.max()
        white = evecs[:, keep] / np.sqrt(evals[keep])
        nodes, log_w = _quadrature(ranges)
        psi = (_dijet_features(nodes, sqrt_s) - mean) @ white

        # The data's mean of psi is zero: the NLL per event is log Z(beta).
        def nll(beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
            a = psi @ beta + log_w
            log_z = float(logsumexp(a))
            p = np.exp(a - log_z)
            e = p @ psi
            return log_z, e, (psi * p[:, None]).T @ psi - np.outer(e, e)

        result = minimize(
            lambda b: nll(b)[0],
            np.zeros(int(keep.sum())),
            jac=lambda b: nll(b)[1],
            hess=lambda b: nll(b)[2],
            method="trust-exact",
            options={"gtol": 1e-10},
        )
        if not np.all(np.isfinite(result.x)):
            raise InputError(f"the mjj fit failed: {result.message}")
        theta = white @ result.x
        return cls((float(theta[0]), float(theta[1]), float(theta[2])), ranges, len(m), sqrt_s)

    def log_shape(self, m: np.ndarray) -> np.ndarray:
        """The unnormalised ``log f(m)``."""
        return np.asarray(_dijet_features(m, self.sqrt_s) @ np.asarray(self.params))

    def _log_integral(self, ranges: tuple[tuple[float, float], ...]) -> float:
        nodes, log_w = _quadrature(ranges)
        return float(logsumexp(self.log_shape(nodes) + log_w))

    def log_pdf(self, m: np.ndarray) -> np.ndarray:
        """``log f(m)`` normalised over the fit's ranges."""
        return self.log_shape(m) - self._log_integral(self.ranges)

    def fraction(self, lo: float, hi: float) -> float:
        """``∫_lo^hi f / ∫_ranges f``: the expected number of events in ``[lo, hi]`` per
        event in the fit's ranges (the SR's over the sidebands' for ``lo, hi`` the SR)."""
        return math.exp(self._log_integral(((lo, hi),)) - self._log_integral(self.ranges))

    def sample(self, n: int, lo: float, hi: float, rng: np.random.Generator) -> np.ndarray:
        """``n`` masses in ``[lo, hi]`` drawn from the fit (inverse CDF on a fine grid)."""
        grid = np.linspace(lo, hi, _GRID)
        a = self.log_shape(grid)
        pdf = np.exp(a - a.max())
        cdf = np.concatenate([[0.0], np.cumsum((pdf[1:] + pdf[:-1]) / 2)])
        return np.asarray(np.interp(rng.random(n), cdf / cdf[-1], grid))

    def state(self) -> dict[str, Any]:
        return {
            "params": list(self.params),
            "ranges": [list(r) for r in self.ranges],
            "n_events": self.n_events,
            "sqrt_s": self.sqrt_s,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> DijetFit:
        p = [float(v) for v in state["params"]]
        return cls(
            (p[0], p[1], p[2]),
            tuple((float(lo), float(hi)) for lo, hi in state["ranges"]),
            int(state["n_events"]),
            float(state["sqrt_s"]),
        )


def silverman_bandwidth(m: np.ndarray) -> float:
    """Silverman's Gaussian-KDE bandwidth ``0.9 min(std, IQR / 1.34) n^(-1/5)`` of the
    masses ``m`` (the standard deviation alone where the IQR is 0): the mass smoothing of
    template sampling and of ``p(m)`` in an SR.

    >>> round(silverman_bandwidth(np.linspace(3.3, 3.7, 101)), 4)
    0.0417
    """
    m = np.asarray(m, dtype=np.float64).reshape(-1)
    q75, q25 = np.percentile(m, [75, 25])
    spread = min(float(np.std(m)), float(q75 - q25) / 1.34) or float(np.std(m))
    return 0.9 * spread * len(m) ** (-0.2)


class MassDensity:
    """``p(m)`` in a window ``[lo, hi]``: a Gaussian KDE of the window's masses with
    Silverman's bandwidth, reflected at both edges (so it integrates to one inside the
    window), tabulated on ``points`` masses and interpolated.

    >>> rng = np.random.default_rng(0)
    >>> p = MassDensity(3.3, 3.7).fit(rng.uniform(3.3, 3.7, 5000))
    >>> grid = np.linspace(3.3, 3.7, 2001)
    >>> round(float(np.trapezoid(np.exp(p.log_prob(grid)), grid)), 3)
    1.0
    """

    def __init__(self, lo: float, hi: float, points: int = 512) -> None:
        if not hi > lo:
            raise InputError(f"mass window [{lo}, {hi}]: need lo < hi")
        self.lo, self.hi, self.points = float(lo), float(hi), int(points)

    def fit(self, m: np.ndarray) -> MassDensity:
        m = np.asarray(m, dtype=np.float64).reshape(-1)
        m = m[(m >= self.lo) & (m <= self.hi)]
        if len(m) < 2:
            raise InputError(f"{len(m)} masses in [{self.lo}, {self.hi}]: need at least two")
        h = max(silverman_bandwidth(m), 1e-6 * (self.hi - self.lo))
        grid = np.linspace(self.lo, self.hi, self.points)
        # a histogram of fine bins convolved with the kernel: O(points x bins), not O(n^2)
        counts, edges = np.histogram(m, bins=4 * self.points, range=(self.lo, self.hi))
        centres = 0.5 * (edges[1:] + edges[:-1])
        dens = np.zeros_like(grid)
        for mirror in (centres, 2 * self.lo - centres, 2 * self.hi - centres):
            u = (grid[:, None] - mirror[None, :]) / h
            dens += (np.exp(-0.5 * u**2) * counts[None, :]).sum(axis=1)
        dens /= np.trapezoid(dens, grid)
        self.grid_, self.log_density_ = grid, np.log(np.maximum(dens, 1e-300))
        self.bandwidth_ = h
        return self

    def log_prob(self, m: np.ndarray) -> np.ndarray:
        """``log p(m)``; masses outside the window get the density at its nearest edge."""
        if not hasattr(self, "grid_"):
            raise InputError("this MassDensity is not fitted: call fit()")
        m = np.clip(np.asarray(m, dtype=np.float64), self.lo, self.hi)
        return np.interp(m, self.grid_, self.log_density_)


class SidebandMassDensity:
    """The background's ``p(m)`` in the SR ``[lo, hi]``: the :class:`DijetFit` of the masses
    within ``width`` TeV below and above it, normalised in the SR. A signal in the SR does
    not enter its shape (the KDE of the SR data, :class:`MassDensity`, follows a bump).

    >>> rng = np.random.default_rng(0)
    >>> m = 2.5 + rng.exponential(0.6, 200_000)
    >>> bump = rng.normal(3.5, 0.05, 2_000)
    >>> p = SidebandMassDensity(3.3, 3.7).fit(np.concatenate([m, bump]))
    >>> grid = np.linspace(3.3, 3.7, 2001)
    >>> round(float(np.trapezoid(np.exp(p.log_prob(grid)), grid)), 3)
    1.0
    >>> truth = -grid / 0.6 - np.log(0.6 * (np.exp(-3.3 / 0.6) - np.exp(-3.7 / 0.6)))
    >>> bool(np.abs(p.log_prob(grid) - truth).max() < 0.02)
    True
    """

    def __init__(self, lo: float, hi: float, width: float = 0.4) -> None:
        if not hi > lo:
            raise InputError(f"mass window [{lo}, {hi}]: need lo < hi")
        if not width > 0:
            raise InputError(f"sideband width {width}: must be positive")
        self.lo, self.hi, self.width = float(lo), float(hi), float(width)

    def fit(self, m: np.ndarray) -> SidebandMassDensity:
        """Fit the masses ``m`` (any range: those in the sidebands are used)."""
        ranges = ((max(self.lo - self.width, 1e-3), self.lo), (self.hi, self.hi + self.width))
        self.fit_ = DijetFit.fit(m, ranges)
        self.log_norm_ = self.fit_._log_integral(((self.lo, self.hi),))
        return self

    def log_prob(self, m: np.ndarray) -> np.ndarray:
        """``log p(m)``; masses outside the window get the density at its nearest edge."""
        if not hasattr(self, "fit_"):
            raise InputError("this SidebandMassDensity is not fitted: call fit()")
        m = np.clip(np.asarray(m, dtype=np.float64), self.lo, self.hi)
        return self.fit_.log_shape(m) - self.log_norm_
