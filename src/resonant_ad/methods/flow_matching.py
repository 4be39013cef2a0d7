"""What the methods built on one flow-matching model declare alike (``data``, ``cr``, the
SIGMA templates): :class:`FlowMatchingMethod`."""

from __future__ import annotations

from typing import Any, ClassVar

from resonant_ad.flows.velocity import REVISION
from resonant_ad.methods.inputs import RegionInputs
from resonant_ad.methods.registry import Method
from resonant_ad.models.base import ModelContext
from resonant_ad.models.flow_matching import PRESETS, FieldInSR, FlowMatchingBackground

__all__ = ["FlowMatchingMethod"]


class FlowMatchingMethod(Method):
    """A method whose model is a :class:`~resonant_ad.models.flow_matching.FlowMatchingBackground`
    of the ``[model] preset`` (:data:`~resonant_ad.flows.presets.PRESETS`) with the
    ``[model]`` overrides and the method's ``mass_embedding``. In an SR the model is read at
    the SR masses (:meth:`interpolation` ``None``) or through an interpolation; its exact
    density uses the ``[density]`` ODE solver."""

    model_class = FlowMatchingBackground
    presets = PRESETS
    revision = REVISION
    has_density = True
    mass_embedding: ClassVar[str] = "frequency"

    def build(self, settings: Any, context: ModelContext) -> FlowMatchingBackground:
        return FlowMatchingBackground.build(settings, context, self.mass_embedding)

    def interpolation(self, model: Any, inputs: RegionInputs) -> Any:
        """The mass interpolation into ``inputs.region`` (``None``: the SR masses)."""
        return None

    def sampler(self, model: Any, inputs: RegionInputs) -> FieldInSR:
        from resonant_ad.flows.ode import ODESolver

        d = inputs.config.density
        solver = ODESolver(d.solver, d.solver_steps)
        return FieldInSR(model, self.interpolation(model, inputs), solver)
