"""The sideband correction of a background density: the model's misfit, learned in the
sidebands and taken out of its SR density.

In the sidebands the data are background, so the misfit of a background model ``p_B(x | m)``
there can be learned: a classifier tells the sideband data (class 1) from the model's own
samples at the same masses (class 0), with ``m`` as an input beside the features, and its
output ``f`` gives the density ratio ``r(x, m) = f / (1 - f) ~ p_data / p_model``
(:mod:`~resonant_ad.density.ratio`). Read at SR masses it interpolates the misfit into the
SR, and the corrected background density is

.. math:: p_B'(x | m) = p_B(x | m)\\, r(x, m) / Z, \\qquad Z = E_{p_B}[r],

``Z`` estimated on events drawn from the background model in the SR (the ``reference`` that
also normalises the mixture's tilt), which are resampled in proportion to ``r`` so that they
are drawn from ``p_B'``. ``r / Z`` is capped at ``max_weight``. The model is read at the
sideband masses without any interpolation, so the correction learns the model's own misfit,
not its interpolation's.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

import numpy as np

from resonant_ad.data.copies import copy_groups
from resonant_ad.data.events import Events
from resonant_ad.density.ratio import odds, ratio_inputs, weighted_auc
from resonant_ad.detect.mlp import MLPEnsemble
from resonant_ad.errors import InputError

__all__ = ["Sampler", "SidebandCorrection"]

log = logging.getLogger(__name__)


class Sampler(Protocol):
    """A background model that draws features at given masses (e.g.
    :meth:`~resonant_ad.flows.model.FlowMatchingModel.sample`)."""

    def sample(self, m: np.ndarray, *, seed: int | None = None) -> np.ndarray: ...


class SidebandCorrection:
    """The density ratio ``p_data / p_model`` of a background model, learned in the sidebands.

    :meth:`fit` draws ``samples`` events from the model per sideband data event at its
    mass, and trains a class-balanced ensemble of ``members`` MLPs
    (:class:`~resonant_ad.detect.mlp.MLPEnsemble`) on ``(m, x)``; the copies of an event
    (a Poisson-bootstrap replica's data) share their fold, so each member stops early on
    events it did not see. The held-out checks use the sideband validation data and fresh
    samples at their masses:

    - ``auc_before_``: the classifier's AUC of data against the model, ``auc_after_`` the
      same score's AUC against the samples weighted by ``r`` (0.5 for a ratio that makes the
      model look like the data to this classifier; below 0.5, a ratio that overshoots);
    - ``gain_`` (with its standard error ``gain_error_``): the held-out log-likelihood gain
      of the corrected density, the mean over the held-out data of ``log(r / Z)`` as
      :meth:`correct` caps it, ``Z`` from the fresh samples, in nats per event. It is
      label-free and proper: a ratio that learned noise or overshoots scores below 0.

    :meth:`correct` applies it in the SR.
    """

    def __init__(self, members: int = 3, samples: int = 2, max_weight: float = 20.0) -> None:
        if members < 1 or samples < 1:
            raise InputError(f"correction: members = {members}, samples = {samples}: need >= 1")
        if not max_weight > 1.0:
            raise InputError(f"correction: max_weight = {max_weight}, must be above 1")
        self.members = members
        self.samples = samples
        self.max_weight = max_weight

    def fit(
        self,
        train: Events,
        val: Events,
        model: Sampler,
        *,
        seed: int = 0,
    ) -> SidebandCorrection:
        """Learn the ratio from sideband data ``train`` (checked on ``val``) against the
        background ``model``'s samples at their masses (``model.sample(m, seed=...)``)."""
        t0 = time.perf_counter()
        for what, ev in (("sideband data", train), ("held-out sideband data", val)):
            if len(ev) < 10:
                raise InputError(f"correction: {len(ev)} events of {what}, need at least 10")
        m_train, m_val = np.repeat(train.m, self.samples), np.repeat(val.m, self.samples)
        s_train, s_val = model.sample(m_train, seed=seed), model.sample(m_val, seed=seed + 1)
        X = np.concatenate([ratio_inputs(train.x, train.m), ratio_inputs(s_train, m_train)])
        y = np.r_[np.ones(len(train), dtype=np.int64), np.zeros(len(m_train), np.int64)]
        groups = self._fold_groups(train, len(m_train))
        self.classifier_ = MLPEnsemble(self.members, random_state=seed).fit(X, y, groups=groups)
        f_data = self.classifier_.score(ratio_inputs(val.x, val.m))
        f_model = self.classifier_.score(ratio_inputs(s_val, m_val))
        self.auc_before_ = weighted_auc(f_data, f_model, np.ones(len(f_model)))
        self.auc_after_ = weighted_auc(f_data, f_model, odds(f_model))
        log_r = np.log(self._normalised(odds(f_data), odds(f_model))[0])
        self.gain_ = float(np.mean(log_r))
        self.gain_error_ = float(np.std(log_r) / np.sqrt(len(log_r)))
        self.n_sideband_ = len(train) + len(val)
        self.seed_ = seed
        self.fit_seconds_ = time.perf_counter() - t0
        log.info(
            "sideband correction: %d sideband events, held-out AUC of data against the "
            "model %.4f, %.4f weighted by r, held-out gain %+.4f +- %.4f nats/event (%.1f s)",
            self.n_sideband_,
            self.auc_before_,
            self.auc_after_,
            self.gain_,
            self.gain_error_,
            self.fit_seconds_,
        )
        return self

    def _fold_groups(self, train: Events, n_samples: int) -> np.ndarray | None:
        """The groups of the classifier's events that share a fold: each data event's copies
        (:func:`~resonant_ad.data.copies.copy_groups`), every sample on its own; ``None``
        where the data hold no copies."""
        copies = copy_groups(train.m, train.x)
        if copies is None:
            return None
        return np.r_[copies, copies.max() + 1 + np.arange(n_samples)]

    def _normalised(self, r: np.ndarray, r_ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``r / Z`` capped at ``max_weight`` and normalised again (``Z`` the mean of
        ``r_ref``, the ratio at events drawn from the model), for ``r`` and ``r_ref``."""
        z = float(r_ref.mean())
        r_ref = np.minimum(r_ref / z, self.max_weight)
        z2 = float(r_ref.mean())
        return np.minimum(r / z, self.max_weight) / z2, r_ref / z2

    def ratio(self, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        """The unnormalised ratio ``r = f / (1 - f)`` at the events ``(x, m)``."""
        if not hasattr(self, "classifier_"):
            raise InputError("this SidebandCorrection is not fitted yet: call fit()")
        return odds(self.classifier_.score(ratio_inputs(x, m)))

    def correct(
        self,
        log_densities: list[np.ndarray],
        events: list[Events],
        reference: Events,
        *,
        seed: int | None = None,
    ) -> tuple[list[np.ndarray], Events]:
        """``log p_B + log(r / Z)`` of each of ``log_densities`` (of the matching
        ``events``), ``Z`` the mean of ``r`` over ``reference`` (events drawn from the
        background model in the SR), ``r / Z`` capped at ``max_weight`` (and ``Z`` taken
        again over the capped values); and ``reference`` resampled in proportion to ``r``
        (as many events, with replacement, drawn with ``seed``, by default the one of
        :meth:`fit`): a sample of the corrected density."""
        if len(log_densities) != len(events):
            raise InputError(f"{len(log_densities)} densities for {len(events)} event sets")
        r_ref = self.ratio(reference.x, reference.m)
        out = []
        for lp, ev in zip(log_densities, events, strict=True):
            r = self._normalised(self.ratio(ev.x, ev.m), r_ref)[0]
            out.append(np.asarray(lp) + np.log(r))
        r_ref = self._normalised(r_ref, r_ref)[1]
        rng = np.random.default_rng(self.seed_ if seed is None else seed)
        pick = np.sort(rng.choice(len(r_ref), len(r_ref), p=r_ref / r_ref.sum()))
        return out, reference.select(pick)

    def diagnostics(self) -> dict[str, Any]:
        """The held-out sideband AUCs and log-likelihood gain, the sideband events used and
        the training time."""
        return {
            "auc_before": self.auc_before_,
            "auc_after": self.auc_after_,
            "gain": self.gain_,
            "gain_error": self.gain_error_,
            "n_sideband": self.n_sideband_,
            "fit_seconds": self.fit_seconds_,
        }
