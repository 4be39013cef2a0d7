"""Per-event weights through the pipeline: :attr:`Events.weight`, the weighted ROC, the
weakly supervised classifier, the classifier test and the validation AUC.

The two properties checked throughout: weights of zero on a subset act as removing those
events, and integer weights act as duplicating them; exactly for the ROC curve and its AUC,
within stated tolerances for the trained classifiers (their folds and bins see the events
themselves, not only their weights).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from resonant_ad.data.events import Events
from resonant_ad.detect.classifier_test import classifier_test, histogram_overlap, log_weight
from resonant_ad.detect.hgb import HGBEnsemble
from resonant_ad.detect.metrics import auc, roc_curve
from resonant_ad.detect.weakly_supervised import fit_weakly_supervised
from resonant_ad.errors import InputError
from resonant_ad.search.cache import events_fingerprint
from resonant_ad.search.validation import validation_auc


def events(x: np.ndarray, weight: np.ndarray | None = None, label: int = 0) -> Events:
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    m = np.linspace(3.3, 3.7, len(x))
    return Events(m, x, np.full(len(x), label), tuple(f"x{j}" for j in range(x.shape[1])), weight)


# ---------------------------------------------------------------------- Events
def test_events_validate_and_keep_their_weights() -> None:
    w = np.array([0.5, 0.0, 2.0, 1.0])
    ev = events(np.arange(8.0).reshape(4, 2), w)
    assert ev.weight is not None and ev.weight.dtype == np.float64
    np.testing.assert_array_equal(ev.select(np.array([2, 0])).weights(), [2.0, 0.5])
    np.testing.assert_array_equal(ev.select(slice(1, 3)).weights(), [0.0, 2.0])
    np.testing.assert_array_equal(ev.with_label(1).weights(), w)
    shuffled = ev.shuffled(np.random.default_rng(0))
    order = np.argsort(shuffled.x[:, 0])
    np.testing.assert_array_equal(shuffled.weights()[order], w)
    both = Events.concatenate([ev, events(np.ones((2, 2)))])
    np.testing.assert_array_equal(both.weights(), [0.5, 0.0, 2.0, 1.0, 1.0, 1.0])
    assert Events.concatenate([events(np.ones((2, 2)))] * 2).weight is None
    assert ev.with_weight(None).weight is None
    np.testing.assert_array_equal(events(np.ones(3)).weights(), np.ones(3))
    assert ev.effective_size() == pytest.approx(3.5**2 / (0.25 + 4.0 + 1.0))
    assert events(np.ones(5)).effective_size() == 5.0
    for bad, match in (
        ([1.0, 2.0], "2 weights for 4 events"),
        ([1.0, -1.0, 1.0, 1.0], "non-negative"),
        ([1.0, np.nan, 1.0, 1.0], "finite"),
        ([1.0, np.inf, 1.0, 1.0], "finite"),
    ):
        with pytest.raises(InputError, match=match):
            events(np.ones(4), np.array(bad))


def test_the_fingerprint_of_unweighted_events_is_unchanged_and_weights_change_it() -> None:
    ev = Events(
        np.array([3.4, 3.6]), np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([0, 1]), ("a", "b")
    )
    # the value before weights existed: caches of unweighted events stay valid
    assert events_fingerprint(ev) == "c2c60a0125127bca"
    fp = {events_fingerprint(ev.with_weight(w)) for w in ([1.0, 1.0], [1.0, 2.0], [2.0, 1.0])}
    assert len(fp) == 3 and events_fingerprint(ev) not in fp


# ---------------------------------------------------------------------- ROC and AUC
def test_weighted_roc_equals_duplicated_and_removed_events_exactly() -> None:
    rng = np.random.default_rng(0)
    scores = np.round(rng.normal(size=300), 2)  # ties included
    labels = (rng.random(300) < 0.4).astype(np.int64)
    k = rng.integers(0, 4, size=300)  # 0: removed; 2, 3: duplicated
    weighted = roc_curve(scores, labels, k.astype(float))
    copies = roc_curve(np.repeat(scores, k), np.repeat(labels, k))
    for a, b in zip(weighted, copies, strict=True):
        np.testing.assert_array_equal(a, b)
    assert auc(*weighted[:2]) == auc(*copies[:2])
    ones = roc_curve(scores, labels, np.ones(300))
    for a, b in zip(ones, roc_curve(scores, labels), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(InputError, match="positive total weight"):
        roc_curve(scores, labels, np.where(labels == 1, 0.0, 1.0))
    with pytest.raises(InputError, match="non-negative"):
        roc_curve(scores, labels, -np.ones(300))


def test_weighted_histogram_overlap() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(400, 1)), rng.normal(1.0, size=(300, 1))
    w = (np.arange(400) % 3).astype(float)
    dup = np.repeat(a, w.astype(int), axis=0)
    # the binning is the union's unweighted quantiles: same edges only with the same events
    assert histogram_overlap(a, b, weight_a=np.ones(400))[0] == histogram_overlap(a, b)[0]
    assert 0.0 < histogram_overlap(a, b, weight_a=w)[0] < 1.0
    assert abs(histogram_overlap(a, b, weight_a=w)[0] - histogram_overlap(dup, b)[0]) < 0.05
    assert np.isnan(histogram_overlap(a, b, weight_a=np.zeros(400))[0])


# ---------------------------------------------------------------------- the classifiers
class Recording:
    """A classifier that records what it was trained on and scores ``x0``."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> Any:
        self.calls.append({"X": X.copy(), "y": y.copy(), "w": sample_weight})
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(1.0 / (1.0 + np.exp(-X[:, 0])))


