"""``sim-nf``: the conditional normalizing flow of x given mjj trained on simulation."""

from __future__ import annotations

from resonant_ad.methods.cathode_nf import CathodeNFMethod
from resonant_ad.methods.registry import register

__all__ = ["SimNFMethod"]


class SimNFMethod(CathodeNFMethod):
    """``sim-nf``: the simulation's background density, sampled in the SR as is.

    The :class:`~resonant_ad.models.conditional_flow.ConditionalFlow` of ``cathode-nf`` (same
    settings: ``[model] preset`` and the ``epochs`` / ``max_epochs`` / ``max_seconds`` /
    ``preprocessing`` overrides) trained
    once per study on the simulated background at every mass (``[data] simulation``: 85% to
    train, 15% to select the epochs); the template is the flow sampled at SR masses drawn
    from the SR data's masses. No correction to the data: it is the "no transport" baseline
    of FETA (Golling et al., arXiv:2212.11285) and the base density that ``feta``
    (:mod:`resonant_ad.methods.feta`) transports to the data. Where the simulation
    mismodels the background, the classifier tells the template from the SR data whether
    there is a signal or not. Measured costs and template quality next to ``feta``'s: see
    :class:`~resonant_ad.methods.feta.FetaMethod`.
    """

    name = "sim-nf"
    label = "Simulation (flow)"
    color = "#7b4173"
    linestyle = ":"
    trains_on = "simulation"
    cpu_budget: float | None = None
    description = "the simulation's conditional normalizing flow sampled in the SR (no correction)"


register(SimNFMethod())
