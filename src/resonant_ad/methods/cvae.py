"""``cvae``: a conditional variational autoencoder of x given mjj, per SR."""

from __future__ import annotations

from resonant_ad.methods.registry import Method, register
from resonant_ad.models.conditioning import REVISION
from resonant_ad.models.cvae import PRESETS, ConditionalVAE, CVAESettings

__all__ = ["CVAEMethod"]


class CVAEMethod(Method):
    """``cvae``: a conditional VAE (Sohn, Lee, Yan, NeurIPS 2015) trained on the sidebands
    and decoded at SR masses, as the background template of CATHODE's weakly supervised
    search (arXiv:2109.00546) in place of its flow.

    The encoder ``q(z | x, m)`` and the decoder ``x(z, m)`` both see the standardised
    ``mjj``; one :class:`~resonant_ad.models.cvae.ConditionalVAE` per SR is trained on its
    sidebands with the loss
    ``(1 - beta) * MSE + beta * KL`` (``beta = 1e-6`` by default). The template is the
    decoder run at SR masses drawn from the SR data's masses
    (:func:`~resonant_ad.models.base.sample_masses`). With so small a ``beta`` the encoded
    sideband events do not fill the prior ``N(0, 1)``, so ``latent`` chooses the template's
    latents: ``"prior"`` draws them from ``N(0, 1)``; ``"posterior"`` (the default) from the
    aggregate posterior of the sideband events: a stored training event at random, then a
    draw from its ``q(z | x, m)`` (a Gaussian mixture with one component per stored event).

    Settings (:class:`~resonant_ad.models.cvae.CVAESettings`, a study's ``[method.cvae]``
    table): ``latent``, ``beta``, ``latent_dim`` (``None``: as many latent dimensions as
    features); network sizes and epochs come from
    :data:`~resonant_ad.models.cvae.PRESETS` by ``[model] preset`` (``paper``: three layers
    of 256 and up to 200 epochs, for a GPU) and the ``[model]`` overrides, ``preprocessing``
    included. Any feature set trains; the six features of the cVAE study
    (``mj1``, ``mj2``, ``tau21`` and ``tau32`` of both jets) are
    :data:`~resonant_ad.data.features.FEATURE_SETS` ``["cvae"]``.

    Measured on a toy LHCO-like background (:mod:`resonant_ad.data.toy`) with 55,633
    sideband events around SR 3.3-3.7 TeV (47,288 train, 8,345 validation: the size of the
    Pythia dev sample's sidebands), on 2 shared CPU cores (load average about 4 from other
    jobs) with one torch thread:

    - latent sampling: a classifier (3 HGB members) telling 4x oversampled templates from
      25,647 true SR background events has AUC 0.938 with ``"prior"`` and 0.700 with
      ``"posterior"`` (``cpu`` preset, 100 epochs, ``beta = 1e-6``, 5 latent dimensions),
      hence the default. An independent sample of true SR background scores 0.499, the
      sideband events resampled at SR masses 0.735: at ``beta = 1e-6`` the cVAE nearly
      reconstructs its input and learns little of how ``x`` moves with ``m``. With
      ``beta = 1e-2`` the same AUCs are 0.595 (prior) and 0.584 (posterior); with 4 or 2
      latent dimensions at ``beta = 1e-6``, 0.918 and 0.995 (posterior);
    - training, timed over 3 epochs: ``cpu`` preset 0.32-0.36 s per epoch (100 epochs: 40
      s), ``paper`` preset 1.5 s per epoch, in proportion to the number of sideband events;
    - per SR, decoding 200,000 template events: 0.5 s (``cpu``), 1.7 s (``paper``).

    On the Pythia dev sample
    (``benchmarks/templates/results/cvae_prior_vs_posterior_latents.txt``: 6 trainings of 40
    epochs, ``beta = 1e-6``, 4x oversampled templates against 25,000 true SR background
    events) the same classifier test gives a median AUC of 0.929 with ``"prior"`` latents and
    0.729 with ``"posterior"`` latents: the posterior is the better template here too.

    CPU budget (:attr:`~resonant_ad.methods.registry.Method.cpu_budget`): 120 s per SR on two
    cores for a dev-sample SR at 40 epochs, training included (measured in
    ``benchmarks/templates/results/compare_sigma-features/summary.txt``).
    """

    name = "cvae"
    cpu_budget = 120.0
    label = "cVAE"
    color = "#637939"
    linestyle = "-."
    trains_on = "sidebands"
    description = "a conditional VAE trained on the sidebands of each SR, decoded at SR masses"
    model_class = ConditionalVAE
    presets = PRESETS
    options_class = CVAESettings
    revision = REVISION


register(CVAEMethod())
