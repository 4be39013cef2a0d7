"""The templates of a fitted flow-matching model (``data``, ``cr``, ``sigma-linear``,
``sigma-context``, ``sigma-poly``) drawn as those methods draw them, with the ODE solver of
the sampling chosen by the caller (the benchmarks that time the samplers or compare them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion
from resonant_ad.flows.model import FlowMatchingModel
from resonant_ad.flows.ode import ODESolver
from resonant_ad.models.base import draw_template
from resonant_ad.models.flow_matching import FieldInSR, sigma_interpolation

FLOW_TEMPLATES = ("data", "cr", "sigma-linear", "sigma-context", "sigma-poly")
"""The templates of one flow-matching model: read at the SR masses or interpolated (SIGMA)."""


@dataclass(frozen=True)
class SolvedField(FieldInSR):
    """A :class:`~resonant_ad.models.flow_matching.FieldInSR` whose samples are solved with
    ``solver`` too (``None``: the model's own solver)."""

    def sample(self, m: np.ndarray, *, seed: int | None = None) -> np.ndarray:
        """Features at the masses ``m`` (seeded by ``seed``), integrated with ``solver``."""
        x = self.model.sample(m, seed=seed, interpolation=self.interpolation, solver=self.solver)
        return np.asarray(x)


def field_in_sr(
    model: FlowMatchingModel, name: str, region: SignalRegion, solver: ODESolver | None = None
) -> SolvedField:
    """``model`` as the template ``name`` reads it in ``region``: at the SR masses (``data``,
    ``cr``) or through SIGMA's interpolation from its default sideband masses (``sigma-*``)."""
    if name in ("data", "cr"):
        return SolvedField(model, None, solver)
    interpolation = sigma_interpolation(model, name.removeprefix("sigma-"), region)
    return SolvedField(model, interpolation, solver)


def flow_template(
    model: FlowMatchingModel,
    name: str,
    region: SignalRegion,
    data: Events,
    n: int,
    seed: int,
    solver: ODESolver | None = None,
) -> Events:
    """``n`` events (label 0) of the template ``name`` in ``region`` at masses drawn from the
    SR data ``data`` (:func:`~resonant_ad.models.base.draw_template`); the model's
    ``sampling_stats_`` then hold the sampling's time and ODE evaluations."""
    view = field_in_sr(model, name, region, solver)
    return draw_template(view, region, data, n, seed, name)
