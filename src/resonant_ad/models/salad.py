"""SALAD's model (:class:`SaladReweighter`): the simulation reweighted to the data in an SR by
a classifier trained in its sidebands."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion
from resonant_ad.density.ratio import odds, ratio_inputs, weighted_auc
from resonant_ad.detect.weakly_supervised import make_ensemble
from resonant_ad.errors import InputError
from resonant_ad.models.base import Configured

__all__ = ["SaladReweighter", "SaladSettings"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SaladSettings:
    """The reweighting classifier of :class:`SaladReweighter` (part of the model's key)."""

    kind: str = "nn"
    """``nn`` (:class:`~resonant_ad.detect.mlp.MLPEnsemble`, as in the paper) or
    ``hgb`` (:class:`~resonant_ad.detect.hgb.HGBEnsemble`). Boosted trees are
    piecewise constant in ``m``: in the SR, where no training event lies, they apply the
    ratio of the nearest sideband, which misses where the features move with ``m`` (see
    :class:`~resonant_ad.methods.salad.SaladMethod` for the numbers)."""
    n_estimators: int = 5
    """Members of the ensemble (each on 4 of 5 folds of the training events)."""
    held_out: float = 0.15
    """Fraction of the simulation's sideband events held out to check the weights (the
    data's held-out sideband events are the study's validation split)."""
    max_weight: float = 20.0
    """Weights are normalised to mean 1 over the SR simulation, then capped at this value
    (and normalised to mean 1 again)."""

    def __post_init__(self) -> None:
        if self.n_estimators < 1:
            raise InputError(f"salad: n_estimators = {self.n_estimators}, need at least one")
        if not 0.0 < self.held_out < 1.0:
            raise InputError(f"salad: held_out = {self.held_out}, must be in (0, 1)")
        if not self.max_weight > 1.0:
            raise InputError(f"salad: max_weight = {self.max_weight}, must be above 1")


def _features(events: Events) -> np.ndarray:
    """The reweighting classifier's inputs: ``m`` beside the features."""
    return ratio_inputs(events.x, events.m)


class SaladReweighter(Configured[SaladSettings]):
    """SALAD's reweighting of the simulation to the data in one SR.

    :meth:`fit` trains a class-balanced ensemble (:class:`SaladSettings`) telling sideband
    data (class 1) from sideband simulation (class 0) on ``(m, x)``, so that its output
    ``f`` gives the density ratio ``w(m, x) = p_data / p_sim = f / (1 - f)`` (balanced
    classes: the ratio of the classes' total training weights is 1, no further class-size
    factor). The simulation's events in the SR, each weighted by ``w`` (times its own weight
    where the simulation carries one), are the template: the weights are normalised to mean
    1, capped at ``max_weight`` (the number capped is ``n_capped_``) and normalised to mean 1
    again. ``f`` is clipped to ``[1e-6, 1 - 1e-6]`` first.

    Checks on held-out sideband events (the data's validation split and ``held_out`` of
    the simulation's sideband events, neither seen in training): ``auc_before_`` is the
    classifier's AUC of data against the simulation, ``auc_after_`` the same score's AUC
    against the simulation weighted by its predicted weights (0.5 for weights that make the
    simulation look like the data to this classifier). ``ess_`` is the Kish effective size
    ``(sum w)^2 / sum w^2`` of the template, ``ess_fraction_`` that over its event count.
    """

    SETTINGS = SaladSettings

    def fit(self, train: Events, val: Events, *, random_state: int = 0) -> SaladReweighter:
        """Train on the sideband data (``train``, checked on ``val``) against the
        ``context.simulation``'s events in the sidebands of ``context.region``; weight its
        SR events."""
        simulation = self.context.simulation
        if simulation is None:
            raise InputError("salad needs the simulation: set [data] simulation")
        signal_region = self.context.needs_region("salad")
        data_train, data_val, seed = train, val, random_state
        t0 = time.perf_counter()
        names = data_train.feature_names
        for what, ev in (("validation data", data_val), ("simulation", simulation)):
            if ev.feature_names != names:
                raise InputError(f"salad: {what} features {ev.feature_names}, data {names}")
        sb = simulation.select(signal_region.sideband(simulation.m))
        sr = simulation.select(signal_region.contains(simulation.m))
        if len(sr) == 0:
            raise InputError(f"salad: the simulation has no events in the SR {signal_region}")
        rng = np.random.default_rng(seed)
        perm = rng.permutation(len(sb))
        n_held = round(self.settings.held_out * len(sb))
        sim_train, sim_held = sb.select(np.sort(perm[n_held:])), sb.select(np.sort(perm[:n_held]))
        for what, n in (
            ("sideband data", len(data_train)),
            ("held-out sideband data", len(data_val)),
            ("sideband simulation", len(sim_train)),
            ("held-out sideband simulation", len(sim_held)),
        ):
            if n < 10:
                raise InputError(f"salad: {n} events of {what}, need at least 10")
        X = np.concatenate([_features(data_train), _features(sim_train)])
        y = np.r_[np.ones(len(data_train), dtype=np.int64), np.zeros(len(sim_train), np.int64)]
        sample_weight = np.r_[data_train.weights(), sim_train.weights()]
        s = self.settings
        classifier = make_ensemble(
            s.kind, n_estimators=s.n_estimators, random_state=int(rng.integers(2**31 - 1))
        )
        classifier.fit(X, y, sample_weight=sample_weight)
        self.classifier_ = classifier
        self.signal_region_ = signal_region
        self.feature_names_ = names
        # the held-out check: the classifier's own score, before and after reweighting
        f_data = classifier.score(_features(data_val))
        f_sim = classifier.score(_features(sim_held))
        w_held = sim_held.weights() * odds(f_sim)
        self.auc_before_ = weighted_auc(f_data, f_sim, sim_held.weights())
        self.auc_after_ = weighted_auc(f_data, f_sim, w_held)
        # the template: the SR simulation, weighted
        raw = sr.weights() * odds(classifier.score(_features(sr)))
        self.template_ = sr.with_label(0).with_weight(self._normalised(raw))
        self.ess_ = self.template_.effective_size()
        self.ess_fraction_ = self.ess_ / len(sr)
        self.n_sideband_ = (len(data_train) + len(data_val), len(sb))
        self.train_seconds_ = time.perf_counter() - t0
        log.info(
            "salad %s: %d sideband data vs %d simulation events; held-out AUC %.4f, %.4f "
            "after reweighting; template %d SR simulation events, Kish effective size %.0f "
            "(%.1f%%), %d weights capped at %g (%.1f s)",
            signal_region,
            self.n_sideband_[0],
            self.n_sideband_[1],
            self.auc_before_,
            self.auc_after_,
            len(sr),
            self.ess_,
            100 * self.ess_fraction_,
            self.n_capped_,
            s.max_weight,
            self.train_seconds_,
        )
        return self

    def _normalised(self, raw: np.ndarray) -> np.ndarray:
        """``raw`` at mean 1, capped at ``max_weight``, at mean 1 again (sets ``n_capped_``)."""
        total = float(raw.sum())
        if not total > 0:
            raise InputError("salad: every SR simulation event has weight zero")
        w = raw * (len(raw) / total)
        capped = w > self.settings.max_weight
        self.n_capped_ = int(capped.sum())
        w = np.where(capped, self.settings.max_weight, w)
        return np.asarray(w * (len(w) / w.sum()))

    def _check_fitted(self) -> None:
        if not hasattr(self, "template_"):
            raise InputError("this SaladReweighter is not fitted yet: call fit()")

    def weights(self, events: Events) -> np.ndarray:
        """The classifier's density ratio ``p_data / p_sim`` at ``events`` (``f / (1 - f)``,
        not normalised or capped)."""
        self._check_fitted()
        return odds(self.classifier_.score(_features(events)))

    def sample_events(self, region: SignalRegion, n: int, *, seed: int | None = None) -> Events:
        """The SR simulation events (label 0) with their normalised, capped weights: all of
        them, whatever ``n`` (the weights have mean 1)."""
        self._check_fitted()
        log.debug(
            "salad: %d weighted SR simulation events (n = %d not used)", len(self.template_), n
        )
        return self.template_

    def diagnostics(self) -> dict[str, Any]:
        """The held-out AUCs, the template's size and effective size, the capped weights."""
        self._check_fitted()
        return {
            "auc_before": self.auc_before_,
            "auc_after": self.auc_after_,
            "n_template": len(self.template_),
            "ess": self.ess_,
            "ess_fraction": self.ess_fraction_,
            "n_capped": self.n_capped_,
            "max_weight": float(np.max(self.template_.weights())),
            "n_sideband_data": self.n_sideband_[0],
            "n_sideband_simulation": self.n_sideband_[1],
            "train_seconds": self.train_seconds_,
        }