def test_the_weakly_supervised_classifier_gets_the_template_weights() -> None:
    rng = np.random.default_rng(2)
    data = events(rng.normal(size=(50, 2)), label=1)
    w = rng.random(200) * 3
    template = events(rng.normal(size=(200, 2)), w)
    clf = Recording()
    fit_weakly_supervised(data, template, classifier=clf)
    (call,) = clf.calls
    np.testing.assert_array_equal(call["w"], np.r_[np.ones(50), w])
    np.testing.assert_array_equal(call["y"], np.r_[np.ones(50), np.zeros(200)])
    # unweighted: no sample_weight at all (a classifier without weights still works)
    fit_weakly_supervised(data, template.with_weight(None), classifier=clf)
    assert clf.calls[1]["w"] is None
    # capped template: each kept event keeps its own weight
    fit_weakly_supervised(data, template, classifier=clf, max_template_ratio=2, random_state=0)
    capped = clf.calls[2]
    kept = capped["X"][50:]
    assert len(kept) == 100
    index = {tuple(row): i for i, row in enumerate(template.x)}
    np.testing.assert_array_equal(capped["w"][50:], w[[index[tuple(r)] for r in kept]])
    with pytest.raises(InputError, match="positive total weight"):
        fit_weakly_supervised(data, template.with_weight(np.zeros(200)), classifier=clf)


@pytest.fixture(scope="module")
def blobs() -> dict[str, Events]:
    """Data ``N(0, 1)``; a template of ``N(0, 1)`` plus a cluster at ``x = 2.5`` (the part
    that zero weights remove), and test points across both."""
    rng = np.random.default_rng(3)
    clean = rng.normal(size=(2000, 1))
    cluster = rng.normal(2.5, 0.3, size=(600, 1))
    return {
        "data": events(rng.normal(size=(2000, 1)), label=1),
        "clean": events(clean),
        "mixed": events(np.r_[clean, cluster]),
        "grid": events(np.linspace(-2.0, 3.0, 26).reshape(-1, 1)),
    }


def _scores(data: Events, template: Events, grid: Events) -> np.ndarray:
    clf = HGBEnsemble(n_estimators=4, random_state=0)
    fit_weakly_supervised(data, template, classifier=clf)
    return clf.score(grid.x)


def test_zero_weights_train_the_classifier_as_removed_events(blobs: dict[str, Events]) -> None:
    data, grid = blobs["data"], blobs["grid"]
    removed = _scores(data, blobs["clean"], grid)
    zeroed = _scores(data, blobs["mixed"].with_weight(np.r_[np.ones(2000), np.zeros(600)]), grid)
    unweighted = _scores(data, blobs["mixed"], grid)
    near_cluster = grid.x[:, 0] > 2.0
    # the cluster's template events, unweighted, pull the score down near x = 2.5
    assert np.min(removed[near_cluster] - unweighted[near_cluster]) > 0.3
    # with zero weight they do not, to within the ensemble's noise (measured: the same
    # template at another seed differs by 0.026 on average, 0.10 at most)
    diff = np.abs(zeroed - removed)
    assert diff.mean() < 0.04 and diff.max() < 0.12


