"""The copies of an event (an expanded Poisson-bootstrap replica's) stay on one side of every
split: the training/validation split of an injection and the folds of R-ANODE's fit."""

from __future__ import annotations

import numpy as np

from resonant_ad.data.copies import copy_groups, fold_assignment, holdout_mask
from resonant_ad.data.events import Events
from resonant_ad.data.features import compute_features
from resonant_ad.data.injection import make_injection, poisson_replica
from resonant_ad.data.regions import SignalRegion
from resonant_ad.data.toy import ToySample
from resonant_ad.density.mixture import SignalMixture

SR = SignalRegion(3.3, 3.7)


def _rows(events: Events) -> set[tuple[float, ...]]:
    return {(float(m), *map(float, x)) for m, x in zip(events.m, events.x, strict=True)}


def test_without_copies_the_splits_are_the_plain_random_ones() -> None:
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    assert np.array_equal(fold_assignment(101, 5, rng_a), rng_b.permutation(np.arange(101) % 5))
    assert np.array_equal(holdout_mask(20, 0.15, None, rng_a), np.arange(20) < 3)
    assert copy_groups(np.arange(4.0), np.zeros((4, 2))) is None


def test_an_injection_keeps_an_events_copies_on_one_side(toy_sample: ToySample) -> None:
    bkg = compute_features(toy_sample.background)
    sig = compute_features(toy_sample.signal)
    replica = poisson_replica(bkg, 7).expanded()
    assert len(_rows(replica)) < len(replica)  # there are copies
    inj = make_injection(replica, sig, 300, signal_region=SR, seed=1)
    assert not _rows(inj.val) & _rows(inj.train)
    # still about 15% held out, in events and in distinct events
    assert abs(len(inj.val) / len(inj.data) - 0.15) < 0.01
    assert abs(len(_rows(inj.val)) / len(_rows(inj.data)) - 0.15) < 0.001
    # and the held-out events are as often copied as the others
    per_row = len(inj.data) / len(_rows(inj.data))
    assert abs(len(inj.val) / len(_rows(inj.val)) - per_row) < 0.03
    # the same call without copies splits as it always did: the first 15% of the events
    plain = make_injection(bkg, sig, 300, signal_region=SR, seed=1)
    n_val = round(0.15 * len(plain.data))
    assert np.array_equal(plain.val.x, plain.data.x[:n_val])
    assert np.array_equal(plain.train.x, plain.data.x[n_val:])


def test_the_mixture_fit_keeps_an_events_copies_in_one_fold() -> None:
    rng = np.random.default_rng(0)
    n = 400
    x, m = rng.normal(size=(n, 2)), rng.uniform(3.3, 3.7, n)
    copies = np.repeat(np.arange(n), rng.poisson(1.0, n))  # a Poisson-bootstrap replica
    x, m = x[copies], m[copies]
    log_bg = -0.5 * (x**2).sum(axis=1) - np.log(2 * np.pi) - np.log(0.4)
    fit = SignalMixture(
        folds=3, epochs=1, warmup_epochs=0, restarts=0, hidden_features=(8,), random_state=0
    ).fit(x, m, log_bg, (3.3, 3.7))
    for event in np.unique(copies):
        assert len(set(fit.fold_of_[copies == event].tolist())) == 1
    assert sorted(set(fit.fold_of_.tolist())) == [0, 1, 2]
