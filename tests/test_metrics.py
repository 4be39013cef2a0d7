"""Tests of ROC/SIC/AUC, the 20% statistical cut, injection summaries and significances."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from resonant_ad.detect.metrics import (
    SICCurve,
    asimov_significance,
    asimov_significance_with_uncertainty,
    auc,
    evaluate,
    max_sic,
    min_background_efficiency,
    naive_significance,
    roc_curve,
    sic_at_fpr,
    sic_curve,
    sic_on_grid,
    summarize,
    tpr_at_fpr,
)
from resonant_ad.errors import InputError


def _separated(n_bkg: int, n_sig: int) -> tuple[np.ndarray, np.ndarray]:
    """Every signal event scores above every background event: TPR = 1 at any FPR > 0."""
    scores = np.r_[np.arange(n_bkg, dtype=float), n_bkg + np.arange(n_sig, dtype=float)]
    return scores, np.r_[np.zeros(n_bkg), np.ones(n_sig)]


def _half_separated(n_bkg: int, n_sig: int) -> tuple[np.ndarray, np.ndarray]:
    """Half the signal above all background, half below all: TPR = 1/2 for 0 < FPR < 1."""
    half = n_sig // 2
    scores = np.r_[
        np.arange(n_bkg, dtype=float), n_bkg + np.arange(half), -1.0 - np.arange(n_sig - half)
    ]
    return scores, np.r_[np.zeros(n_bkg), np.ones(n_sig)]


def test_roc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(0)
    scores = np.round(rng.normal(size=500), 1)  # many ties
    labels = (rng.random(500) < 0.3 + 0.2 * (scores > 0)).astype(int)
    fpr, tpr, thr = roc_curve(scores, labels)
    f2, t2, th2 = sk_roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, f2)
    np.testing.assert_allclose(tpr, t2)
    np.testing.assert_allclose(thr[1:], th2[1:])
    assert auc(fpr, tpr) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_roc_hand_case() -> None:
    fpr, tpr, _ = roc_curve(np.array([3.0, 2.0, 2.0, 1.0]), np.array([1, 1, 0, 0]))
    # threshold 3: 1/2 signal; threshold 2: all signal, 1/2 background; threshold 1: all
    assert fpr.tolist() == [0.0, 0.0, 0.5, 1.0]
    assert tpr.tolist() == [0.0, 0.5, 1.0, 1.0]
    assert auc(fpr, tpr) == pytest.approx(0.875)  # P(s > b) + P(s = b) / 2 = 3/4 + 1/8


def test_min_background_efficiency_is_25_over_nb() -> None:
    assert min_background_efficiency(1000) == pytest.approx(0.025)
    assert min_background_efficiency(340_000) == pytest.approx(25 / 340_000)
    assert min_background_efficiency(1000, max_rel_error=0.5) == pytest.approx(0.004)
    with pytest.raises(InputError):
        min_background_efficiency(0)


def test_sic_curve_is_cut_at_20_percent_error() -> None:
    scores, labels = _separated(1000, 50)
    curve = sic_curve(scores, labels)
    assert isinstance(curve, SICCurve)
    # TPR = 1 everywhere, so SIC = 1/sqrt(FPR), largest at the cut FPR = 25/1000
    assert curve.eps_b_min == pytest.approx(0.025)
    assert curve.fpr.min() == pytest.approx(0.025)
    np.testing.assert_allclose(curve.sic, 1.0 / np.sqrt(curve.fpr))
    assert max_sic(scores, labels) == pytest.approx(1 / math.sqrt(0.025))
    # without the cut (50% allowed error) the curve reaches further: eps_B >= 4/1000
    assert max_sic(scores, labels, max_rel_error=0.5) == pytest.approx(1 / math.sqrt(0.004))
    np.testing.assert_allclose(curve.rejection, 1.0 / curve.fpr)


def test_sic_at_fpr_interpolated_and_flagged_beyond_cut() -> None:
    scores, labels = _half_separated(100_000, 200)
    assert sic_at_fpr(scores, labels, fpr=1e-3) == pytest.approx(0.5 / math.sqrt(1e-3))
    # with 1000 background events the cut is eps_B >= 0.025: FPR 1e-3 is beyond it
    small_scores, small_labels = _half_separated(1000, 200)
    assert math.isnan(sic_at_fpr(small_scores, small_labels, fpr=1e-3))
    assert sic_at_fpr(small_scores, small_labels, fpr=0.04) == pytest.approx(0.5 / 0.2)


def test_tpr_at_fpr_linear_between_points_and_top_of_steps() -> None:
    fpr = np.array([0.0, 0.0, 0.1, 0.1, 0.3, 1.0])
    tpr = np.array([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert tpr_at_fpr(fpr, tpr, 0.05) == pytest.approx(0.2 + 0.5 * 0.2)
    assert tpr_at_fpr(fpr, tpr, 0.1) == pytest.approx(0.6)  # top of the vertical step
    assert tpr_at_fpr(fpr, tpr, 0.2) == pytest.approx(0.7)
    assert tpr_at_fpr(fpr, tpr, 1.0) == pytest.approx(1.0)


def test_sic_on_grid_nan_outside_cut() -> None:
    scores, labels = _half_separated(1000, 100)
    curve = sic_curve(scores, labels)
    grid = np.array([1e-3, 0.025, 0.1, 0.5])
    out = sic_on_grid(curve, grid)
    assert math.isnan(out[0])
    np.testing.assert_allclose(out[1:], 0.5 / np.sqrt(grid[1:]))


def test_evaluate_random_scores_sic_near_sqrt_fpr() -> None:
    rng = np.random.default_rng(3)
    n = 200_000
    scores = rng.random(n)
    labels = (rng.random(n) < 0.1).astype(int)
    m = evaluate(scores, labels, fpr=0.01)
    # a useless score passes signal like background: TPR = FPR, SIC = sqrt(FPR)
    assert m.sic_at_fpr == pytest.approx(0.1, rel=0.15)
    assert m.auc == pytest.approx(0.5, abs=0.01)
    assert m.max_sic == pytest.approx(1.0, abs=0.1)
    assert m.n_signal + m.n_background == n


def test_bad_inputs() -> None:
    with pytest.raises(InputError):
        roc_curve(np.array([0.1, 0.2]), np.array([1, 1]))
    with pytest.raises(InputError):
        roc_curve(np.array([0.1, np.nan]), np.array([1, 0]))
    with pytest.raises(InputError):
        roc_curve(np.array([0.1, 0.2]), np.array([1, 2]))
    with pytest.raises(InputError):
        roc_curve(np.array([0.1, 0.2, 0.3]), np.array([1, 0]))


def test_summarize_percentiles() -> None:
    s = summarize(np.arange(101.0))
    assert s == {"median": pytest.approx(50.0), "p16": pytest.approx(16.0), "p84": 84.0}
    s = summarize([np.nan, 2.0, np.nan])
    assert s["median"] == s["p16"] == s["p84"] == 2.0
    assert all(math.isnan(v) for v in summarize([np.nan]).values())


def test_significances_hand_computed() -> None:
    # Z = sqrt(2 (110 ln 1.1 - 10)) = sqrt(2 * 0.4841...) = 0.98399
    assert asimov_significance(10.0, 100.0) == pytest.approx(0.983992, abs=1e-6)
    # s = b = 1: sqrt(2 (2 ln 2 - 1)) = sqrt(0.772589) = 0.878970
    assert asimov_significance(1.0, 1.0) == pytest.approx(0.878970, abs=1e-6)
    assert naive_significance(10.0, 100.0) == pytest.approx(1.0)
    # s << b: Asimov -> s / sqrt(b)
    assert asimov_significance(1.0, 1e6) == pytest.approx(1e-3, rel=1e-3)
    z = asimov_significance(np.array([10.0, 20.0]), np.array([100.0, 100.0]))
    assert isinstance(z, np.ndarray) and z.shape == (2,) and z[1] > z[0]
    assert asimov_significance(0.0, 5.0) == 0.0
    with pytest.raises(InputError):
        asimov_significance(1.0, 0.0)


def test_significance_with_background_uncertainty() -> None:
    # s=10, b=100, sigma_b=10, by hand from Cowan's formula:
    # (110 ln(110*200/(10000+110*100)) - 100 ln(1 + 100*10/(100*200))) = 0.238185...
    assert asimov_significance_with_uncertainty(10.0, 100.0, 10.0) == pytest.approx(
        math.sqrt(2 * (110 * math.log(22000 / 21000) - 100 * math.log(1.05))), rel=1e-12
    )
    assert asimov_significance_with_uncertainty(10.0, 100.0, 10.0) == pytest.approx(
        0.690196, abs=1e-6
    )
    # sigma_b -> 0 recovers the plain Asimov value, and uncertainty always lowers Z
    assert asimov_significance_with_uncertainty(10.0, 100.0, 0.0) == pytest.approx(
        asimov_significance(10.0, 100.0)
    )
    assert asimov_significance_with_uncertainty(10.0, 100.0, 1e-4) == pytest.approx(
        asimov_significance(10.0, 100.0), rel=1e-6
    )
    zs = asimov_significance_with_uncertainty(10.0, 100.0, np.array([0.0, 5.0, 10.0, 50.0]))
    assert isinstance(zs, np.ndarray)
    assert np.all(np.diff(zs) < 0)
    with pytest.raises(InputError):
        asimov_significance_with_uncertainty(1.0, 10.0, -1.0)


def test_significance_of_an_empty_cut_is_the_limit_not_nan() -> None:
    # nothing observed (s = -b): Z -> sqrt(2b), the limit of 0 * log 0 = 0
    for b in (0.5, 4.0, 30.0):
        assert asimov_significance(-b, b) == pytest.approx(np.sqrt(2 * b), rel=1e-12)
        z = asimov_significance_with_uncertainty(-b, b, 0.1 * b)
        assert np.isfinite(z) and 0 < z < np.sqrt(2 * b)
        # continuous in the observed count as it goes to zero
        near = asimov_significance_with_uncertainty(-b + 1e-9, b, 0.1 * b)
        assert z == pytest.approx(near, rel=1e-6)


def test_the_statistical_cut_warning_is_said_once(caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(9)
    labels = np.r_[np.zeros(3217), np.ones(300)]  # too few background events for FPR 1e-3
    with caplog.at_level("WARNING", logger="resonant_ad.detect.metrics"):
        for _ in range(4):  # e.g. one method after another on the same test set
            m = evaluate(rng.normal(size=len(labels)) + labels, labels)
            assert np.isnan(m.sic_at_fpr) and np.isfinite(m.max_sic)
    warnings = [r for r in caplog.records if "statistical cut-off" in r.getMessage()]
    assert len(warnings) == 1 and "3217 background" in warnings[0].getMessage()
