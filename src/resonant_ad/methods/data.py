"""``data``: v_data trained on all data, evaluated in the SR (learns the signal)."""

from __future__ import annotations

from resonant_ad.methods.flow_matching import FlowMatchingMethod
from resonant_ad.methods.registry import register

__all__ = ["DataMethod"]


class DataMethod(FlowMatchingMethod):
    """``data``: ``v_data(x | t, m)`` sampled at SR masses directly, the yardstick that learns
    the signal too.

    Trained on all data, the SR included, with the frequency embedding of ``m``: it models
    the *data*, signal included, so it is a yardstick (a template that should show the
    signal), not a background estimate. Its fitted model is the one SIGMA interpolates.
    """

    name = "data"
    label = r"$v^{\mathrm{data}}$ (all data)"
    color = "#ff7f0e"
    trains_on = "all-data"
    model_id = "vdata"
    default = True
    has_density = False  # its density includes the signal: not a background for R-ANODE


register(DataMethod())
