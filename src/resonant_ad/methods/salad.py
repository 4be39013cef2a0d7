"""``salad``: SALAD, the simulation reweighted to the data by a classifier trained in the
sidebands of each SR."""

from __future__ import annotations

from typing import TYPE_CHECKING

from resonant_ad.methods.registry import Method, register
from resonant_ad.models.salad import SaladReweighter, SaladSettings

if TYPE_CHECKING:
    from resonant_ad.config import StudyConfig

__all__ = ["SaladMethod"]


class SaladMethod(Method):
    """``salad``: SALAD, simulation-assisted likelihood-free anomaly detection (Andreassen,
    Nachman and Shih, arXiv:2001.05001), a simulation-assisted background template.

    In each SR (and each injection: the signal leaks into the sidebands) a classifier tells
    the sideband data from the simulation's sideband events (``[data] simulation``) with
    ``m`` as an input besides the features; its output ``f`` reweights the simulation's SR
    events by ``f / (1 - f)``, interpolating the data/simulation ratio from the sidebands
    into the SR. The template is those events with their weights (a
    :class:`~resonant_ad.models.salad.SaladReweighter`): all of the simulation's SR events, never
    resampled, so the
    requested template size ``n`` (``[classifier] oversampling`` times the SR data) is not
    used: the template has as many events as the simulation has in the SR, and its weights
    have mean 1. The weakly supervised classifier and the validation AUC take the weights
    as ``sample_weight`` (:attr:`~resonant_ad.data.events.Events.weight`). The reweighting
    classifier is a class-balanced ensemble of 5 MLPs (at most ``[classifier]
    ensemble_size``; the paper used a neural network too; a study's ``[method.salad]``
    table sets any :class:`~resonant_ad.models.salad.SaladSettings`); weights are capped at 20
    times the mean, and the model logs the held-out AUC of data against
    the simulation before and after reweighting and the template's Kish effective size.
    The study skips ``salad`` (with a warning) without a simulation, and
    the scan cannot use it (it reads no simulation).

    Measured on 2 shared CPU cores with one thread, on the Gaussian toy of
    ``tests/test_feta.py`` with its data/simulation shift halved (the data's means off by
    ``0.15 + 0.1 (m - 3.5)``, ``-0.075 + 0.05 (m - 3.5)``, ``0.2 - 0.15 (m - 3.5)``), SR
    3.3-3.7 TeV, 54,994 sideband data events (the Pythia dev sample's size), 73,314
    sideband and 26,686 SR simulation events:

    - fit per SR (reweighting classifier and template): 25 s with the 5 MLPs; an ensemble
      of 10 boosted trees instead: 10 s;
    - held-out AUC of data against the simulation 0.711, after reweighting 0.505 (trees:
      0.710 and 0.516); Kish effective size 58% of the SR simulation (trees: 71%), no
      weight capped;
    - the SR simulation's means differ from the SR data's by -0.46, 0.36 and -0.40
      standard deviations; weighted by the MLPs by -0.015, -0.03 and -0.015, by the trees
      -0.098, 0.016 and -0.053 (the trees cannot follow the features' move with ``m``
      across the SR, hence the MLP default). With the full shift of that toy (about one
      standard deviation) the MLPs leave -0.03, 0.14 and -0.11 on 5,864 sideband events.

    On the toy of ``tests/test_salad.py`` (20,000 data and simulation events, the data's
    third feature also 15% wider) the weighted SR simulation is off by 0.013, 0.03 and
    -0.053 standard deviations (plain: -0.465, 0.404, -0.357) and its third feature's
    spread ratio is 0.996 (plain: 0.856), 4.5 s.
    """

    name = "salad"
    label = "SALAD"
    color = "#66a61e"
    linestyle = "-."
    trains_on = "sidebands"
    uses_simulation = True
    description = "SALAD: the SR simulation reweighted to the data by a sideband classifier"
    model_class = SaladReweighter
    options_class = SaladSettings

    def default_options(self, config: StudyConfig) -> SaladSettings:
        """:class:`~resonant_ad.models.salad.SaladSettings`' defaults with at most
        ``[classifier] ensemble_size`` members (so a study of small ensembles, e.g. a test,
        also reweights with a small one)."""
        n = min(SaladSettings.n_estimators, config.classifier.ensemble_size)
        return SaladSettings(n_estimators=n)


register(SaladMethod())
