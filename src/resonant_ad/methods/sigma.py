"""SIGMA templates: v_data interpolated into the SR (linear, context, polynomial context)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion
from resonant_ad.errors import InputError
from resonant_ad.flows.interpolation import MassInterpolation
from resonant_ad.methods.base import FlowMethod, FlowTemplate
from resonant_ad.methods.registry import RegionInputs, register

if TYPE_CHECKING:
    from resonant_ad.config import StudyConfig

__all__ = ["INTERPOLATIONS", "SigmaMethod", "SigmaTemplate"]

INTERPOLATIONS = ("linear", "context", "poly")


class SigmaTemplate(FlowTemplate):
    """``v_data`` trained once on all data, interpolated from sideband masses into each SR.

    ``interpolation``:

    - ``"linear"``: the vector field, ``xi v(m1) + (1 - xi) v(m2)`` (SIGMA eq. 12);
    - ``"context"``: ``gamma_c`` and ``gamma_i`` interpolated the same way (eq. 13);
    - ``"poly"``: ``gamma_c`` and ``gamma_i`` fitted by a least-squares polynomial of
      ``poly_degree`` in ``m`` through sideband masses ``lo - o`` and ``hi + o`` for each
      offset ``o`` in ``poly_offsets`` (default 3.1, 3.2, 3.8, 3.9 TeV for SR 3.3-3.7).

    ``masses`` overrides the anchors (default ``signal_region.interpolation_masses()`` for
    linear and context). Build many SR templates from one fitted model:
    ``SigmaTemplate(model, interpolation="context").sample(sr, m_sr, n, seed)``.
    """

    name: ClassVar[str] = "sigma"

    def __init__(
        self,
        model: Any = None,
        *,
        interpolation: str = "context",
        masses: tuple[float, ...] | None = None,
        poly_degree: int = 2,
        poly_offsets: tuple[float, ...] = (0.1, 0.2),
        preset: str = "cpu",
        model_params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(model, preset=preset, model_params=model_params)
        if interpolation not in INTERPOLATIONS:
            raise InputError(
                f"SIGMA interpolation {interpolation!r}: choose one of {INTERPOLATIONS}"
            )
        self.interpolation_kind = interpolation
        self.masses = None if masses is None else tuple(float(m) for m in masses)
        self.poly_degree = poly_degree
        self.poly_offsets = tuple(float(o) for o in poly_offsets)

    @property
    def template_name(self) -> str:
        return f"sigma-{self.interpolation_kind}"

    def fit(
        self, train: Events, val: Events, signal_region: SignalRegion | None = None
    ) -> SigmaTemplate:
        """Train ``v_data`` on all data (``signal_region`` is not needed: one model for all)."""
        self.model = self._new_model().fit(train, val)
        return self

    def anchors(self, signal_region: SignalRegion) -> tuple[float, ...]:
        """The sideband masses the interpolation goes through."""
        if self.masses is not None:
            return self.masses
        if self.interpolation_kind == "poly":
            below = [
                round(signal_region.lo - o, 10) for o in sorted(self.poly_offsets, reverse=True)
            ]
            above = [round(signal_region.hi + o, 10) for o in sorted(self.poly_offsets)]
            return (*below, *above)
        return signal_region.interpolation_masses()

    def interpolation(self, signal_region: SignalRegion) -> MassInterpolation:
        anchors = self.anchors(signal_region)
        if any(signal_region.lo <= a <= signal_region.hi for a in anchors):
            raise InputError(f"interpolation masses {anchors} must lie outside {signal_region}")
        m_lo, m_hi = self._fitted_model().mass_range_
        if min(anchors) < m_lo or max(anchors) > m_hi:
            raise InputError(
                f"interpolation masses {anchors} lie outside the model's mass range "
                f"[{m_lo:.3f}, {m_hi:.3f}] TeV"
            )
        if self.interpolation_kind == "linear":
            return MassInterpolation(anchors, degree=len(anchors) - 1, level="field")
        if self.interpolation_kind == "context":
            return MassInterpolation(anchors, degree=len(anchors) - 1, level="context")
        return MassInterpolation(anchors, degree=self.poly_degree, level="context")

    def settings(self) -> dict[str, Any]:
        return {
            **super().settings(),
            "interpolation": self.interpolation_kind,
            "masses": self.masses,
            "poly_degree": self.poly_degree,
            "poly_offsets": self.poly_offsets,
        }

    def state(self) -> dict[str, Any]:
        return {**super().state(), "template": self.template_name}


class SigmaMethod(FlowMethod):
    """``sigma-<interpolation>``: the one ``v_data`` interpolated into each SR.

    The linear and context interpolations go through the masses ``[model]
    interpolation_offset`` outside the SR; the polynomial one through its fixed offsets.

    CPU budget (:attr:`~resonant_ad.methods.registry.Method.cpu_budget`): 20 s per SR on two
    cores for a dev-sample SR (the template: 4x the SR data through the ODE); ``v_data``
    trains once for every SR (measured in ``benchmarks/results/bench_templates``).
    """

    trains_on = "all-data"
    cpu_budget = 20.0
    model_id = "vdata"
    default = True
    template_class = SigmaTemplate

    def __init__(self, interpolation: str, label: str, color: str, linestyle: str) -> None:
        self.interpolation = interpolation
        self.name = f"sigma-{interpolation}"
        self.label, self.color, self.linestyle = label, color, linestyle

    def template_settings(self, config: StudyConfig) -> Any:
        return None if self.interpolation == "poly" else config.model.interpolation_offset

    def flow_template(self, model: Any, inputs: RegionInputs) -> SigmaTemplate:
        offset = inputs.config.model.interpolation_offset
        masses = (
            None if self.interpolation == "poly" else inputs.region.interpolation_masses(offset)
        )
        return SigmaTemplate(model, interpolation=self.interpolation, masses=masses)

    def template(self, model: Any, inputs: RegionInputs, n: int) -> Events:
        template = self.flow_template(model, inputs)
        return template.sample(inputs.region, inputs.data.m, n, seed=inputs.seed)


register(SigmaMethod("linear", "SIGMA linear", "#d62728", "--"))
register(SigmaMethod("context", "SIGMA context", "#2ca02c", "-"))
register(SigmaMethod("poly", "SIGMA polynomial", "#9467bd", "-."))
