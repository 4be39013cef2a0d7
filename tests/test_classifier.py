"""Tests of the classifier ensembles and the weakly supervised / IAD / supervised steps."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from resonant_ad.data.events import Events
from resonant_ad.data.features import compute_features
from resonant_ad.data.regions import DEFAULT_SIGNAL_REGION
from resonant_ad.data.toy import toy_background, toy_signal
from resonant_ad.detect.classifier import balanced_weights, kfold_splits
from resonant_ad.detect.hgb import HGBEnsemble
from resonant_ad.detect.metrics import auc, evaluate, roc_curve
from resonant_ad.detect.mlp import MLPEnsemble
from resonant_ad.detect.weakly_supervised import (
    fit_weakly_supervised,
    idealized_scores,
    out_of_fold_scores,
    supervised_scores,
    weakly_supervised_scores,
)
from resonant_ad.errors import InputError


def _roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    return auc(*roc_curve(scores, labels)[:2])


def _blobs(
    rng: np.random.Generator, n0: int, n1: int, shift: float, d: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    x0 = rng.normal(size=(n0, d))
    x1 = rng.normal(size=(n1, d))
    x1[:, 0] += shift
    return np.r_[x0, x1], np.r_[np.zeros(n0, dtype=int), np.ones(n1, dtype=int)]


@pytest.fixture(scope="module")
def sr_toy() -> tuple[Events, Events]:
    """Toy SR background (60k) and toy signal in the SR."""
    rng = np.random.default_rng(11)
    sr = DEFAULT_SIGNAL_REGION
    bkg = compute_features(toy_background(60_000, rng, window=sr))
    sig = compute_features(toy_signal(6_000, rng))
    return bkg, sig.select(sr.contains(sig.m))


def test_balanced_weights_equal_class_totals() -> None:
    y = np.r_[np.ones(10), np.zeros(40)].astype(int)
    w = balanced_weights(y, np.linspace(1, 2, 50))
    assert w[y == 1].sum() == pytest.approx(w[y == 0].sum())
    assert w.sum() == pytest.approx(np.linspace(1, 2, 50).sum())


def test_kfold_splits_hold_each_event_out_once_per_repeat() -> None:
    y = np.r_[np.zeros(70), np.ones(30)].astype(int)
    parts = list(kfold_splits(y, 5, 10, np.random.default_rng(0)))
    assert len(parts) == 10
    for rep in (parts[:5], parts[5:]):
        held = np.concatenate([va for _, va in rep])
        assert sorted(held.tolist()) == list(range(100))
        for tr, va in rep:
            assert len(np.intersect1d(tr, va)) == 0
            assert len(tr) + len(va) == 100
            assert y[va].sum() == 6  # stratified: 30 signal / 5 folds
    # a new fold assignment each repetition
    assert not np.array_equal(parts[0][1], parts[5][1])


def test_kfold_splits_keep_a_group_in_one_fold_and_stay_stratified() -> None:
    rng = np.random.default_rng(3)
    y = np.r_[np.zeros(300), np.ones(200)].astype(int)
    groups = np.r_[np.arange(300), 300 + rng.integers(0, 120, 200)]  # class 1: copies
    parts = list(kfold_splits(y, 4, 8, np.random.default_rng(0), groups))
    for rep in (parts[:4], parts[4:]):
        held = np.concatenate([va for _, va in rep])
        assert sorted(held.tolist()) == list(range(500))
        for tr, va in rep:
            assert not set(groups[tr]) & set(groups[va])  # no copy on both sides
            assert y[va].sum() == pytest.approx(50, abs=25)
            assert (1 - y[va]).sum() == 75  # class 0, one event per group: exactly even
    # without groups, the splits are those drawn before groups existed
    plain = list(kfold_splits(y, 4, 4, np.random.default_rng(0)))
    fold = np.empty(500, dtype=np.int64)
    ref = np.random.default_rng(0)
    for c in (0, 1):
        idx = np.flatnonzero(y == c)
        fold[ref.permutation(idx)] = np.arange(len(idx)) % 4
    for k, (_, va) in enumerate(plain):
        assert np.array_equal(va, np.flatnonzero(fold == k))


def test_hgb_ensemble_reproducible_and_shapes() -> None:
    rng = np.random.default_rng(1)
    X, y = _blobs(rng, 1000, 1000, 1.0)
    a = HGBEnsemble(3, max_iter=15, random_state=5).fit(X, y)
    b = HGBEnsemble(3, max_iter=15, random_state=5).fit(X, y)
    c = HGBEnsemble(3, max_iter=15, random_state=6).fit(X, y)
    p = a.predict_proba(X[:7])
    assert p.shape == (7, 2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_array_equal(a.score(X), b.score(X))
    assert not np.array_equal(a.score(X), c.score(X))
    assert len(a.members_) == 3 and a.n_iter_.shape == (3,)
    assert set(a.predict(X[:50]).tolist()) <= {0, 1}


def test_hgb_early_stopping_and_out_of_fold_scores() -> None:
    rng = np.random.default_rng(2)
    X, y = _blobs(rng, 2000, 2000, 1.5)
    clf = HGBEnsemble(5, max_iter=300, n_iter_no_change=5, store_oof=True, random_state=0)
    clf.fit(X, y)
    assert np.all(clf.n_iter_ < 300)  # stopped on the held-out folds before the cap
    assert not np.any(np.isnan(clf.oof_score_))  # 5 members x 5 folds: each held out once
    # out-of-fold scores are honest: AUC close to the Bayes AUC Phi(1.5/sqrt(2)) = 0.856
    assert _roc_auc(clf.oof_score_, y) == pytest.approx(0.856, abs=0.03)


def test_ensemble_beats_single_model_on_noisy_task() -> None:
    """Averaging over folds lowers the variance of the score and raises held-out AUC."""
    rng = np.random.default_rng(3)
    X, y = _blobs(rng, 2000, 2000, 0.5, d=6)  # weak signal in one of 6 features
    Xt, yt = _blobs(rng, 10_000, 10_000, 0.5, d=6)
    kw: dict[str, Any] = {"max_iter": 100, "n_iter_no_change": 20, "min_samples_leaf": 5}
    ens = HGBEnsemble(6, random_state=0, **kw).fit(X, y)
    single = [ens.score_members(Xt, [i]) for i in range(len(ens.members_))]
    single_auc = np.array([_roc_auc(s, yt) for s in single])
    ens_auc = _roc_auc(ens.score(Xt), yt)
    assert ens_auc > single_auc.max()
    assert ens_auc > single_auc.mean() + 0.005
    # the averaged score fluctuates less between independently seeded ensembles
    ens2 = HGBEnsemble(6, random_state=1, **kw).fit(X, y)
    ens_spread = np.std(ens.score(Xt) - ens2.score(Xt))
    single_spread = np.std(single[0] - single[1])
    assert ens_spread < 0.6 * single_spread


def test_mlp_ensemble_learns_blobs_reproducibly() -> None:
    rng = np.random.default_rng(4)
    X, y = _blobs(rng, 1000, 1000, 2.0)
    Xt, yt = _blobs(rng, 5000, 5000, 2.0)
    kw: dict[str, Any] = {"hidden": (16, 16), "max_epochs": 10, "patience": 3, "batch_size": 256}
    a = MLPEnsemble(2, random_state=0, **kw).fit(X, y)
    b = MLPEnsemble(2, random_state=0, **kw).fit(X, y)
    np.testing.assert_array_equal(a.score(Xt), b.score(Xt))
    np.testing.assert_array_equal(a.n_epochs_, b.n_epochs_)
    # Bayes AUC for a shift of 2 in one dimension: Phi(2 / sqrt(2)) = 0.921
    assert _roc_auc(a.score(Xt), yt) == pytest.approx(0.921, abs=0.02)
    assert a.predict_proba(Xt).shape == (10_000, 2)


def test_mlp_members_keep_their_best_held_out_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each member is trained by the shared loop, stops ``patience`` epochs after its best
    held-out loss, keeps that epoch's state, and the ensemble separates shifted Gaussians."""
    import torch

    import resonant_ad.training as training

    runs: list[Any] = []
    shared_train = training.train

    def recording_train(*args: Any, **kwargs: Any) -> Any:
        result = shared_train(*args, **kwargs)
        runs.append((args[0], result))
        return result

    monkeypatch.setattr(training, "train", recording_train)
    rng = np.random.default_rng(5)
    X, y = _blobs(rng, 3000, 3000, 1.5)
    Xt, yt = _blobs(rng, 5000, 5000, 1.5)
    max_epochs, patience = 40, 3
    kw: dict[str, Any] = {"hidden": (32, 32), "max_epochs": max_epochs, "patience": patience}
    ens = MLPEnsemble(3, random_state=1, **kw).fit(X, y)
    assert len(runs) == 3
    assert np.all((ens.n_epochs_ >= 1) & (ens.n_epochs_ <= max_epochs))
    stopped_early = 0
    for i, (net, result) in enumerate(runs):
        scores = [h["val_score"] for h in result.history]
        assert len(scores) == result.epochs  # validated after every epoch
        best_epoch = int(np.argmin(scores)) + 1
        assert ens.n_epochs_[i] == best_epoch == result.members[0].epoch
        assert len({h["lr"] for h in result.history}) == 1  # constant learning rate
        if result.stop_reason == "early_stopping":
            stopped_early += 1
            assert result.epochs == best_epoch + patience
        else:
            assert result.epochs == max_epochs
        member = ens.members_[i]
        assert member is net
        best_state = result.members[0].state
        assert all(torch.equal(v, best_state[k]) for k, v in member.state_dict().items())
    assert stopped_early >= 1
    # Bayes AUC for a shift of 1.5 in one dimension: Phi(1.5 / sqrt(2)) = 0.856
    assert _roc_auc(ens.score(Xt), yt) > 0.84


