"""SIGMA templates: v_data interpolated into the SR (linear, context, polynomial context)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from resonant_ad.flows.interpolation import MassInterpolation
from resonant_ad.methods.flow_matching import FlowMatchingMethod
from resonant_ad.methods.inputs import RegionInputs
from resonant_ad.methods.registry import register
from resonant_ad.models.flow_matching import sigma_interpolation

if TYPE_CHECKING:
    from resonant_ad.config import StudyConfig

__all__ = ["SigmaMethod"]


class SigmaMethod(FlowMatchingMethod):
    """``sigma-<interpolation>``: the one ``v_data``, trained on all data, interpolated from
    sideband masses into each SR
    (:func:`~resonant_ad.models.flow_matching.sigma_interpolation`).

    The linear and context interpolations go through the masses ``[model]
    interpolation_offset`` outside the SR; the polynomial one through its fixed offsets.

    CPU budget (:attr:`~resonant_ad.methods.registry.Method.cpu_budget`): 20 s per SR on two
    cores for a dev-sample SR (the template: 4x the SR data through the ODE); ``v_data``
    trains once for every SR (measured in
    ``benchmarks/templates/results/compare_sigma-features/summary.txt``).
    """

    trains_on = "all-data"
    cpu_budget = 20.0
    model_id = "vdata"
    default = True

    def __init__(self, interpolation: str, label: str, color: str, linestyle: str) -> None:
        self.interpolation_kind = interpolation
        self.name = f"sigma-{interpolation}"
        self.label, self.color, self.linestyle = label, color, linestyle

    def template_settings(self, config: StudyConfig) -> Any:
        return None if self.interpolation_kind == "poly" else config.model.interpolation_offset

    def interpolation(self, model: Any, inputs: RegionInputs) -> MassInterpolation:
        region, kind = inputs.region, self.interpolation_kind
        offset = inputs.config.model.interpolation_offset
        masses = None if kind == "poly" else region.interpolation_masses(offset)
        return sigma_interpolation(model, kind, region, masses)


register(SigmaMethod("linear", "SIGMA linear", "#d62728", "--"))
register(SigmaMethod("context", "SIGMA context", "#2ca02c", "-"))
register(SigmaMethod("poly", "SIGMA polynomial", "#9467bd", "-."))
