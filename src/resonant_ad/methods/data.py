"""``data`` template: v_data trained on all data, evaluated in the SR (learns the signal)."""

from __future__ import annotations

from typing import Any, ClassVar

from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion
from resonant_ad.methods.base import FlowMethod, FlowTemplate
from resonant_ad.methods.registry import RegionInputs, register

__all__ = ["DataMethod", "DataTemplate"]


class DataTemplate(FlowTemplate):
    """``v_data(x | t, m)`` sampled at SR masses directly.

    Trained on all data, the SR included, with the frequency embedding of ``m``: it models
    the *data*, signal included, so it is a yardstick (a template that should show the
    signal), not a background estimate. Its fitted model is the one SIGMA interpolates.
    """

    name: ClassVar[str] = "data"

    def fit(
        self, train: Events, val: Events, signal_region: SignalRegion | None = None
    ) -> DataTemplate:
        """Train ``v_data`` on all of ``train`` (``signal_region`` is not needed)."""
        self.model = self._new_model().fit(train, val)
        return self


class DataMethod(FlowMethod):
    """``data``: ``v_data`` sampled in the SR, the yardstick that learns the signal too."""

    name = "data"
    label = r"$v^{\mathrm{data}}$ (all data)"
    color = "#ff7f0e"
    trains_on = "all-data"
    model_id = "vdata"
    default = True
    has_density = False  # its density includes the signal: not a background for R-ANODE
    template_class = DataTemplate

    def template(self, model: Any, inputs: RegionInputs, n: int) -> Events:
        return DataTemplate(model).sample(inputs.region, inputs.data.m, n, seed=inputs.seed)


register(DataMethod())
