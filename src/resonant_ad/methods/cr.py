"""``cr``: CATHODE-style v_CR trained on the sidebands of one SR only."""

from __future__ import annotations

from resonant_ad.methods.flow_matching import FlowMatchingMethod
from resonant_ad.methods.registry import register

__all__ = ["CRMethod"]


class CRMethod(FlowMatchingMethod):
    """``cr``: one ``v_CR(x | t, m)`` per SR trained on its sidebands, with ``alpha(m) = m``
    (CATHODE with flow matching). It never sees the SR, so it cannot learn a signal there;
    one training per SR (SIGMA section II.3.1).

    CPU budget (:attr:`~resonant_ad.methods.registry.Method.cpu_budget`): 180 s per SR on two
    cores for a dev-sample SR at 40 epochs of the ``cpu`` preset, training included
    (measured in ``benchmarks/templates/results/compare_sigma-features/summary.txt``).
    """

    name = "cr"
    cpu_budget = 180.0
    label = r"$v^{\mathrm{CR}}$ (CATHODE-style)"
    color = "#1f77b4"
    trains_on = "sidebands"
    default = True
    mass_embedding = "identity"


register(CRMethod())
