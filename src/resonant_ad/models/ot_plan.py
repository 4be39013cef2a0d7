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

__all__ = ["SOLVERS", "OTPlan", "OTSettings", "displacement", "solve_plan"]

log = logging.getLogger(__name__)

SOLVERS = ("exact", "sinkhorn")
"""``exact``: the earth mover's plan (network simplex, ``ot.emd``); ``sinkhorn``: the
entropic plan (``ot.sinkhorn``)."""


@dataclass(frozen=True)
class OTSettings:
    """How the plan between the sidebands is solved (part of the model's cache key)."""

    events_per_side: int = 3000
    """Sideband events drawn at random from each side (all of a side that has fewer)."""
    solver: str = "sinkhorn"
    reg: float = 0.05
    """``sinkhorn``: the entropic regularisation as a fraction of the mean pair cost."""
    pairs: int = 250_000
    """``sinkhorn``: pairs drawn from the dense plan with its weights and kept (the exact
    plan keeps its whole support, at most ``2 events_per_side - 1`` pairs)."""
    max_iter: int = 1_000_000
    """Iteration limit of the solver (network-simplex pivots or Sinkhorn sweeps)."""

    def __post_init__(self) -> None:
        if self.solver not in SOLVERS:
            raise InputError(f"OT solver {self.solver!r}: choose one of {SOLVERS}")
        if self.events_per_side < 2:
            raise InputError(f"events_per_side = {self.events_per_side}: need at least 2")
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


class OTPlan(Configured[OTSettings], Persistent):
    """Sideband events and the pairs of an OT plan between them (the ``rad-ot`` model).

    Fitted attributes: ``x_lo_``/``m_lo_`` and ``x_hi_``/``m_hi_``, the lower- and
    upper-sideband events of the plan (original units); ``i_``, ``j_``, ``w_``: its pairs
    ``(x_lo_[i], x_hi_[j])`` and their weights (summing to one); ``mean_cost_`` and
    ``solve_seconds_``.
    """

    FORMAT = "resonant_ad.OTPlan"
    VERSION = 2
    _ARRAYS = ("x_lo", "m_lo", "x_hi", "m_hi", "i", "j", "w")
    SETTINGS = OTSettings

    def fit(self, train: Events, val: Events, *, random_state: int = 0) -> OTPlan:
        """Solve the plan between the events of ``train`` and ``val`` below and above the
        SR (nothing is trained: both splits are sideband events to pair)."""
        signal_region = self.context.needs_region("rad-ot")
        events = Events.concatenate([train, val])
        s = self.settings
        lower = events.select(events.m < signal_region.lo)
        upper = events.select(events.m > signal_region.hi)
        if len(lower) < 2 or len(upper) < 2:
            raise InputError(
                f"rad-ot needs events on both sides of {signal_region}: "
                f"{len(lower)} below, {len(upper)} above"
            )
        rng = np.random.default_rng(random_state)
        lower = lower.select(np.sort(rng.permutation(len(lower))[: s.events_per_side]))
        upper = upper.select(np.sort(rng.permutation(len(upper))[: s.events_per_side]))
        both = np.concatenate([lower.x, upper.x])
        mean, std = both.mean(axis=0), both.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        t0 = time.perf_counter()
        i, j, w, cost = solve_plan((lower.x - mean) / std, (upper.x - mean) / std, s, rng)
        seconds = time.perf_counter() - t0
        log.info(
            "rad-ot plan for %s: %d x %d events, %d pairs, %.1f s",
            signal_region,
            len(lower),
            len(upper),
            len(w),
            seconds,
        )
        self.x_lo_, self.m_lo_, self.x_hi_, self.m_hi_ = lower.x, lower.m, upper.x, upper.m
        self.i_, self.j_, self.w_ = i.astype(np.int64), j.astype(np.int64), w
        self.feature_names_ = events.feature_names
        self.signal_region_ = signal_region
        self.mean_cost_, self.solve_seconds_ = cost, seconds
        return self

    def sample(self, m: np.ndarray, *, seed: int | None = None) -> np.ndarray:
        """Features at the masses ``m``: for each, a pair drawn with the plan's weights and
        displaced to ``m`` (see :func:`displacement`)."""
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
        x = displacement(self.x_lo_[i], self.m_lo_[i], self.x_hi_[j], self.m_hi_[j], m)
        return x, pair

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
