"""The weakly supervised step: a classifier of SR data against a template, and its scores.

:func:`make_ensemble` builds the configured ensemble; :func:`fit_weakly_supervised` trains it
on SR data (class 1) against template samples (class 0); :func:`weakly_supervised_scores`
scores test events with it and :func:`out_of_fold_scores` the training events themselves
(k-fold scoring). :func:`idealized_scores` and :func:`supervised_scores` are the same step
with the true background or the labels, the yardsticks of a study.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from resonant_ad.data.events import Events
from resonant_ad.detect.classifier import RandomState, ScoreClassifier
from resonant_ad.detect.hgb import HGBEnsemble
from resonant_ad.detect.mlp import MLPEnsemble
from resonant_ad.errors import InputError

__all__ = [
    "fit_weakly_supervised",
    "idealized_scores",
    "make_ensemble",
    "out_of_fold_scores",
    "supervised_scores",
    "weakly_supervised_scores",
]

log = logging.getLogger(__name__)


def make_ensemble(kind: str, **kwargs: Any) -> HGBEnsemble | MLPEnsemble:
    """The ensemble of ``[classifier] kind`` (``"hgb"`` or ``"nn"``) with ``kwargs``."""
    ensembles = {"hgb": HGBEnsemble, "nn": MLPEnsemble}
    if kind not in ensembles:
        raise InputError(f"classifier kind {kind!r}: expected one of {sorted(ensembles)}")
    return ensembles[kind](**kwargs)


def _check_names(*parts: Events) -> None:
    names = parts[0].feature_names
    for p in parts[1:]:
        if p.feature_names != names:
            raise InputError(f"feature names differ: {names} vs {p.feature_names}")


def fit_weakly_supervised(
    sr_data: Events,
    template: Events,
    *,
    classifier: ScoreClassifier | None = None,
    max_template_ratio: float | None = None,
    random_state: RandomState = None,
) -> ScoreClassifier:
    """Train a classifier on SR data (class 1) against template samples (class 0).

    ``max_template_ratio`` caps the template at that many times the SR data (random subset);
    the template is normally oversampled several times over the data, and class balancing in
    the classifier keeps the two classes at equal total weight. Per-event weights of either
    sample (:attr:`~resonant_ad.data.events.Events.weight`, e.g. a reweighted simulation as
    the template) are the classifier's ``sample_weight``; the class balancing then equalises
    the classes' total *weights*, and the ensembles' folds and subsamples carry each event's
    weight along. Without weights ``sample_weight`` is not passed. ``classifier`` defaults
    to an :class:`HGBEnsemble` with the fast default settings.
    """
    _check_names(sr_data, template)
    if len(sr_data) == 0 or len(template) == 0:
        raise InputError(
            f"SR data ({len(sr_data)}) and template ({len(template)}) must be non-empty"
        )
    rng = np.random.default_rng(random_state)
    if max_template_ratio is not None and len(template) > max_template_ratio * len(sr_data):
        keep = round(max_template_ratio * len(sr_data))
        template = template.select(rng.choice(len(template), size=keep, replace=False))
    X = np.concatenate([sr_data.x, template.x])
    y = np.r_[np.ones(len(sr_data), dtype=np.int64), np.zeros(len(template), dtype=np.int64)]
    weighted = sr_data.weight is not None or template.weight is not None
    if weighted and not (sr_data.weights().sum() > 0 and template.weights().sum() > 0):
        raise InputError("SR data and template need a positive total weight each")
    sample_weight = np.r_[sr_data.weights(), template.weights()] if weighted else None
    clf: ScoreClassifier
    if classifier is None:
        clf = HGBEnsemble(random_state=int(rng.integers(0, 2**31 - 1)))
    else:
        clf = classifier
    t0 = time.perf_counter()
    if sample_weight is None:
        clf.fit(X, y)
    else:
        clf.fit(X, y, sample_weight=sample_weight)
    log.info(
        "weakly supervised classifier: %d SR data vs %d template events, %.1f s",
        len(sr_data),
        len(template),
        time.perf_counter() - t0,
    )
    return clf


def weakly_supervised_scores(
    sr_data: Events,
    template: Events,
    test: Events,
    *,
    classifier: ScoreClassifier | None = None,
    max_template_ratio: float | None = None,
    random_state: RandomState = None,
) -> np.ndarray:
    """Anomaly scores of ``test`` events from a classifier trained on SR data vs a template.

    The weakly supervised step of CATHODE/SIGMA: the score approximates
    ``p_data / (p_data + p_template)`` and is monotonic in the likelihood ratio
    ``R(x) = p_data(x) / p_background(x)`` when the template models the background.
    """
    _check_names(sr_data, template, test)
    clf = fit_weakly_supervised(
        sr_data,
        template,
        classifier=classifier,
        max_template_ratio=max_template_ratio,
        random_state=random_state,
    )
    return clf.score(test.x)


def out_of_fold_scores(
    sr_data: Events,
    template: Events,
    *,
    classifier: HGBEnsemble | None = None,
    random_state: RandomState = None,
    rounds: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores of the SR data and template events themselves, for a cut-and-count bump hunt.

    Each event's score averages only the ensemble members whose held-out fold contained it
    (k-fold scoring), so no event is scored by a model that trained on it. Returns
    ``(data_scores, template_scores)`` in the input order. Needs ``n_estimators >= n_folds``
    so that every event is held out at least once. ``rounds``: instead, one row per complete
    repetition of the k-fold split, each event scored by the one member of that repetition
    that held it out (shapes ``(R, n_data)`` and ``(R, n_template)``).
    """
    if classifier is None:
        rng = np.random.default_rng(random_state)
        classifier = HGBEnsemble(store_oof=True, random_state=int(rng.integers(0, 2**31 - 1)))
    else:
        classifier.set_params(store_oof=True)
    if classifier.n_estimators < classifier.n_folds:
        raise InputError(
            f"out-of-fold scores need n_estimators ({classifier.n_estimators}) >= n_folds "
            f"({classifier.n_folds})"
        )
    fit_weakly_supervised(sr_data, template, classifier=classifier)
    oof = classifier.oof_rounds_ if rounds else classifier.oof_score_
    return oof[..., : len(sr_data)], oof[..., len(sr_data) :]


def idealized_scores(
    sr_data: Events,
    sr_background: Events,
    test: Events,
    *,
    classifier: ScoreClassifier | None = None,
    random_state: RandomState = None,
) -> np.ndarray:
    """Idealized anomaly detector (IAD): the template is true SR background (simulation only)."""
    return weakly_supervised_scores(
        sr_data, sr_background, test, classifier=classifier, random_state=random_state
    )


def supervised_scores(
    train: Events,
    test: Events,
    *,
    classifier: ScoreClassifier | None = None,
    random_state: RandomState = None,
) -> np.ndarray:
    """Fully supervised yardstick: the same classifier trained on signal vs background labels."""
    _check_names(train, test)
    sig = train.select(train.label == 1)
    bkg = train.select(train.label == 0)
    if len(sig) == 0 or len(bkg) == 0:
        raise InputError("supervised training needs labelled signal and background events")
    return weakly_supervised_scores(
        sig, bkg, test, classifier=classifier, random_state=random_state
    )
