"""Counts averaged over the repetitions of the classifier's k-fold split (``[scan] counts =
"rounds"``): the average, its dispersion and a significance that stays standard."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from resonant_ad.cli import main
from resonant_ad.config import ScanConfig
from resonant_ad.detect.hgb import HGBEnsemble
from resonant_ad.errors import InputError
from resonant_ad.search.counts import cut_and_count, signed_significance
from toys import toy_scan_config


def test_rows_that_pass_the_same_events_count_like_one_cut() -> None:
    rng = np.random.default_rng(0)
    data, template = rng.random(5_000), rng.random(20_000)
    one = cut_and_count(data, template, [0.1, 0.01])
    same = cut_and_count(np.tile(data, (3, 1)), np.tile(template, (3, 1)), [0.1, 0.01])
    for a, b in zip(one, same, strict=True):
        assert b.observed == a.observed and b.expected == a.expected
        assert a.dispersion == 1.0 and b.dispersion == pytest.approx(1.0)
        assert b.significance == pytest.approx(a.significance)


def test_the_average_of_independent_cuts_is_tested_with_its_own_variance() -> None:
    """Background only, each of 8 rows scoring the events independently (as classifiers that
    learned noise): the averaged count fluctuates far less than one cut's, the dispersion
    says so ((1 + 7 eps) / 8 = 0.169 at eps = 0.05), and Z over pseudo-experiments stays
    N(0, 1); tested as a plain Poisson count its Z would be far too narrow (an excess
    missed)."""
    rng = np.random.default_rng(1)
    z, z_plain, dispersion = [], [], []
    for _ in range(300):
        c = cut_and_count(rng.random((8, 4_000)), rng.random((8, 16_000)), [0.05])[0]
        z.append(c.significance)
        dispersion.append(c.dispersion)
        z_plain.append(signed_significance(c.observed, c.expected, c.expected_uncertainty))
    assert np.median(dispersion) == pytest.approx(0.169, abs=0.01)
    assert abs(np.mean(z)) < 0.15 and 0.8 < np.std(z) < 1.2
    assert np.std(z_plain) < 0.6


def test_a_signal_that_every_cut_passes_keeps_its_full_size() -> None:
    rng = np.random.default_rng(2)
    background = rng.random((8, 10_000))
    signal = np.full((8, 200), 0.9999)  # every row scores the signal highest
    c = cut_and_count(np.c_[background, signal], rng.random((8, 40_000)), [0.01])[0]
    assert c.observed == pytest.approx(100 + 200, abs=20)
    labels = np.r_[np.zeros(10_000), np.ones(200)]
    c = cut_and_count(
        np.c_[background, signal], rng.random((8, 40_000)), [0.01], data_labels=labels
    )[0]
    assert c.true_signal == 200 and c.true_background + c.true_signal == pytest.approx(c.observed)
    assert c.significance > 10


def test_the_rounds_of_an_ensemble_are_complete_out_of_fold_scorings() -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3_000, 3))
    y = (rng.random(3_000) < 0.5).astype(int)
    X[y == 1, 0] += 1.0
    clf = HGBEnsemble(n_estimators=6, n_folds=3, store_oof=True, random_state=0, max_iter=20)
    clf.fit(X, y)
    assert clf.oof_rounds_.shape == (2, 3_000) and not np.isnan(clf.oof_rounds_).any()
    # each event held out once per repetition: the ensemble's score is the rounds' mean
    np.testing.assert_allclose(clf.oof_rounds_.mean(axis=0), clf.oof_score_)
    assert not np.allclose(clf.oof_rounds_[0], clf.oof_rounds_[1])  # different members


def test_scan_counts_is_checked() -> None:
    assert ScanConfig(counts="rounds").counts == "rounds"
    with pytest.raises(InputError, match="counts"):
        ScanConfig(counts="members")


def test_a_scan_counting_rounds_records_their_average(tmp_path: Path) -> None:
    config = toy_scan_config(tmp_path, ensemble_size=4, scan_extra='counts = "rounds"\n')
    out = tmp_path / "scan"
    assert main(["scan", str(config), "--out", str(out), "--no-progress"]) == 0
    windows = json.loads((out / "scan.json").read_text())["scans"][0]["windows"]
    for w in windows:
        for c in w["counts"]:
            # two rounds of two folds: an average of two cuts, counted by halves
            assert 0.5 <= c["dispersion"] <= 1.0
            assert c["true_background"] + c["true_signal"] == pytest.approx(c["observed"])
            assert (2 * c["observed"]) == pytest.approx(round(2 * c["observed"]))
    signal = max(windows, key=lambda w: w["n_signal_true"])
    assert signal["signal_region"] == [3.4, 3.8]
    assert max(c["significance"] for c in signal["counts"]) == max(
        c["significance"] for w in windows for c in w["counts"]
    )
