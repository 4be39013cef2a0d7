"""``curtains-f4f``: CURTAINs flows for flows, sideband events transported in mass into the
SR by a flow trained by maximum likelihood through a base flow of the sidebands."""

from __future__ import annotations

from resonant_ad.methods.registry import Method, register
from resonant_ad.models.mass_transport import PRESETS, F4FSettings, MassTransport

__all__ = ["CurtainsF4FMethod"]


class CurtainsF4FMethod(Method):
    """``curtains-f4f``: CURTAINs flows for flows (Sengupta, Klein, Raine and Golling,
    arXiv:2305.04646), sideband events transported in mass into the SR.

    The base density is ``cathode-nf``'s flow ``p(x | m)``
    (:class:`~resonant_ad.models.conditional_flow.ConditionalFlow`), trained on the sidebands of
    each SR and injection: through
    ``base`` the study trains it once and shares it with ``cathode-nf`` itself;
    where no base is handed over (the sliding-window scan) the model trains that same flow
    (same settings, events and seed) first. A transport ``T(x; m_in, m_out)`` (a
    :class:`~resonant_ad.models.mass_transport.MassTransport`: a :mod:`zuko` MAF in the base flow's
    preprocessed space with
    both standardised masses as context, started at the identity, of the size and training
    of the ``[model] preset``'s flow)
    is trained by maximum likelihood through the frozen base on pairs of sideband events,
    ``-[log p_base(T(x; m_in, m_out) | m_out) + log |det dT/dx|]``, with ``m_out`` the mass
    of another sideband event (up and down in mass, within and across the sidebands); its
    ``n_best`` epochs of lowest validation loss are kept as an ensemble. The template: SR
    masses drawn from the dijet function fitted to the sideband masses within one SR width
    of the SR (:class:`~resonant_ad.data.spectrum.DijetFit`), not from the SR data, so a signal in
    the SR does not
    shape them; each paired with a sideband event (all of them, as many from below as from
    above the SR, each used for several masses when the template outnumbers them:
    :class:`~resonant_ad.models.mass_transport.F4FSettings`) and moved to it by ``T``. The model
    holds the sideband events and
    the fit, so a saved model gives the same template.

    The transport trains through the best member of the base flow's ensemble only. With
    all five, on 2 shared CPU cores (load average 4.5-6.6 from other jobs), one torch
    thread, ``cpu`` preset at 40 epochs, a toy LHCO-like background
    (:mod:`resonant_ad.data.toy`) around SR 3.3-3.7 TeV with 55,673 sideband events (47,322
    train, 8,351 validation) took 122 s per SR for the transport (3.0 s per epoch) after 32
    s for the base flow; the template 0.26 s for 100,000 events (``cathode-nf``: 1.7 s);
    its classifier-test AUC against 30,000 true SR background events was 0.546
    (``cathode-nf`` 0.544, an independent true background sample 0.505, the sideband
    events within one SR width unmoved 0.677; from only those 18,844 nearest sources
    0.571). The mjj fit (18,844 sideband events in 2.9-3.3 and 3.7-4.1 TeV) predicted 0.456
    SR events per event in its ranges where the toy has 0.442. Costs and template quality
    on the Pythia dev sample, with one base member:
    ``benchmarks/templates/results/transport_vs_sideband_and_sigma/summary.txt``.

    On the Gaussian toy of ``tests/test_curtains_f4f.py`` (``tiny`` preset, 20 epochs,
    4,887 sideband training events; one base member) the lower sideband's events differ
    from the SR background by -1.26, 0.96 and -0.02 standard deviations per feature, the
    upper's by 1.68, -1.31 and 0.00; moved into the SR, by -0.04, -0.01, -0.04 and -0.08,
    0.03, -0.03; the template by -0.05, 0.01 and -0.03.
    """

    name = "curtains-f4f"
    label = "CURTAINs F4F"
    color = "#17becf"
    linestyle = "-."
    trains_on = "sidebands"
    base = "cathode-nf"
    description = (
        "CURTAINs F4F: sideband events moved into the SR by a mass-conditioned flow "
        "trained through a base flow of the sidebands"
    )
    model_class = MassTransport
    presets = PRESETS
    options_class = F4FSettings
    """The fit and source windows, the balance of the sources and sqrt(s): ``[method.
    curtains-f4f]`` in a study's config."""
    revision = 2
    """2: the transport trains through the best member of the base flow's ensemble only,
    where every step evaluated all five."""


register(CurtainsF4FMethod())
