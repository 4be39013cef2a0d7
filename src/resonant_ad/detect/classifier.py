"""The classifier interface of the weakly supervised step and what its ensembles share.

:class:`ScoreClassifier` is what the step needs from a classifier; :class:`KFoldEnsemble` is
the base of the boosted-tree and MLP ensembles (:mod:`resonant_ad.detect.hgb`,
:mod:`resonant_ad.detect.mlp`): members trained on repeated stratified k-fold splits
(:func:`kfold_splits`) with class-balanced weights (:func:`balanced_weights`), averaged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np
from sklearn.base import BaseEstimator

from resonant_ad.errors import InputError

__all__ = [
    "KFoldEnsemble",
    "RandomState",
    "ScoreClassifier",
    "balanced_weights",
    "kfold_splits",
]

log = logging.getLogger(__name__)

RandomState = int | np.random.Generator | None


class ScoreClassifier(Protocol):
    """What the weakly supervised step needs from a classifier."""

    def fit(
        self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> ScoreClassifier: ...

    def score(self, X: np.ndarray) -> np.ndarray: ...


def _check_xy(
    X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2:
        raise InputError(f"features must be 2-d (n, d), got shape {X.shape}")
    y = np.asarray(y).reshape(-1)
    if len(y) != len(X):
        raise InputError(f"{len(X)} feature rows for {len(y)} labels")
    if not np.all(np.isin(y, (0, 1))):
        raise InputError("labels must be 0 or 1")
    y = y.astype(np.int64)
    if y.min() == y.max():
        raise InputError("need examples of both classes (0 and 1) to train a classifier")
    if not np.all(np.isfinite(X)):
        raise InputError("features contain NaN or infinite values")
    if sample_weight is None:
        w = np.ones(len(y))
    else:
        w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
        if len(w) != len(y):
            raise InputError(f"{len(w)} sample weights for {len(y)} events")
        if np.any(w < 0) or not np.all(np.isfinite(w)):
            raise InputError("sample weights must be finite and non-negative")
    return X, y, w


def balanced_weights(y: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
    """Per-event weights that give both classes the same total weight (mean weight 1).

    >>> balanced_weights(np.array([1, 0, 0, 0])).tolist()
    [2.0, 0.6666666666666666, 0.6666666666666666, 0.6666666666666666]
    """
    y = np.asarray(y).reshape(-1)
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    out = w.copy()
    n = w.sum()
    for c in (0, 1):
        sel = y == c
        total = w[sel].sum()
        if total > 0:
            out[sel] = w[sel] * (0.5 * n / total)
    return out


def kfold_splits(
    y: np.ndarray,
    n_folds: int,
    n_splits: int,
    rng: np.random.Generator,
    groups: np.ndarray | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``n_splits`` (train, held-out) index pairs from repeated stratified k-fold splits.

    Split ``i`` holds out fold ``i % n_folds`` of a fresh random fold assignment drawn every
    ``n_folds`` splits, so consecutive ensemble members see different held-out parts and every
    event is held out once per repetition. With ``groups`` (one integer per event, e.g.
    :func:`~resonant_ad.data.copies.copy_groups`: the copies of one event of a
    Poisson-bootstrap replica) the events of a group share their fold, within each class.

    >>> rng = np.random.default_rng(0)
    >>> parts = list(kfold_splits(np.r_[np.zeros(6), np.ones(4)], 2, 2, rng))
    >>> sorted(np.concatenate([v for _, v in parts]).tolist()) == list(range(10))
    True
    >>> y, g = np.r_[0, 0, 1, 1, 1, 1], np.r_[0, 1, 2, 2, 3, 3]
    >>> all(set(va) in ({0, 2, 3}, {0, 4, 5}, {1, 2, 3}, {1, 4, 5})
    ...     for _, va in kfold_splits(y, 2, 2, np.random.default_rng(1), g))
    True
    """
    if n_folds < 2:
        raise InputError(f"n_folds = {n_folds}: need at least 2 folds")
    y = np.asarray(y).reshape(-1)
    if groups is not None and len(groups) != len(y):
        raise InputError(f"{len(groups)} groups for {len(y)} events")
    fold = np.empty(len(y), dtype=np.int64)
    for i in range(n_splits):
        k = i % n_folds
        if k == 0:
            for c in (0, 1):
                idx = np.flatnonzero(y == c)
                if groups is None:
                    fold[rng.permutation(idx)] = np.arange(len(idx)) % n_folds
                else:
                    _, group = np.unique(np.asarray(groups)[idx], return_inverse=True)
                    order = rng.permutation(int(group.max()) + 1 if len(idx) else 0)
                    fold[idx] = (order % n_folds)[group.reshape(-1)]
        held = fold == k
        yield np.flatnonzero(~held), np.flatnonzero(held)


class KFoldEnsemble(BaseEstimator):
    """Shared parts of the ensembles: fitted members averaged by :meth:`predict_proba`.

    A subclass trains ``n_estimators`` members in ``fit``, starting from :meth:`_start_fit`
    and ending with :meth:`_keep_members`, and scores one member in ``_member_proba``.
    """

    n_estimators: int
    n_folds: int
    balance_classes: bool
    random_state: RandomState
    members_: list[Any]

    def _check_params(self) -> None:
        """Raise :class:`InputError` on hyper-parameters that cannot train an ensemble."""
        if self.n_estimators < 1:
            raise InputError(f"n_estimators = {self.n_estimators}: need at least one member")

    def _start_fit(
        self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.random.Generator, np.ndarray]:
        """Checked ``(X, y, w)`` (``w`` class-balanced if asked), the fit's random generator
        and one seed per member drawn from it."""
        self._check_params()
        X, y, w = _check_xy(X, y, sample_weight)
        if self.balance_classes:
            w = balanced_weights(y, w)
        rng = np.random.default_rng(self.random_state)
        seeds = rng.integers(0, 2**31 - 1, size=self.n_estimators)
        return X, y, w, rng, seeds

    def _keep_members(
        self, members: list[Any], X: np.ndarray, t0: float, kind: str, median: str
    ) -> None:
        """Set the trained ``members`` and log their training since ``t0`` (``median``: how
        long the median member trained)."""
        log.info(
            "trained %d %s members on %d events in %.1f s (median %s)",
            self.n_estimators,
            kind,
            len(X),
            time.perf_counter() - t0,
            median,
        )
        self.members_ = members
        self.n_features_in_ = X.shape[1]

    def _member_proba(self, member: Any, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Ensemble mean of the members' class probabilities, shape ``(n, 2)``."""
        if not hasattr(self, "members_"):
            raise InputError(f"{type(self).__name__} is not fitted: call fit first")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X.reshape(-1, 1)
        p = np.zeros(len(X))
        for member in self.members_:
            p += self._member_proba(member, X)
        p /= len(self.members_)
        return np.column_stack([1.0 - p, p])

    def score_members(self, X: np.ndarray, members: Sequence[int]) -> np.ndarray:
        """Mean probability of class 1 over the members at the indices ``members`` only."""
        X = np.asarray(X, dtype=np.float64)
        return np.mean([self._member_proba(self.members_[i], X) for i in members], axis=0)

    def score(self, X: np.ndarray) -> np.ndarray:
        """Anomaly score: the ensemble mean probability of class 1, shape ``(n,)``."""
        return self.predict_proba(X)[:, 1]

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.score(X) > 0.5).astype(np.int64)
