"""The sideband correction of a background density: the ratio of data to a mismodelled
background model, learned in the sidebands and applied in the SR."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion, near_sidebands
from resonant_ad.density.correction import SidebandCorrection
from resonant_ad.errors import InputError

SR = SignalRegion(3.3, 3.7)
MODEL_SCALE = 1.4
"""The mismodelled background: ``x ~ N(0, 1.4)`` where the data have ``N(0, 1)``."""


def sideband_data(n: int, seed: int) -> Events:
    """``x ~ N(0, 1)`` (two features, independent of ``m``), ``m`` uniform in 2.9-4.1
    outside the SR."""
    rng = np.random.default_rng(seed)
    m = rng.uniform(2.9, 3.7, n)
    m = np.where(m >= 3.3, m + 0.4, m)
    return Events(m, rng.normal(size=(n, 2)), np.zeros(n))


class WideModel:
    """The mismodelled background model: it samples ``N(0, 1.4)`` at any mass."""

    def sample(self, m: np.ndarray, *, seed: int | None = None) -> np.ndarray:
        return np.random.default_rng(seed).normal(scale=MODEL_SCALE, size=(len(m), 2))


def model_log_density(x: np.ndarray) -> np.ndarray:
    return np.asarray(norm.logpdf(x, scale=MODEL_SCALE).sum(axis=1))


@pytest.fixture(scope="module")
def fitted() -> SidebandCorrection:
    return SidebandCorrection(members=2, samples=2).fit(
        sideband_data(6000, 1), sideband_data(1500, 2), WideModel(), seed=0
    )


def test_near_sidebands_keeps_the_events_within_the_width() -> None:
    ev = sideband_data(2000, 5)
    near = near_sidebands(ev, SR, 0.2)
    assert np.all(((near.m >= 3.1) & (near.m < 3.3)) | ((near.m > 3.7) & (near.m <= 3.9)))
    assert len(near) == np.sum((np.abs(ev.m - 3.5) <= 0.4) & ~SR.contains(ev.m))


def test_the_ratio_learned_in_the_sidebands_is_the_true_one_in_the_sr(
    fitted: SidebandCorrection,
) -> None:
    # the held-out check: the model is told from the data; weighted by r it is not
    assert fitted.auc_before_ > 0.6
    assert fitted.auc_after_ == pytest.approx(0.5, abs=0.03)
    rng = np.random.default_rng(9)
    x, m = rng.normal(size=(4000, 2)), rng.uniform(SR.lo, SR.hi, 4000)  # SR masses
    inner = np.all(np.abs(x) < 2, axis=1)
    true = norm.logpdf(x, scale=1.0).sum(1) - model_log_density(x)
    learned = np.log(fitted.ratio(x, m))
    assert np.corrcoef(true[inner], learned[inner])[0, 1] > 0.9
    assert np.mean(np.abs(learned - true)[inner]) < 0.25


def test_the_corrected_density_fits_held_out_data_better_and_stays_normalised(
    fitted: SidebandCorrection,
) -> None:
    rng = np.random.default_rng(4)
    n = 5000
    data = Events(rng.uniform(SR.lo, SR.hi, n), rng.normal(size=(n, 2)), np.zeros(n))
    m_ref = rng.uniform(SR.lo, SR.hi, 2 * n)
    reference = Events(m_ref, WideModel().sample(m_ref, seed=7), np.zeros(2 * n))
    raw = model_log_density(data.x)
    (corrected,), resampled = fitted.correct([raw], [data], reference, seed=0)
    # the true density's mean log-likelihood gain over the model is the KL divergence
    true_gain = np.mean(norm.logpdf(data.x, scale=1.0).sum(1) - raw)
    gain = np.mean(corrected - raw)
    assert 0.7 * true_gain < gain < 1.1 * true_gain
    # normalised: the mean of p_B' / p_B over events drawn from p_B is 1
    r_ref = fitted.ratio(reference.x, reference.m)
    assert np.mean(r_ref / r_ref.mean()) == pytest.approx(1.0)
    # the resampled reference is drawn from the corrected density, close to the data's
    assert len(resampled) == len(reference)
    assert resampled.x.std(axis=0) == pytest.approx([1.0, 1.0], abs=0.08)
    assert reference.x.std(axis=0) == pytest.approx([MODEL_SCALE] * 2, abs=0.05)


class ExactModel:
    """A background model that is right: it samples the data's ``N(0, 1)``."""

    def sample(self, m: np.ndarray, *, seed: int | None = None) -> np.ndarray:
        return np.random.default_rng(seed).normal(size=(len(m), 2))


def test_the_held_out_gain_measures_the_misfit_taken_out(fitted: SidebandCorrection) -> None:
    # the true KL divergence of N(0, 1) to N(0, 1.4), two features: 0.183 nats per event
    kl = 2 * (np.log(MODEL_SCALE) + 1 / (2 * MODEL_SCALE**2) - 0.5)
    assert fitted.gain_ == pytest.approx(kl, rel=0.15)
    assert 0 < fitted.gain_error_ < 0.03
    assert fitted.diagnostics()["gain"] == fitted.gain_
    # a right model leaves nothing to take out: the held-out gain is not above zero
    exact = SidebandCorrection(members=2, samples=2).fit(
        sideband_data(6000, 11), sideband_data(1500, 21), ExactModel(), seed=1
    )
    assert exact.gain_ < 2 * exact.gain_error_
    assert abs(exact.gain_) < 0.01


def test_the_copies_of_an_event_share_a_fold_of_the_ratio_classifier() -> None:
    ev = sideband_data(400, 6)
    copies = ev.select(np.repeat(np.arange(400), np.random.default_rng(0).poisson(1.0, 400)))
    groups = SidebandCorrection()._fold_groups(copies, 10)
    assert groups is not None and len(groups) == len(copies) + 10
    same = (copies.m[:, None] == copies.m[None, :]) & np.all(
        copies.x[:, None] == copies.x[None, :], axis=2
    )
    assert np.array_equal(groups[: len(copies), None] == groups[None, : len(copies)], same)
    assert len(set(groups[len(copies) :])) == 10  # every sample on its own
    assert not set(groups[len(copies) :]) & set(groups[: len(copies)])
    assert SidebandCorrection()._fold_groups(ev, 10) is None  # no copies: the plain splits


def test_the_correction_checks_its_inputs(fitted: SidebandCorrection) -> None:
    with pytest.raises(InputError, match="members"):
        SidebandCorrection(members=0)
    with pytest.raises(InputError, match="max_weight"):
        SidebandCorrection(max_weight=1.0)
    with pytest.raises(InputError, match="at least 10"):
        SidebandCorrection().fit(sideband_data(5, 0), sideband_data(50, 1), WideModel())
    with pytest.raises(InputError, match="not fitted"):
        SidebandCorrection().ratio(np.zeros((2, 2)), np.full(2, 3.5))
    ev = sideband_data(20, 3)
    with pytest.raises(InputError, match="densities"):
        fitted.correct([np.zeros(20)], [ev, ev], ev)
