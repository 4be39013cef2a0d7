"""``transit``: TRANSIT, sideband events moved to SR masses by a mass-conditioned
autoencoder trained adversarially, with no density learned."""

from __future__ import annotations

from resonant_ad.methods.registry import Method, register
from resonant_ad.models.conditioning import REVISION
from resonant_ad.models.transit import PRESETS, TransitModel, TransitSettings

__all__ = ["TransitMethod"]


class TransitMethod(Method):
    """``transit``: TRANSIT, the transport adversarial network for smooth interpolation
    (Oleksiyuk, Voloshynovskiy and Golling, arXiv:2503.04342).

    A :class:`~resonant_ad.models.transit.TransitModel` is trained on the sidebands of each
    SR (and injection): an encoder ``E(x, m)`` and a decoder ``D(z, m)`` that reconstruct
    each event at its own mass, keep its latent when it is moved to another mass, and,
    against a mass-conditioned discriminator, make the events moved to another sideband
    mass look like the data there. The template: SR masses drawn from the SR data's masses
    (:func:`~resonant_ad.models.base.sample_masses`), each paired with a sideband event
    that the model moves there. The settings are the ``[model] preset``'s
    (:data:`~resonant_ad.models.transit.PRESETS`), changed by a study's
    ``[method.transit]`` table.

    Measured on 2 shared CPU cores (load average 5-7), one torch thread, ``cpu`` preset:
    on the Pythia dev sample's SR 3.3-3.7 TeV (64,800 sideband events within one SR width,
    background only) 111 s of training at 40 epochs and 267 s at the preset's 100, about 1 s
    for a template of 114,060 events; its classifier-test AUC against 32,318 true SR
    background events 0.554 (40 epochs) and 0.528 (100 epochs), the unmoved sideband events'
    0.627. Details and how the method departs from the published configuration:
    ``docs/methods/transit.md``.
    """

    name = "transit"
    label = "TRANSIT"
    color = "#e6ab02"
    linestyle = "--"
    trains_on = "sidebands"
    description = "TRANSIT: sideband events moved to SR masses by an adversarial autoencoder"
    model_class = TransitModel
    presets = PRESETS
    options_class = TransitSettings
    revision = REVISION


register(TransitMethod())
