"""``iad``: the idealized anomaly detector, whose template is the true SR background."""

from __future__ import annotations

from typing import Any

from resonant_ad.data.events import Events
from resonant_ad.errors import InputError
from resonant_ad.methods.inputs import RegionInputs
from resonant_ad.methods.registry import Method, register

__all__ = ["IdealizedMethod"]


class IdealizedMethod(Method):
    """The weakly supervised classifier against a perfect template: background events from
    the same distribution as the SR background (``[data] extra_background``, the half not
    used for testing). It bounds what a template method can reach with as many template
    events; a real search has no such sample."""

    name = "iad"
    label = "Idealized AD"
    color = "black"
    linestyle = ":"
    trains_on = "nothing"
    needs_truth = True
    default = True

    def missing(self, inputs: RegionInputs) -> str | None:
        if inputs.truth is None:
            return "iad needs extra SR background ([data] extra_background)"
        return None

    def template(self, model: Any, inputs: RegionInputs, n: int) -> Events:
        if inputs.truth is None:
            raise InputError("iad needs extra SR background ([data] extra_background)")
        return inputs.truth


register(IdealizedMethod())
