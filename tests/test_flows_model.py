"""Tests of the FlowMatchingModel estimator: fit on toy data, sample, log_prob, save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from resonant_ad.data.events import Events
from resonant_ad.data.features import compute_features
from resonant_ad.data.toy import toy_background
from resonant_ad.errors import InputError
from resonant_ad.flows.interpolation import MassInterpolation
from resonant_ad.flows.model import FlowMatchingModel
from resonant_ad.flows.ode import ODESolver


@pytest.fixture(scope="module")
def toy() -> tuple[Events, Events, Events]:
    events = compute_features(toy_background(24_000, np.random.default_rng(5)))
    return (
        events.select(slice(0, 16_000)),
        events.select(slice(16_000, 20_000)),
        events.select(slice(20_000, None)),
    )


@pytest.fixture(scope="module")
def fitted(toy: tuple[Events, Events, Events]) -> FlowMatchingModel:
    train, val, _ = toy
    model = FlowMatchingModel.from_preset(
        "tiny", max_epochs=12, random_state=0, device="cpu", width=48
    )
    return model.fit(train, val)


def test_samples_match_toy_moments(fitted: FlowMatchingModel, toy: tuple[Events, ...]) -> None:
    test = toy[2]
    samples = fitted.sample(test.m, seed=3)
    assert samples.shape == test.x.shape
    scale = test.x.std(axis=0)
    np.testing.assert_array_less(np.abs(samples.mean(axis=0) - test.x.mean(axis=0)) / scale, 0.1)
    np.testing.assert_allclose(samples.std(axis=0) / scale, 1.0, atol=0.15)
    corr_s, corr_t = np.corrcoef(samples.T), np.corrcoef(test.x.T)
    np.testing.assert_array_less(np.abs(corr_s - corr_t), 0.12)


def test_fitted_attributes_and_ensemble(fitted: FlowMatchingModel) -> None:
    assert len(fitted.fields_) == 2  # the tiny preset keeps the 2 best
    assert fitted.member_scores_ == sorted(fitted.member_scores_)
    assert len(fitted.history_) == 12 and fitted.n_features_in_ == 5
    assert fitted.feature_names_[0] == "mj1"


def test_sampling_is_seeded(fitted: FlowMatchingModel) -> None:
    m = np.full(300, 3.5)
    a, b = fitted.sample(m, seed=11), fitted.sample(m, seed=11)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, fitted.sample(m, seed=12))
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    np.testing.assert_array_equal(fitted.sample(m, generator=g1), fitted.sample(m, generator=g2))


def test_save_load_round_trip(fitted: FlowMatchingModel, tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    fitted.save(path)
    loaded = FlowMatchingModel.load(path, device="cpu")
    m = np.linspace(3.0, 4.0, 500)
    np.testing.assert_array_equal(loaded.sample(m, seed=5), fitted.sample(m, seed=5))
    interp = MassInterpolation((3.2, 3.8))
    np.testing.assert_array_equal(
        loaded.sample(m, seed=5, interpolation=interp),
        fitted.sample(m, seed=5, interpolation=interp),
    )
    assert loaded.get_params() == {**fitted.get_params(), "device": "cpu"}
    state = torch.load(path, weights_only=False)
    assert state["versions"]["torch"] == torch.__version__


def test_log_prob_is_a_normalised_density_in_feature_space() -> None:
    # one feature on a 0.01 scale: without the preprocessing Jacobian the integral is ~0.01
    rng = np.random.default_rng(0)
    m = rng.uniform(3.0, 4.0, 4000)
    x = (0.5 + 0.01 * (m - 3.5) + 0.01 * rng.standard_normal(4000)).reshape(-1, 1)
    events = Events(m, x, np.zeros(4000))
    model = FlowMatchingModel.from_preset(
        "tiny", max_epochs=3, random_state=1, device="cpu", nll_monitor_events=300
    )
    model.fit(events.select(slice(0, 3000)), events.select(slice(3000, None)))
    # the exact validation NLL is recorded next to the proxy; in x space it is negative
    # here (a density of width ~0.01 has log p ~ +3)
    nll = [h["val_nll"] for h in model.history_]
    assert len(nll) == 3 and all(-4.0 < v < -1.0 for v in nll)
    grid = np.linspace(0.35, 0.65, 601).reshape(-1, 1)
    for mass in (3.2, 3.7):
        density = np.exp(model.log_prob(grid, np.full(601, mass), solver=ODESolver("rk4", 16)))
        integral = float(np.sum(density) * (grid[1, 0] - grid[0, 0]))
        assert abs(integral - 1.0) < 0.02, integral
    samples = model.sample(np.full(2000, 3.7), seed=0)
    lp = model.log_prob(samples, np.full(2000, 3.7), solver=ODESolver("rk4", 16))
    assert np.isfinite(lp).all()
    # samples score higher at their own mass than far away from it
    assert lp.mean() > model.log_prob(samples, np.full(2000, 3.0)).mean()


def test_nll_selection_scores_epochs_by_the_exact_validation_nll() -> None:
    rng = np.random.default_rng(3)
    m = rng.uniform(3.0, 4.0, 3000)
    x = np.stack([m + 0.1 * rng.standard_normal(3000), rng.standard_normal(3000)], axis=1)
    events = Events(m, x, np.zeros(3000))
    train, val = events.select(slice(0, 2400)), events.select(slice(2400, None))
    common = {"max_epochs": 4, "random_state": 2, "device": "cpu", "nll_monitor_events": 600}
    by_nll = FlowMatchingModel.from_preset("tiny", selection="nll", **common).fit(train, val)
    by_loss = FlowMatchingModel.from_preset("tiny", **common).fit(train, val)
    # the selection score is the exact NLL of the validation subset (600 events: the same
    # number as the monitor, so the two agree), and the loss is kept next to it
    for h in by_nll.history_:
        assert h["val_score"] == pytest.approx(h["val_nll"], rel=1e-6)
        assert h["val_loss"] == pytest.approx(
            next(g["val_score"] for g in by_loss.history_ if g["epoch"] == h["epoch"]), rel=1e-5
        )
    # the kept members are the epochs with the lowest NLL, best first
    best = sorted(by_nll.history_, key=lambda h: h["val_nll"])[: len(by_nll.member_epochs_)]
    assert by_nll.member_epochs_ == [int(h["epoch"]) for h in best]
    with pytest.raises(InputError, match="selection"):
        FlowMatchingModel.from_preset("tiny", selection="aic").fit(train, val)


def test_unfitted_model_raises() -> None:
    with pytest.raises(InputError):
        FlowMatchingModel().sample(np.ones(3), seed=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_load_on_cuda_samples_like_cpu(fitted: FlowMatchingModel, tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    fitted.save(path)
    on_gpu = FlowMatchingModel.load(path, device="cuda")
    assert on_gpu.device_.type == "cuda"
    m = np.linspace(3.0, 4.0, 500)
    interp = MassInterpolation((3.2, 3.8))
    np.testing.assert_allclose(
        on_gpu.sample(m, seed=5, interpolation=interp),
        fitted.sample(m, seed=5, interpolation=interp),
        atol=1e-4,
    )
    x = fitted.sample(m, seed=6)
    np.testing.assert_allclose(on_gpu.log_prob(x, m), fitted.log_prob(x, m), atol=1e-3)
