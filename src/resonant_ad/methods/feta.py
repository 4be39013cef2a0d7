"""``feta``: FETA's flow that transports the simulation's density to the data, learned in
the sidebands of each SR."""

from __future__ import annotations

from resonant_ad.methods.registry import Method, register
from resonant_ad.models.conditional_flow import PRESETS
from resonant_ad.models.feta import TransportedFlow

__all__ = ["FetaMethod"]


class FetaMethod(Method):
    """``feta``: FETA, flow-enhanced transportation (Golling, Klein, Mastandrea, Nachman and
    Raine, arXiv:2212.11285), a simulation-assisted background template.

    The base density is ``sim-nf`` (:mod:`resonant_ad.methods.sim_nf`): a conditional flow
    ``p_sim(x | m)`` trained once per study on the simulation (``[data] simulation``) at
    every mass. FETA learns, in the sidebands of each SR (and of each injection: signal
    leaks into the sidebands), a transport ``T(x; m)`` from the data to the simulation by
    maximum likelihood through the frozen base, ``log p_data(x | m) = log p_sim(T(x; m) |
    m) + log |det dT/dx|``; the template is the base flow sampled at SR masses (drawn from
    the SR data's masses, :func:`~resonant_ad.models.base.sample_masses`) and mapped
    through ``T^{-1}``. The model is a
    :class:`~resonant_ad.models.feta.TransportedFlow`: the transport is a
    :mod:`zuko` MAF from the data's preprocessed space into the base flow's, with the
    base's standardised ``m`` as context, started at the identity, of the size and
    training of the ``[model] preset``'s flow
    (:data:`~resonant_ad.models.conditional_flow.PRESETS`, as ``cathode-nf`` and ``sim-nf``), its
    ``n_best`` epochs of lowest validation NLL kept as an ensemble. The
    study skips ``feta`` (with a warning) when there is no simulation, and the scan cannot
    use it (it reads no simulation).

    The transport trains through the best member of the sim-nf ensemble only: every step
    back-propagates through the base density, and with all five members that made a
    training on the Pythia dev sample's sidebands (152,361 events, 40 epochs of the
    ``cpu`` preset, two heavily shared cores) take 961 s. Costs and template quality on
    the dev sample with the reference simulation:
    ``benchmarks/templates/results/transport_vs_sideband_and_sigma/summary.txt``.

    On the Gaussian toy of ``tests/test_feta.py`` (``tiny`` preset, 20 epochs, 4,887 sideband
    training events) the data differ from the simulation in the SR by -0.90, 0.75 and -0.81
    standard deviations per feature; ``feta``'s template is off by -0.03, -0.04 and -0.02,
    ``sim-nf``'s by -0.87, 0.73 and -0.81.
    """

    name = "feta"
    label = "FETA"
    color = "#e7298a"
    linestyle = "-"
    trains_on = "sidebands"
    base = "sim-nf"
    description = "FETA: the simulation's flow transported to the data in the sidebands"
    model_class = TransportedFlow
    presets = PRESETS
    revision = 3
    """2: the transport starts from the data's own preprocessed space; it started from the
    simulation's, so data outside the simulation's feature range were left out (15% of the
    dev sample's sideband events). 3: the base density is the best member of the sim-nf
    ensemble, where every step evaluated all of them."""


register(FetaMethod())
