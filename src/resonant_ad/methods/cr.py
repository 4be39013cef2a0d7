"""``cr`` template: CATHODE-style v_CR trained on the sidebands of one SR only."""

from __future__ import annotations

from typing import Any, ClassVar

from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion
from resonant_ad.errors import InputError
from resonant_ad.methods.base import FlowMethod, FlowTemplate
from resonant_ad.methods.registry import RegionInputs, register

__all__ = ["CRMethod", "CRTemplate"]


class CRTemplate(FlowTemplate):
    """``v_CR(x | t, m)``: trained on sideband events only, with ``alpha(m) = m``.

    Never sees the SR, so it cannot learn a signal there; one training per SR (SIGMA
    section II.3.1). Sampling or evaluating it for another SR raises :class:`InputError`.
    """

    name: ClassVar[str] = "cr"
    mass_embedding: ClassVar[str] = "identity"

    def __init__(
        self,
        model: Any = None,
        *,
        signal_region: SignalRegion | None = None,
        preset: str = "cpu",
        model_params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(model, preset=preset, model_params=model_params)
        self.signal_region = signal_region

    def fit(
        self, train: Events, val: Events, signal_region: SignalRegion | None = None
    ) -> CRTemplate:
        """Train on the events of ``train``/``val`` in the sidebands of ``signal_region``."""
        sr = signal_region or self.signal_region
        if sr is None:
            raise InputError("the 'cr' template needs a signal region to train on its sidebands")
        self.signal_region = sr
        sb_train = train.select(sr.sideband(train.m))
        sb_val = val.select(sr.sideband(val.m))
        self.model = self._new_model().fit(sb_train, sb_val)
        return self

    def _check_region(self, signal_region: SignalRegion) -> None:
        if self.signal_region is not None and signal_region != self.signal_region:
            raise InputError(
                f"this 'cr' template was trained for {self.signal_region}, "
                f"not {signal_region}: train one per signal region"
            )

    def settings(self) -> dict[str, Any]:
        sr = self.signal_region
        region = None if sr is None else (sr.lo, sr.hi, sr.sideband_width)
        return {**super().settings(), "signal_region": region}


class CRMethod(FlowMethod):
    """``cr``: one ``v_CR`` per SR trained on its sidebands (CATHODE with flow matching).

    CPU budget (:attr:`~resonant_ad.methods.registry.Method.cpu_budget`): 180 s per SR on two
    cores for a dev-sample SR at 40 epochs of the ``cpu`` preset, training included
    (measured in ``benchmarks/results/bench_templates``).
    """

    name = "cr"
    cpu_budget = 180.0
    label = r"$v^{\mathrm{CR}}$ (CATHODE-style)"
    color = "#1f77b4"
    trains_on = "sidebands"
    default = True
    template_class = CRTemplate

    def flow_template(self, model: Any, inputs: RegionInputs) -> CRTemplate:
        return CRTemplate(model, signal_region=inputs.region)

    def template(self, model: Any, inputs: RegionInputs, n: int) -> Events:
        return self.flow_template(model, inputs).sample(
            inputs.region, inputs.data.m, n, seed=inputs.seed
        )


register(CRMethod())
