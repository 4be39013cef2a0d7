"""Tests of the flow-matching methods (data, cr, the SIGMA templates) through the registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from resonant_ad.config import config_from_dict
from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion
from resonant_ad.errors import InputError
from resonant_ad.flows.model import FlowMatchingModel
from resonant_ad.flows.ode import ODESolver
from resonant_ad.methods import FitInputs, RegionInputs, get, sample_masses
from resonant_ad.models.flow_matching import FieldInSR, FlowMatchingBackground, sigma_interpolation
from resonant_ad.search.graph import fit_inputs

SR = SignalRegion(3.3, 3.7)
CONFIG = config_from_dict(
    {"data": {"events": "unused.h5"}, "model": {"preset": "tiny", "max_epochs": 2}}
)


def _events(n: int, seed: int) -> Events:
    rng = np.random.default_rng(seed)
    m = 2.5 + rng.exponential(0.8, n)
    m = m[m < 6.0]
    x = np.stack(
        [0.1 * m + 0.05 * rng.standard_normal(len(m)), rng.standard_normal(len(m))], axis=1
    )
    return Events(m, x, np.zeros(len(m)), ("a", "b"))


def _region(m_sr: np.ndarray, seed: int, region: SignalRegion = SR) -> RegionInputs:
    data = Events(m_sr, np.zeros((len(m_sr), 2)), np.zeros(len(m_sr)), ("a", "b"))
    return RegionInputs(region, data, data, CONFIG, seed)


@pytest.fixture(scope="module")
def v_data() -> FlowMatchingModel:
    model = FlowMatchingModel.from_preset("tiny", max_epochs=4, random_state=0, device="cpu")
    return model.fit(_events(6000, 0), _events(1500, 1))


def test_each_flow_method_views_the_one_model_in_the_sr(v_data: FlowMatchingModel) -> None:
    inputs = _region(np.linspace(3.31, 3.69, 50), 0)
    assert get("data").sampler(v_data, inputs).interpolation is None
    for kind in ("linear", "context", "poly"):
        view = get(f"sigma-{kind}").sampler(v_data, inputs)
        assert isinstance(view, FieldInSR) and view.model is v_data  # one v_data, no copy
        assert view.interpolation is not None
        assert view.interpolation.level == ("field" if kind == "linear" else "context")


def test_interpolation_anchors() -> None:
    model = FlowMatchingModel()
    model.mass_range_ = (2.5, 6.0)
    model.fields_ = []
    linear = sigma_interpolation(model, "linear", SR)
    assert linear.anchors == (3.2, 3.8) and linear.level == "field" and linear.degree == 1
    context = sigma_interpolation(model, "context", SR)
    assert context.anchors == (3.2, 3.8) and context.level == "context"
    poly = sigma_interpolation(model, "poly", SR)
    assert poly.anchors == (3.1, 3.2, 3.8, 3.9) and poly.degree == 2
    custom = sigma_interpolation(model, "context", SR, masses=(3.0, 4.0))
    assert custom.anchors == (3.0, 4.0)
    with pytest.raises(InputError):
        sigma_interpolation(model, "context", SR, masses=(3.4, 4.0))
    with pytest.raises(InputError):
        sigma_interpolation(model, "context", SR, masses=(2.0, 4.0))
    with pytest.raises(InputError):
        sigma_interpolation(model, "cubic", SR)


def test_sample_masses_follow_the_signal_region_data() -> None:
    rng = np.random.default_rng(0)
    m_sr = rng.uniform(3.3, 3.7, 5000) ** 1.0
    m_sr = np.concatenate([m_sr, rng.normal(3.4, 0.02, 2000)])
    m_sr = m_sr[SR.contains(m_sr)]
    drawn = sample_masses(m_sr, 40_000, np.random.default_rng(1), SR)
    assert SR.contains(drawn).all()
    hist_d, edges = np.histogram(drawn, bins=8, range=(3.3, 3.7), density=True)
    hist_s, _ = np.histogram(m_sr, bins=edges, density=True)
    np.testing.assert_allclose(hist_d, hist_s, rtol=0.12)
    with pytest.raises(InputError):
        sample_masses(np.array([3.0, 4.0]), 10, rng, SR)


@pytest.mark.parametrize("name", ["data", "sigma-linear", "sigma-context", "sigma-poly"])
def test_templates_sample_signal_region_events(name: str, v_data: FlowMatchingModel) -> None:
    inputs = _region(np.random.default_rng(2).uniform(3.3, 3.7, 800), 4)
    events = get(name).template(v_data, inputs, 1000)
    assert len(events) == 1000 and events.n_signal == 0
    assert events.feature_names == ("a", "b") and SR.contains(events.m).all()
    assert np.isfinite(events.x).all()
    again = get(name).template(v_data, inputs, 1000)
    np.testing.assert_array_equal(events.x, again.x)
    np.testing.assert_array_equal(events.m, again.m)


def test_sigma_templates_at_the_anchor_masses_reproduce_v_data(v_data: FlowMatchingModel) -> None:
    m = np.full(400, 3.2)
    plain = v_data.sample(m, seed=9)
    for kind in ("linear", "context"):
        interp = sigma_interpolation(v_data, kind, SR)
        np.testing.assert_allclose(v_data.sample(m, seed=9, interpolation=interp), plain, atol=1e-5)


def test_template_log_density(v_data: FlowMatchingModel) -> None:
    method = get("sigma-context")
    inputs = _region(np.linspace(3.31, 3.69, 50), 1)
    events = method.template(v_data, inputs, 300)
    lp = method.log_density(v_data, inputs, events)
    assert lp.shape == (300,) and np.isfinite(lp).all()
    # the density of the interpolated field with the [density] solver, not of v_data at
    # the SR masses
    d = CONFIG.density
    expected = v_data.log_prob(
        events.x,
        events.m,
        interpolation=sigma_interpolation(v_data, "context", SR),
        solver=ODESolver(d.solver, d.solver_steps),
    )
    np.testing.assert_allclose(lp, expected, rtol=1e-6)
    # its own samples are likely under it; the same events moved by one std are much less so
    moved = Events(events.m, events.x + events.x.std(axis=0), events.label, events.feature_names)
    assert lp.mean() > method.log_density(v_data, inputs, moved).mean() + 1.0
    with pytest.raises(NotImplementedError, match="no density"):
        get("data").log_density(v_data, inputs, events)


def test_flow_model_save_load_round_trip(v_data: FlowMatchingModel, tmp_path: Path) -> None:
    inputs = _region(np.linspace(3.31, 3.69, 100), 3)
    for name in ("data", "sigma-poly"):
        method = get(name)
        method.save_model(v_data, tmp_path / f"{name}.pt")
        loaded = method.load_model(tmp_path / f"{name}.pt", device="cpu")
        assert isinstance(loaded, FlowMatchingBackground)
        np.testing.assert_array_equal(
            method.template(loaded, inputs, 200).x, method.template(v_data, inputs, 200).x
        )


def test_cr_trains_on_sidebands_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    train, val = _events(4000, 5), _events(1000, 6)
    seen: list[tuple[Events, Events]] = []
    fit = FlowMatchingModel.fit

    def spy(self: FlowMatchingModel, tr: Events, va: Events) -> FlowMatchingModel:
        seen.append((tr, va))
        return fit(self, tr, va)

    monkeypatch.setattr(FlowMatchingModel, "fit", spy)
    method = get("cr")
    inputs = fit_inputs(method, train, val, SR, CONFIG, 0)
    assert isinstance(inputs, FitInputs)
    model = method.fit(inputs)
    assert model.mass_embedding == "identity" and model.random_state == 0
    ((tr, va),) = seen
    assert not SR.contains(tr.m).any() and not SR.contains(va.m).any()
    assert len(tr) == int(SR.sideband(train.m).sum()) and SR.contains(train.m).any()
    events = method.template(model, _region(np.linspace(3.31, 3.69, 50), 0), 100)
    assert SR.contains(events.m).all()
    other = SignalRegion(3.5, 3.9)
    with pytest.raises(InputError, match="train one per signal region"):
        method.template(model, _region(np.linspace(3.51, 3.89, 50), 0, other), 100)
    method.save_model(model, tmp_path / "cr.pt")
    loaded = method.load_model(tmp_path / "cr.pt", device="cpu")
    assert loaded.signal_region_ == SR
