"""``rad-ot``'s model (:class:`OTPlan`): an optimal-transport plan between the lower and the
upper sideband of an SR, and the displacement interpolation along it."""

from __future__ import annotations

import dataclasses
import logging
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion
from resonant_ad.errors import InputError
from resonant_ad.models.base import Configured
from resonant_ad.persistence import Persistent

__all__ = [
    "SOLVERS",
    "SPACES",
    "OTPlan",
    "OTSettings",
    "displacement",
    "from_gauss",
    "gauss_knots",
    "solve_plan",
    "to_gauss",
]

log = logging.getLogger(__name__)

SOLVERS = ("exact", "sinkhorn")
"""``exact``: the earth mover's plan (network simplex, ``ot.emd``); ``sinkhorn``: the
entropic plan (``ot.sinkhorn``)."""

SPACES = ("standard", "gauss")
"""``standard``: the cost and the interpolation in the features standardised with their joint
mean and spread (the interpolation is the same in the original features); ``gauss``: both in
the features mapped marginally to a standard normal (each through the joint empirical
quantiles of the plan's events), the interpolated points mapped back."""

KNOTS = 2000
"""Quantile knots per feature of the ``gauss`` space."""


@dataclass(frozen=True)
class OTSettings:
    """How the plan between the sidebands is solved (part of the model's cache key)."""

    events_per_side: int = 0
    """Sideband events drawn at random from each side (all of a side that has fewer; 0:
    all)."""
    side_width: float = 0.4
    """TeV of each sideband next to the SR whose events the plan uses (0: the whole
    sideband, every mass below and above the SR)."""
    space: str = "gauss"
    """Where the cost and the interpolation are computed: one of :data:`SPACES`."""
    batch: int = 3000
    """Most events per side in one solve: the drawn events are split at random into that
    many-sized batches, a plan solved in each and the plans joined with equal weights
    (mini-batch OT; 0: one solve)."""
    solver: str = "exact"
    reg: float = 0.05
    """``sinkhorn``: the entropic regularisation as a fraction of the mean pair cost."""
    pairs: int = 250_000
    """``sinkhorn``: pairs drawn from the dense plans with their weights and kept (the exact
    plan keeps its whole support, fewer pairs than the events of a batch's two sides)."""
    max_iter: int = 1_000_000
    """Iteration limit of the solver (network-simplex pivots or Sinkhorn sweeps)."""

    def __post_init__(self) -> None:
        if self.solver not in SOLVERS:
            raise InputError(f"OT solver {self.solver!r}: choose one of {SOLVERS}")
        if self.space not in SPACES:
            raise InputError(f"OT space {self.space!r}: choose one of {SPACES}")
        if self.events_per_side < 2 and self.events_per_side != 0:
            raise InputError(f"events_per_side = {self.events_per_side}: need 0 or at least 2")
        if self.batch < 2 and self.batch != 0:
            raise InputError(f"batch = {self.batch}: need 0 or at least 2")
        if self.side_width < 0:
            raise InputError(f"side_width = {self.side_width}: must not be negative")
        if self.reg <= 0 or self.pairs < 1 or self.max_iter < 1:
            raise InputError("reg must be positive, pairs and max_iter at least 1")


def displacement(
    x_lo: np.ndarray, m_lo: np.ndarray, x_hi: np.ndarray, m_hi: np.ndarray, m: np.ndarray
) -> np.ndarray:
    """Points ``x_lo + t (x_hi - x_lo)`` with ``t = (m - m_lo) / (m_hi - m_lo)`` (row-wise).

    >>> displacement(np.array([[0.0, 2.0]]), np.array([3.0]), np.array([[4.0, 0.0]]),
    ...              np.array([4.0]), np.array([3.25])).tolist()
    [[1.0, 1.5]]
    """
    t = (np.asarray(m, dtype=np.float64) - m_lo) / (m_hi - m_lo)
    return x_lo + t[:, None] * (x_hi - x_lo)


