"""``cathode-nf``: CATHODE's conditional normalizing flow of x given mjj, per SR."""

from __future__ import annotations

from resonant_ad.methods.registry import Method, register
from resonant_ad.models.conditional_flow import PRESETS, ConditionalFlow
from resonant_ad.models.conditioning import REVISION

__all__ = ["CathodeNFMethod"]


class CathodeNFMethod(Method):
    """``cathode-nf``: CATHODE (Hallin et al., arXiv:2109.00546) with its normalizing flow.

    One conditional flow ``p(x | m)`` per SR (a
    :class:`~resonant_ad.models.conditional_flow.ConditionalFlow`, a :mod:`zuko`
    MAF by default) is trained by maximum likelihood on the SR's sidebands only, so it
    never sees the SR; the template is the flow sampled at SR masses drawn from the SR
    data's masses (:func:`~resonant_ad.models.base.sample_masses`), split over the
    ``n_best`` epochs of lowest validation NLL. The ``[model] preset`` picks the flow's size
    (:data:`~resonant_ad.models.conditional_flow.PRESETS`: ``paper`` is the CATHODE setup, ``cpu``
    the default here, ``tiny``
    for tests); ``[model] epochs``, ``max_epochs``, ``max_seconds`` and ``preprocessing``
    override it, so methods can be compared at the same number of epochs.

    Measured on a toy LHCO-like background (:mod:`resonant_ad.data.toy`) with 55,633
    sideband events around SR 3.3-3.7 TeV (47,288 train, 8,345 validation: the size of the
    Pythia dev sample's sidebands), on 2 shared CPU cores (load average 3-4 from other jobs)
    with one torch thread:

    - training, timed over 3 epochs: ``cpu`` preset 0.45-0.55 s per epoch (a full training
      stopped early after 88 epochs: 52 s); ``paper`` preset 2.4-3.3 s per epoch (its 100
      epochs: 4-6 min); about 2 s of set-up on top. An epoch costs in proportion to the
      number of sideband events and of transforms;
    - per SR, sampling 200,000 template events: 2.0-2.9 s (``cpu``), 12-14 s (``paper``),
      in proportion to the number of events;
    - template quality: a classifier (3 HGB members) telling 4x oversampled templates from
      25,647 true SR background events has AUC 0.520 (``cpu`` preset, full training); an
      independent sample of true SR background scores 0.499, the sideband events
      resampled at SR masses 0.735.

    CPU budget (:attr:`~resonant_ad.methods.registry.Method.cpu_budget`): 240 s per SR on two
    cores for a dev-sample SR at 40 epochs, training included (measured with the other
    template methods in ``benchmarks/templates/results/compare_sigma-features/summary.txt``).
    """

    name = "cathode-nf"
    cpu_budget: float | None = 240.0
    label = "CATHODE (MAF)"
    color = "#393b79"
    linestyle = "--"
    trains_on = "sidebands"
    description = "CATHODE: a conditional normalizing flow trained on the sidebands of each SR"
    model_class = ConditionalFlow
    presets = PRESETS
    revision = REVISION


register(CathodeNFMethod())