def test_unfitted_and_bad_input() -> None:
    with pytest.raises(InputError):
        HGBEnsemble(2).score(np.zeros((3, 2)))
    with pytest.raises(InputError):
        HGBEnsemble(2).fit(np.zeros((4, 2)), np.ones(4))
    with pytest.raises(InputError):
        HGBEnsemble(2).fit(np.zeros((4, 2)), np.array([0, 1, 2, 1]))
    with pytest.raises(InputError):
        HGBEnsemble(2, subsample=0.0).fit(np.zeros((4, 2)), np.array([0, 1, 0, 1]))


def test_iad_finds_strong_signal(sr_toy: tuple[Events, Events]) -> None:
    bkg, sig = sr_toy
    data = Events.concatenate([bkg.select(slice(0, 15_000)), sig.select(slice(0, 1_000))])
    template = bkg.select(slice(15_000, 40_000))
    test = Events.concatenate([bkg.select(slice(40_000, None)), sig.select(slice(1_000, None))])
    clf = HGBEnsemble(3, max_iter=60, random_state=0)
    scores = idealized_scores(data, template, test, classifier=clf)
    m = evaluate(scores, test.label, fpr=0.01)
    assert m.auc > 0.9
    assert m.max_sic > 5.0
    assert m.sic_at_fpr > 5.0


