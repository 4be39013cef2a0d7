"""Tests of the classifier test: AUC and log weights of good, mismodelled and signal templates."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resonant_ad.data.events import Events
from resonant_ad.data.features import compute_features
from resonant_ad.data.regions import DEFAULT_SIGNAL_REGION
from resonant_ad.data.toy import toy_background, toy_signal
from resonant_ad.detect.classifier_test import (
    ClassifierTestResult,
    classifier_test,
    histogram_overlap,
    log_weight,
    signal_box,
)
from resonant_ad.detect.hgb import HGBEnsemble
from resonant_ad.errors import InputError


@pytest.fixture(scope="module")
def toy_sr() -> tuple[Events, Events]:
    rng = np.random.default_rng(21)
    sr = DEFAULT_SIGNAL_REGION
    bkg = compute_features(toy_background(30_000, rng, window=sr))
    sig = compute_features(toy_signal(4_000, rng))
    return bkg, sig.select(sr.contains(sig.m))


def _run(template: Events, background: Events, signal: Events) -> ClassifierTestResult:
    return classifier_test(
        template,
        background,
        signal=signal,
        classifier=HGBEnsemble(3, max_iter=60, random_state=0),
        random_state=1,
    )


def test_log_weight_is_logit_minus_class_ratio() -> None:
    p = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(log_weight(p), np.log(p / (1 - p)))
    np.testing.assert_allclose(log_weight(p, class_ratio=4.0), np.log(p / (1 - p)) - np.log(4))
    assert np.all(np.isfinite(log_weight(np.array([0.0, 1.0]))))
    with pytest.raises(InputError):
        log_weight(p, class_ratio=0.0)


def test_signal_box_and_overlap() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20_000, 2))
    lo, hi = signal_box(x, coverage=0.9)
    np.testing.assert_allclose(lo, -1.645, atol=0.05)
    np.testing.assert_allclose(hi, 1.645, atol=0.05)
    ov = histogram_overlap(x, x + np.array([0.0, 1.0]))
    assert ov[0] == pytest.approx(1.0)  # the same sample in the first feature
    # two unit Gaussians 1 apart overlap by 2 Phi(-1/2) = 0.617
    assert ov[1] == pytest.approx(0.617, abs=0.03)


def test_good_template_is_indistinguishable(toy_sr: tuple[Events, Events]) -> None:
    bkg, sig = toy_sr
    res = _run(bkg.select(slice(0, 12_000)), bkg.select(slice(12_000, 24_000)), sig)
    assert res.auc == pytest.approx(0.5, abs=0.02)
    assert len(res.log_weight_template) == 3_600  # 30% held out
    assert len(res.log_weight_background) == 3_600
    assert np.std(res.log_weight_template) < 0.15
    assert res.signal_box_fraction_template == pytest.approx(
        res.signal_box_fraction_background, abs=0.01
    )


def test_template_that_learned_the_signal(toy_sr: tuple[Events, Events]) -> None:
    """A v_data-like template: background plus signal. The log-weight tail is the signal."""
    bkg, sig = toy_sr
    template = Events.concatenate([bkg.select(slice(0, 12_000)), sig.select(slice(0, 1_000))])
    res = _run(template, bkg.select(slice(12_000, 24_000)), sig.select(slice(1_000, None)))
    assert res.auc > 0.52
    assert len(res.passing) > 0
    # most passing samples lie where the signal does, far more often than background does
    assert res.signal_box_fraction_passing > 0.15
    assert res.signal_box_fraction_passing > 20 * res.signal_box_fraction_background
    assert np.all(res.signal_overlap > 0.3)
    assert "enrichment" in res.summary()


def test_mismodelled_template_excess_is_not_signal(toy_sr: tuple[Events, Events]) -> None:
    """A template with a distorted dR (as SIGMA-linear): visible to the test, not signal-like."""
    bkg, sig = toy_sr
    t = bkg.select(slice(0, 12_000))
    x = t.x.copy()
    x[:, 4] *= 1.04  # dR stretched by 4%
    template = Events(t.m, x, t.label, t.feature_names)
    res = _run(template, bkg.select(slice(12_000, 24_000)), sig)
    assert res.auc > 0.55
    assert res.pass_fraction > 0.05
    assert res.signal_box_fraction_passing < 0.02
    assert np.all(res.signal_overlap < 0.9)


def test_bad_input(toy_sr: tuple[Events, Events]) -> None:
    bkg, _ = toy_sr
    other = Events(bkg.m[:100], bkg.x[:100], bkg.label[:100], tuple("abcde"))
    with pytest.raises(InputError):
        classifier_test(bkg.select(slice(0, 100)), other)
    with pytest.raises(InputError):
        classifier_test(bkg.select(slice(0, 5)), bkg.select(slice(5, 100)))
    assert math.isnan(
        ClassifierTestResult(
            0.5, np.zeros(1), np.zeros(1), 0.1, bkg.select(slice(0, 0)), 0.0
        ).signal_enrichment
    )
