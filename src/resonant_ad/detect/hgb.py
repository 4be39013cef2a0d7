"""The boosted-tree ensemble: ``HistGradientBoostingClassifier`` members on k-fold splits."""

from __future__ import annotations

import time
from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np

from resonant_ad.detect.classifier import KFoldEnsemble, RandomState, kfold_splits
from resonant_ad.errors import InputError

__all__ = ["BinnedTrees", "HGBEnsemble", "bin_edges", "to_bins"]

BINNING_SUBSAMPLE = 200_000
"""Events the bin edges are computed from at most (scikit-learn's own default)."""


def bin_edges(
    X: np.ndarray, w: np.ndarray, max_bins: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Per feature, the edges of at most ``max_bins`` bins of equal weight.

    Where a feature has at most ``max_bins`` distinct values the edges are their midpoints;
    otherwise the weighted quantiles at ``1/max_bins, ..., (max_bins-1)/max_bins`` of at most
    :data:`BINNING_SUBSAMPLE` events of non-zero weight (ties merged). This is
    scikit-learn's rule (the same edges where no more events than that are binned) from one
    sort per feature, where scikit-learn >= 1.6 sorts once per weighted quantile: 254 sorts
    per feature.

    >>> x = np.arange(10.0).reshape(-1, 1)
    >>> bin_edges(x, np.ones(10), 4, np.random.default_rng(0))[0].tolist()
    [2.0, 4.5, 7.0]
    """
    X, w = X[w > 0], w[w > 0]  # events of zero weight do not count
    if len(X) > BINNING_SUBSAMPLE:
        keep = np.sort(rng.choice(len(X), size=BINNING_SUBSAMPLE, replace=False))
        X, w = X[keep], w[keep]
    ranks = np.linspace(0, 100, num=max_bins + 1)[1:-1]
    edges = []
    for col in X.T:
        order = np.argsort(col, kind="stable")
        values, weights = col[order], w[order]
        distinct = np.unique(values)
        if len(distinct) <= max_bins:
            edges.append(0.5 * (distinct[:-1] + distinct[1:]))
            continue
        # the "averaged inverted CDF": the value where the weight reaches the level, or the
        # mean of it and the next where the level falls exactly on it
        cdf = np.cumsum(weights)
        level = ranks / 100 * cdf[-1]
        at = np.minimum(np.searchsorted(cdf, level), len(values) - 1)
        above = cdf[at] - level > np.finfo(np.float64).eps
        nxt = np.minimum(at + 1, len(values) - 1)
        edges.append(np.unique(np.where(above, values[at], (values[at] + values[nxt]) / 2)))
    return edges


def to_bins(X: np.ndarray, edges: list[np.ndarray]) -> np.ndarray:
    """Bin indices of ``X`` (a value equal to an edge falls in the lower bin), as floats.

    Boosted trees split on thresholds between bins, so a tree grown on the indices splits as
    one grown on the values; scikit-learn finds fewer distinct values than bins and keeps
    them as they are.
    """
    out = np.empty(X.shape, dtype=np.float64)
    for j, e in enumerate(edges):
        out[:, j] = np.searchsorted(e, X[:, j], side="left")
    return out


@dataclass
class BinnedTrees:
    """One member: the bin edges of its training events and the trees grown on their bin
    indices (scikit-learn finds no more distinct values than bins and keeps them)."""

    edges: list[np.ndarray]
    trees: Any

    def proba(self, X: np.ndarray) -> np.ndarray:
        """Probability of class 1."""
        return np.asarray(self.trees.predict_proba(to_bins(X, self.edges))[:, 1])


def _fit_hgb_member(
    params: dict[str, Any],
    seed: int,
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    train: np.ndarray,
    held_out: np.ndarray,
    n_threads: int | None,
) -> BinnedTrees:
    """One boosted-tree member on ``train`` (binned by its own events, as scikit-learn would
    bin them), early-stopped on ``held_out`` if asked."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    edges = bin_edges(X[train], w[train], params["max_bins"], np.random.default_rng(seed))
    clf = HistGradientBoostingClassifier(**params, random_state=seed)
    with threadpool_limits(limits=n_threads, user_api="openmp"):
        if params["early_stopping"]:
            clf.fit(
                to_bins(X[train], edges),
                y[train],
                sample_weight=w[train],
                X_val=to_bins(X[held_out], edges),
                y_val=y[held_out],
                sample_weight_val=w[held_out],
            )
        else:
            clf.fit(to_bins(X[train], edges), y[train], sample_weight=w[train])
    return BinnedTrees(edges, clf)


@dataclass(eq=False, repr=False)
class HGBEnsemble(KFoldEnsemble):
    """Average of ``n_estimators`` ``HistGradientBoostingClassifier`` s on k-fold splits.

    Member ``i`` trains on all but one fold of a repeated stratified k-fold split and stops
    early on the loss of its held-out fold (at most ``max_iter`` boosting rounds, patience
    ``n_iter_no_change``; ``early_stopping=False`` runs all ``max_iter`` rounds). Classes
    are balanced through sample weights, so the output
    ``p`` estimates ``p1 / (p1 + p0)`` with equal priors and ``p / (1 - p)`` the density
    ratio. ``subsample`` < 1 trains each member on that random fraction of its training part
    (bagging: faster, members more diverse). ``n_threads`` caps the OpenMP threads of each
    member (``None``: all cores); ``n_jobs`` > 1 trains members in parallel processes
    (joblib). On a busy machine one thread per member is far faster than OpenMP threads
    competing for cores (measured: up to 70x), hence the default ``n_threads=1``.

    Each member's features are binned here (:func:`bin_edges` of its training events, kept
    in :class:`BinnedTrees`) and the trees grown on the bin indices: with sample weights
    scikit-learn >= 1.6 finds the bins by one weighted-percentile sort per bin edge, which
    took 81% of the classifier's CPU time over nine scan windows on the dev sample
    (``benchmarks/scan/window_cost.py``); a study's classifier took 4x less CPU after
    (``benchmarks/classifier/study_cost.py``).

    Defaults are the fast settings measured in ``benchmarks/classifier/hgb_settings.py``: early
    stopping and ``subsample=0.5`` cost ~4-5x less CPU per signal region than 200 full rounds
    on all data (scikit-learn's defaults otherwise), at equal or better SIC.
    """

    n_estimators: int = 50
    _: KW_ONLY
    n_folds: int = 5
    learning_rate: float = 0.1
    max_iter: int = 200
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 20
    l2_regularization: float = 0.0
    max_bins: int = 255
    n_iter_no_change: int = 10
    early_stopping: bool = True
    subsample: float = 0.5
    balance_classes: bool = True
    n_threads: int | None = 1
    n_jobs: int | None = 1
    store_oof: bool = False
    random_state: RandomState = None

    def _check_params(self) -> None:
        super()._check_params()
        if not 0.0 < self.subsample <= 1.0:
            raise InputError(f"subsample = {self.subsample}: must be in (0, 1]")

    def fit(
        self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> HGBEnsemble:
        """Train the members; sets ``members_``, ``n_iter_`` and (if asked) ``oof_score_`` and
        ``oof_rounds_``."""
        X, y, w, rng, seeds = self._start_fit(X, y, sample_weight)
        splits: list[tuple[np.ndarray, np.ndarray]] = []
        for tr, va in kfold_splits(y, self.n_folds, self.n_estimators, rng):
            if self.subsample < 1.0:
                keep = max(2, round(self.subsample * len(tr)))
                tr = np.sort(rng.choice(tr, size=keep, replace=False))
            splits.append((tr, va))
        params = {
            "learning_rate": self.learning_rate,
            "max_iter": self.max_iter,
            "max_leaf_nodes": self.max_leaf_nodes,
            "min_samples_leaf": self.min_samples_leaf,
            "l2_regularization": self.l2_regularization,
            "max_bins": self.max_bins,
            "early_stopping": self.early_stopping,
            "n_iter_no_change": self.n_iter_no_change,
        }
        t0 = time.perf_counter()
        if self.n_jobs == 1:
            members = [
                _fit_hgb_member(params, int(s), X, y, w, tr, va, self.n_threads)
                for s, (tr, va) in zip(seeds, splits, strict=True)
            ]
        else:
            from joblib import Parallel, delayed

            members = Parallel(n_jobs=self.n_jobs)(
                delayed(_fit_hgb_member)(params, int(s), X, y, w, tr, va, self.n_threads)
                for s, (tr, va) in zip(seeds, splits, strict=True)
            )
        n_iter = [int(m.trees.n_iter_) for m in members]
        self._keep_members(members, X, t0, "boosted-tree", f"{int(np.median(n_iter))} rounds")
        self.n_iter_ = np.asarray(n_iter)
        if self.store_oof:
            self.oof_score_, self.oof_rounds_ = self._out_of_fold(X, [va for _, va in splits])
        return self

    def _out_of_fold(
        self, X: np.ndarray, held_out: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per event, the mean score of the members that held it out (NaN if none did); and,
        shape ``(R, n)``, per complete repetition of the k-fold split (``R = n_estimators //
        n_folds``) the score by the one member of it that held the event out: ``R`` complete
        out-of-fold scorings by different members."""
        oof_sum = np.zeros(len(X))
        oof_n = np.zeros(len(X))
        rounds = np.full((self.n_estimators // self.n_folds, len(X)), np.nan)
        for i, (m, va) in enumerate(zip(self.members_, held_out, strict=True)):
            p = self._member_proba(m, X[va])
            oof_sum[va] += p
            oof_n[va] += 1
            if i // self.n_folds < len(rounds):
                rounds[i // self.n_folds, va] = p
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(oof_n > 0, oof_sum / np.maximum(oof_n, 1), np.nan), rounds

    def _member_proba(self, member: Any, X: np.ndarray) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            return member.proba(X)