def test_background_only_data_gives_no_sensitivity() -> None:
    """Without signal in the data the score is noise: SIC ~ sqrt(FPR), max SIC ~ 1.

    Gaussian blobs with the signal in the bulk of the background: for the toy, whose signal
    sits in a sparse tail, a 2-sigma background fluctuation there is enough to fake a SIC.
    """
    rng = np.random.default_rng(5)
    d = 5
    names = tuple(f"x{i}" for i in range(d))

    def bkg(n: int) -> Events:
        return Events(np.full(n, 3.5), rng.normal(size=(n, d)), np.zeros(n), names)

    sig_x = rng.normal(0.5, 0.3, size=(3_000, d))
    data = bkg(15_000).with_label(1)
    template = bkg(30_000)
    test = Events.concatenate([bkg(30_000), Events(np.full(3_000, 3.5), sig_x, np.ones(3_000))])
    scores = weakly_supervised_scores(
        data, template, test, classifier=HGBEnsemble(3, max_iter=60, random_state=0)
    )
    m = evaluate(scores, test.label, fpr=0.1)
    assert m.max_sic == pytest.approx(1.0, abs=0.4)
    assert m.sic_at_fpr == pytest.approx(np.sqrt(0.1), abs=0.2)
    # (no AUC check: a noise score puts a compact signal at one random rank, any AUC)
    # the same data with 1000 of those signal events injected is found
    data_sig = Events.concatenate(
        [data, Events(np.full(1_000, 3.5), rng.normal(0.5, 0.3, (1_000, d)), np.ones(1_000))]
    )
    scores = weakly_supervised_scores(
        data_sig, template, test, classifier=HGBEnsemble(3, max_iter=60, random_state=0)
    )
    assert evaluate(scores, test.label, fpr=0.1).sic_at_fpr > 2.0


def test_supervised_yardstick(sr_toy: tuple[Events, Events]) -> None:
    bkg, sig = sr_toy
    half = len(sig) // 2
    train = Events.concatenate([bkg.select(slice(0, 10_000)), sig.select(slice(0, half))])
    test = Events.concatenate([bkg.select(slice(40_000, None)), sig.select(slice(half, None))])
    scores = supervised_scores(train, test, classifier=HGBEnsemble(3, max_iter=100, random_state=0))
    assert evaluate(scores, test.label, fpr=0.01).auc > 0.97


def test_template_ratio_cap_and_feature_check(sr_toy: tuple[Events, Events]) -> None:
    bkg, _ = sr_toy
    data, template = bkg.select(slice(0, 1000)), bkg.select(slice(1000, 11_000))
    clf = fit_weakly_supervised(
        data,
        template,
        classifier=HGBEnsemble(2, max_iter=5, store_oof=True, random_state=0),
        max_template_ratio=3.0,
        random_state=0,
    )
    assert isinstance(clf, HGBEnsemble)
    assert len(clf.oof_score_) == 4000  # 1000 data + 3 x 1000 template
    other = Events(bkg.m[:10], bkg.x[:10], bkg.label[:10], tuple("abcde"))
    with pytest.raises(InputError):
        weakly_supervised_scores(data, template, other)


def test_out_of_fold_scores_rank_injected_signal(sr_toy: tuple[Events, Events]) -> None:
    bkg, sig = sr_toy
    data = Events.concatenate([bkg.select(slice(0, 10_000)), sig.select(slice(0, 500))])
    template = bkg.select(slice(10_000, 30_000))
    clf = HGBEnsemble(5, max_iter=60, random_state=0)
    d, t = out_of_fold_scores(data, template, classifier=clf)
    assert d.shape == (10_500,) and t.shape == (20_000,)
    assert not np.any(np.isnan(d)) and not np.any(np.isnan(t))
    # the injected signal in the data is found without scoring events with their own models
    assert _roc_auc(d, data.label) > 0.9
    # template and background data events score alike
    assert np.median(d[data.label == 0]) == pytest.approx(np.median(t), abs=0.02)
    with pytest.raises(InputError):
        out_of_fold_scores(data, template, classifier=HGBEnsemble(2, n_folds=5))
