"""The flow-matching background model (``data``, ``cr``, the SIGMA templates): a
:class:`~resonant_ad.flows.model.FlowMatchingModel` trained as a background model, and
:class:`FieldInSR`, the model as it samples and evaluates in one SR (at the SR masses, or
interpolated from sideband masses as SIGMA does)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion
from resonant_ad.errors import InputError
from resonant_ad.flows.interpolation import MassInterpolation
from resonant_ad.flows.model import FlowMatchingModel
from resonant_ad.flows.ode import ODESolver
from resonant_ad.flows.presets import PRESETS
from resonant_ad.models.base import ModelContext

__all__ = [
    "INTERPOLATIONS",
    "PRESETS",
    "FieldInSR",
    "FlowMatchingBackground",
    "sigma_interpolation",
]

INTERPOLATIONS = ("linear", "context", "poly")
"""SIGMA's interpolations of ``v_data`` from sideband masses into an SR."""


class FlowMatchingBackground(FlowMatchingModel):
    """A :class:`~resonant_ad.flows.model.FlowMatchingModel` built from a preset's keyword
    arguments (``settings``) and a :class:`~resonant_ad.models.base.ModelContext`, whose
    :meth:`fit` takes the seed. It is stored in the flow's own format."""

    @classmethod
    def build(
        cls, settings: dict[str, Any], context: ModelContext, mass_embedding: str
    ) -> FlowMatchingBackground:
        """The unfitted model of ``settings`` with the ``mass_embedding`` of ``m``."""
        return cls(
            **{"mass_embedding": mass_embedding, **settings},
            device=context.device,
            progress=context.progress,
            checkpoint_path=context.checkpoint,
        )

    def fit(
        self, train_events: Events, val_events: Events, *, random_state: int | None = None
    ) -> FlowMatchingBackground:
        """Train on ``train_events``, select on ``val_events``, seeded by ``random_state``
        (``None``: the model's own ``random_state``); returns ``self``."""
        if random_state is not None:
            self.random_state = random_state
        super().fit(train_events, val_events)
        return self


def sigma_interpolation(
    model: FlowMatchingModel,
    kind: str,
    region: SignalRegion,
    masses: tuple[float, ...] | None = None,
    poly_degree: int = 2,
    poly_offsets: tuple[float, ...] = (0.1, 0.2),
) -> MassInterpolation:
    """SIGMA's interpolation of ``model`` into ``region`` through sideband masses:

    - ``"linear"``: the vector field, ``xi v(m1) + (1 - xi) v(m2)`` (SIGMA eq. 12);
    - ``"context"``: ``gamma_c`` and ``gamma_i`` interpolated the same way (eq. 13);
    - ``"poly"``: ``gamma_c`` and ``gamma_i`` fitted by a least-squares polynomial of
      ``poly_degree`` in ``m`` through sideband masses ``lo - o`` and ``hi + o`` for each
      offset ``o`` in ``poly_offsets`` (default 3.1, 3.2, 3.8, 3.9 TeV for SR 3.3-3.7).

    ``masses`` overrides the anchors (default ``region.interpolation_masses()`` for linear
    and context).
    """
    if kind not in INTERPOLATIONS:
        raise InputError(f"SIGMA interpolation {kind!r}: choose one of {INTERPOLATIONS}")
    if masses is not None:
        anchors = tuple(float(m) for m in masses)
    elif kind == "poly":
        below = [round(region.lo - o, 10) for o in sorted(poly_offsets, reverse=True)]
        above = [round(region.hi + o, 10) for o in sorted(poly_offsets)]
        anchors = (*below, *above)
    else:
        anchors = region.interpolation_masses()
    if any(region.lo <= a <= region.hi for a in anchors):
        raise InputError(f"interpolation masses {anchors} must lie outside {region}")
    m_lo, m_hi = model.mass_range_
    if min(anchors) < m_lo or max(anchors) > m_hi:
        raise InputError(
            f"interpolation masses {anchors} lie outside the model's mass range "
            f"[{m_lo:.3f}, {m_hi:.3f}] TeV"
        )
    if kind == "linear":
        return MassInterpolation(anchors, degree=len(anchors) - 1, level="field")
    if kind == "context":
        return MassInterpolation(anchors, degree=len(anchors) - 1, level="context")
    return MassInterpolation(anchors, degree=poly_degree, level="context")


@dataclass(frozen=True)
class FieldInSR:
    """A fitted flow-matching model as it serves one SR: sampled and evaluated at the SR
    masses (``interpolation`` ``None``) or through an interpolation from sideband masses;
    ``solver`` is the ODE solver of :meth:`log_prob` (``None``: the model's)."""

    model: FlowMatchingModel
    interpolation: MassInterpolation | None = None
    solver: ODESolver | None = None

    @property
    def feature_names_(self) -> tuple[str, ...]:
        return self.model.feature_names_

    @property
    def signal_region_(self) -> SignalRegion | None:
        return getattr(self.model, "signal_region_", None)

    def sample(self, m: np.ndarray, *, seed: int | None = None) -> np.ndarray:
        """Features at the masses ``m`` (seeded by ``seed``)."""
        return np.asarray(self.model.sample(m, seed=seed, interpolation=self.interpolation))

    def log_prob(self, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Exact ``log p(x | m)`` in the original feature space."""
        lp = self.model.log_prob(x, m, interpolation=self.interpolation, solver=self.solver)
        return np.asarray(lp)