def solve_plan(
    z_lo: np.ndarray,
    z_hi: np.ndarray,
    settings: OTSettings,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The OT plan between equal-weight point clouds ``z_lo`` and ``z_hi`` under the squared
    Euclidean cost, as ``(i, j, w, cost)``: index pairs ``(z_lo[i], z_hi[j])``, their
    weights (summing to one) and the plan's transport cost per unit of mass.

    The exact plan is returned as its support. The entropic plan is dense: ``settings.pairs``
    pairs are drawn from it with its weights (``rng``), the same pairs merged with their
    counts as weights. Sinkhorn runs on the kernel directly and falls back to the slower
    log-domain iterations if the kernel underflows.
    """
    import ot

    a = np.full(len(z_lo), 1.0 / len(z_lo))
    b = np.full(len(z_hi), 1.0 / len(z_hi))
    cost = ot.dist(z_lo, z_hi, metric="sqeuclidean")
    if settings.solver == "exact":
        plan = ot.emd(a, b, cost, numItermax=settings.max_iter)
        i, j = np.nonzero(plan > 1e-14)
        w = plan[i, j]
    else:
        reg = settings.reg * float(cost.mean())
        kwargs = {"numItermax": settings.max_iter, "stopThr": 1e-7}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plan = ot.sinkhorn(a, b, cost, reg, method="sinkhorn", **kwargs)
        if not np.all(np.isfinite(plan)) or not plan.sum() > 0:
            plan = ot.sinkhorn(a, b, cost, reg, method="sinkhorn_log", **kwargs)
        flat = plan.ravel() / plan.sum()
        rng = rng or np.random.default_rng(0)
        drawn, counts = np.unique(
            rng.choice(len(flat), size=settings.pairs, p=flat), return_counts=True
        )
        i, j = np.divmod(drawn, plan.shape[1])
        w = counts.astype(np.float64)
        transport = float((cost * plan).sum() / plan.sum())
        return i, j, w / w.sum(), transport
    total = float(w.sum())
    if not total > 0:
        raise InputError("the optimal-transport solver returned an empty plan")
    return i, j, w / total, float((cost[i, j] * w).sum() / total)


def gauss_knots(x: np.ndarray, knots: int = KNOTS) -> np.ndarray:
    """Per-feature quantiles of ``x`` at ``(k + 1/2) / knots``, shape ``(knots, d)``."""
    return np.quantile(x, (np.arange(knots) + 0.5) / knots, axis=0)


def to_gauss(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """``x`` mapped marginally to a standard normal through the quantiles ``knots``
    (:func:`gauss_knots`), clipped at the outer knots."""
    from scipy.special import ndtri

    p = (np.arange(len(knots)) + 0.5) / len(knots)
    return np.stack([ndtri(np.interp(x[:, k], knots[:, k], p)) for k in range(x.shape[1])], 1)


def from_gauss(z: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """The inverse of :func:`to_gauss` (within the outer knots).

    >>> kn = gauss_knots(np.random.default_rng(0).exponential(size=(5000, 1)))
    >>> x = np.array([[0.5], [1.0]])
    >>> bool(np.allclose(from_gauss(to_gauss(x, kn), kn), x))
    True
    """
    from scipy.special import ndtr

    p = (np.arange(len(knots)) + 0.5) / len(knots)
    return np.stack([np.interp(ndtr(z[:, k]), p, knots[:, k]) for k in range(z.shape[1])], 1)


class OTPlan(Configured[OTSettings], Persistent):
    """Sideband events and the pairs of an OT plan between them (the ``rad-ot`` model).

    Fitted attributes: ``x_lo_``/``m_lo_`` and ``x_hi_``/``m_hi_``, the lower- and
    upper-sideband events of the plan (original units); ``i_``, ``j_``, ``w_``: its pairs
    ``(x_lo_[i], x_hi_[j])`` and their weights (summing to one); ``knots_``: the quantiles of
    the ``gauss`` space (empty in the ``standard`` space); ``mean_cost_`` and
    ``solve_seconds_``.
    """

    FORMAT = "resonant_ad.OTPlan"
    VERSION = 3
    _ARRAYS = ("x_lo", "m_lo", "x_hi", "m_hi", "i", "j", "w", "knots")
    SETTINGS = OTSettings

    def _to_space(self, x: np.ndarray) -> np.ndarray:
        return to_gauss(x, self.knots_) if len(self.knots_) else x

    def fit(self, train: Events, val: Events, *, random_state: int = 0) -> OTPlan:
        """Solve the plan between the events of ``train`` and ``val`` below and above the
        SR (nothing is trained: both splits are sideband events to pair)."""
        signal_region = self.context.needs_region("rad-ot")
        events = Events.concatenate([train, val])
        s = self.settings
        lo, hi = signal_region.lo, signal_region.hi
        width = s.side_width if s.side_width > 0 else np.inf
        lower = events.select((events.m < lo) & (events.m >= lo - width))
        upper = events.select((events.m > hi) & (events.m <= hi + width))
        if len(lower) < 2 or len(upper) < 2:
            raise InputError(
                f"rad-ot needs events on both sides of {signal_region}: "
                f"{len(lower)} below, {len(upper)} above"
            )
        rng = np.random.default_rng(random_state)
        keep = s.events_per_side or max(len(lower), len(upper))
        lower = lower.select(np.sort(rng.permutation(len(lower))[:keep]))
        upper = upper.select(np.sort(rng.permutation(len(upper))[:keep]))
        both = np.concatenate([lower.x, upper.x])
        self.knots_ = gauss_knots(both) if s.space == "gauss" else np.zeros((0, both.shape[1]))
        z_lo, z_hi = self._to_space(lower.x), self._to_space(upper.x)
        joint = np.concatenate([z_lo, z_hi])
        mean, std = joint.mean(axis=0), joint.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        z_lo, z_hi = (z_lo - mean) / std, (z_hi - mean) / std
        n_batches = 1 if not s.batch else -(-max(len(lower), len(upper)) // s.batch)
        part = dataclasses.replace(s, pairs=-(-s.pairs // n_batches))
        b_lo = np.array_split(rng.permutation(len(lower)), n_batches)
        b_hi = np.array_split(rng.permutation(len(upper)), n_batches)
        t0 = time.perf_counter()
        found, cost = [], 0.0
        for k_lo, k_hi in zip(b_lo, b_hi, strict=True):
            i, j, w, c = solve_plan(z_lo[k_lo], z_hi[k_hi], part, rng)
            found.append((k_lo[i], k_hi[j], w / n_batches))
            cost += c / n_batches
        seconds = time.perf_counter() - t0
        i, j, w = (np.concatenate(a) for a in zip(*found, strict=True))
        log.info(
            "rad-ot plan for %s: %d x %d events, %d batches, %d pairs, %.1f s",
            signal_region,
            len(lower),
            len(upper),
            n_batches,
            len(w),
            seconds,
        )
        self.x_lo_, self.m_lo_, self.x_hi_, self.m_hi_ = lower.x, lower.m, upper.x, upper.m
        self.i_, self.j_, self.w_ = i.astype(np.int64), j.astype(np.int64), w / w.sum()
        self.feature_names_ = events.feature_names
        self.signal_region_ = signal_region
        self.mean_cost_, self.solve_seconds_ = cost, seconds
        return self

    def sample(self, m: np.ndarray, *, seed: int | None = None) -> np.ndarray:
        """Features at the masses ``m``: for each, a pair drawn with the plan's weights and
        displaced to ``m`` (see :func:`displacement`) in the plan's space."""
        return self.sample_pairs(m, seed=seed)[0]

    def sample_pairs(
        self, m: np.ndarray, *, seed: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`sample` and the index of each event's pair in ``i_``/``j_``/``w_``."""
        m = np.asarray(m, dtype=np.float64).reshape(-1)
        lo, hi = float(self.m_lo_.max()), float(self.m_hi_.min())
        if np.any((m < lo) | (m > hi)):
            raise InputError(
                f"rad-ot interpolates between the sidebands: masses must lie in "
                f"[{lo:.4f}, {hi:.4f}] TeV"
            )
        rng = np.random.default_rng(seed)
        pair = rng.choice(len(self.w_), size=len(m), p=self.w_)
        i, j = self.i_[pair], self.j_[pair]
        x_lo, x_hi = self._to_space(self.x_lo_[i]), self._to_space(self.x_hi_[j])
        x = displacement(x_lo, self.m_lo_[i], x_hi, self.m_hi_[j], m)
        return (from_gauss(x, self.knots_) if len(self.knots_) else x), pair

    def state(self) -> dict[str, Any]:
        sr = self.signal_region_
        return {
            **self._format(),
            **{name: getattr(self, name + "_") for name in self._ARRAYS},
            "mean_cost": self.mean_cost_,
            "solve_seconds": self.solve_seconds_,
            "feature_names": list(self.feature_names_),
            "signal_region": [sr.lo, sr.hi, sr.sideband_width],
            "settings": dataclasses.asdict(self.settings),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], device: str = "auto") -> OTPlan:
        """The plan of :meth:`state` (numpy arrays: ``device`` is not used)."""
        cls._check_format(state, "rad-ot plan")
        plan = cls(OTSettings(**state["settings"]))
        for name in (*cls._ARRAYS, "mean_cost", "solve_seconds"):
            setattr(plan, name + "_", state[name])
        plan.feature_names_ = tuple(state["feature_names"])
        plan.signal_region_ = SignalRegion(*state["signal_region"])
        return plan