def test_integer_weights_train_the_classifier_as_duplicated_events(
    blobs: dict[str, Events],
) -> None:
    data, grid, mixed = blobs["data"], blobs["grid"], blobs["mixed"]
    k = np.r_[np.ones(2000, dtype=int), np.full(600, 3)]
    duplicated = _scores(data, mixed.select(np.repeat(np.arange(len(mixed)), k)), grid)
    weighted = _scores(data, mixed.with_weight(k.astype(float)), grid)
    unweighted = _scores(data, mixed, grid)
    near_cluster = grid.x[:, 0] > 2.0
    # three times the cluster: the data/template odds there drop by about log 3 = 1.1
    shift = log_weight(unweighted[near_cluster]) - log_weight(duplicated[near_cluster])
    assert shift.mean() > 0.6
    # to within the ensemble's noise (duplicated, another seed: 0.034 on average, 0.11 at most)
    diff = np.abs(weighted - duplicated)
    assert diff.mean() < 0.05 and diff.max() < 0.12


def test_the_classifier_test_trains_on_and_scores_with_the_weights() -> None:
    rng = np.random.default_rng(4)
    template = events(rng.normal(size=(300, 1)), np.arange(300) % 4 * 1.0)
    background = events(rng.normal(0.5, size=(200, 1)))
    clf = Recording()
    result = classifier_test(template, background, classifier=clf, random_state=0)
    (call,) = clf.calls
    # the training rows' weights are their own: template weights for class 1, ones for 0
    index = {float(v): i for i, v in enumerate(template.x[:, 0])}
    rows = call["X"][call["y"] == 1][:, 0]
    np.testing.assert_array_equal(
        call["w"][call["y"] == 1], template.weight[[index[v] for v in rows]]
    )
    np.testing.assert_array_equal(call["w"][call["y"] == 0], 1.0)
    # the AUC on the held-out events is the weighted one (recovered from the log weights)
    p_t = 1.0 / (1.0 + np.exp(-result.log_weight_template))
    held = np.log(p_t) - np.log1p(-p_t)  # the held-out template x (the stub scores sigmoid(x))
    w_held = template.weight[[index[min(index, key=lambda v: abs(v - h))] for h in held]]
    p_b = 1.0 / (1.0 + np.exp(-result.log_weight_background))
    labels = np.r_[np.ones(len(p_t)), np.zeros(len(p_b))].astype(np.int64)
    expected = auc(*roc_curve(np.r_[p_t, p_b], labels, np.r_[w_held, np.ones(len(p_b))])[:2])
    assert result.auc == pytest.approx(expected, abs=1e-12)
    unweighted = auc(*roc_curve(np.r_[p_t, p_b], labels)[:2])
    assert abs(result.auc - unweighted) > 1e-3  # the weights matter here
    assert result.pass_fraction == pytest.approx(
        np.dot(result.log_weight_template > result.cut, w_held) / w_held.sum()
    )
    assert result.passing.weight is not None
    np.testing.assert_array_equal(log_weight(np.array([0.5])), [0.0])


def test_the_validation_auc_of_a_weighted_template(blobs: dict[str, Events]) -> None:
    window = events(np.random.default_rng(5).normal(size=(2000, 1)))
    mixed = blobs["mixed"]
    clean = validation_auc(window, blobs["clean"], ensemble_size=3, seed=0)
    off = validation_auc(window, mixed, ensemble_size=3, seed=0)
    zeroed = validation_auc(
        window, mixed.with_weight(np.r_[np.ones(2000), np.zeros(600)]), ensemble_size=3, seed=0
    )
    assert off > clean + 0.07  # the cluster is easy to find (measured: 0.604 vs 0.505)
    assert abs(zeroed - clean) < 0.03  # weighted out, it is not there
