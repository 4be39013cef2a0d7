"""Tests of the template interface, the registry and the data / cr / sigma templates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion
from resonant_ad.errors import InputError
from resonant_ad.flows.model import FlowMatchingModel
from resonant_ad.flows.ode import ODESolver
from resonant_ad.methods import (
    CRTemplate,
    DataTemplate,
    SigmaTemplate,
    Template,
    make_template,
    sample_masses,
)

SR = SignalRegion(3.3, 3.7)


def _events(n: int, seed: int) -> Events:
    rng = np.random.default_rng(seed)
    m = 2.5 + rng.exponential(0.8, n)
    m = m[m < 6.0]
    x = np.stack(
        [0.1 * m + 0.05 * rng.standard_normal(len(m)), rng.standard_normal(len(m))], axis=1
    )
    return Events(m, x, np.zeros(len(m)), ("a", "b"))


@pytest.fixture(scope="module")
def v_data() -> FlowMatchingModel:
    model = FlowMatchingModel.from_preset("tiny", max_epochs=4, random_state=0, device="cpu")
    return model.fit(_events(6000, 0), _events(1500, 1))


def test_registry_builds_each_family(v_data: FlowMatchingModel) -> None:
    assert isinstance(make_template("data", v_data), DataTemplate)
    assert isinstance(make_template("cr"), CRTemplate)
    for kind in ("linear", "context", "poly"):
        template = make_template(f"sigma-{kind}", v_data)
        assert isinstance(template, SigmaTemplate) and template.interpolation_kind == kind
        assert template.model is v_data  # one shared v_data, no copy
    with pytest.raises(InputError):
        make_template("sigma-cubic")


def test_interpolation_anchors() -> None:
    model = FlowMatchingModel()
    model.mass_range_ = (2.5, 6.0)
    model.fields_ = []
    linear = SigmaTemplate(model, interpolation="linear").interpolation(SR)
    assert linear.anchors == (3.2, 3.8) and linear.level == "field" and linear.degree == 1
    context = SigmaTemplate(model, interpolation="context").interpolation(SR)
    assert context.anchors == (3.2, 3.8) and context.level == "context"
    poly = SigmaTemplate(model, interpolation="poly").interpolation(SR)
    assert poly.anchors == (3.1, 3.2, 3.8, 3.9) and poly.degree == 2
    custom = SigmaTemplate(model, interpolation="context", masses=(3.0, 4.0)).interpolation(SR)
    assert custom.anchors == (3.0, 4.0)
    with pytest.raises(InputError):
        SigmaTemplate(model, masses=(3.4, 4.0)).interpolation(SR)
    with pytest.raises(InputError):
        SigmaTemplate(model, masses=(2.0, 4.0)).interpolation(SR)


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
    m_sr = np.random.default_rng(2).uniform(3.3, 3.7, 800)
    events = make_template(name, v_data).sample(SR, m_sr, 1000, seed=4)
    assert len(events) == 1000 and events.n_signal == 0
    assert events.feature_names == ("a", "b") and SR.contains(events.m).all()
    assert np.isfinite(events.x).all()
    again = make_template(name, v_data).sample(SR, m_sr, 1000, seed=4)
    np.testing.assert_array_equal(events.x, again.x)
    np.testing.assert_array_equal(events.m, again.m)


def test_sigma_templates_at_the_anchor_masses_reproduce_v_data(v_data: FlowMatchingModel) -> None:
    m = np.full(400, 3.2)
    plain = v_data.sample(m, seed=9)
    for kind in ("linear", "context"):
        interp = SigmaTemplate(v_data, interpolation=kind).interpolation(SR)
        np.testing.assert_allclose(v_data.sample(m, seed=9, interpolation=interp), plain, atol=1e-5)


def test_template_log_prob(v_data: FlowMatchingModel) -> None:
    template = SigmaTemplate(v_data, interpolation="context")
    events = template.sample(SR, np.linspace(3.31, 3.69, 50), 300, seed=1)
    solver = ODESolver("rk4", 8)
    lp = template.log_prob(events.x, events.m, SR, solver=solver)
    assert lp.shape == (300,) and np.isfinite(lp).all()
    # the density of the interpolated field, not of v_data at the SR masses
    expected = v_data.log_prob(
        events.x, events.m, interpolation=template.interpolation(SR), solver=solver
    )
    np.testing.assert_allclose(lp, expected, rtol=1e-6)
    # its own samples are likely under it; the same events moved by one std are much less so
    moved = events.x + events.x.std(axis=0)
    assert lp.mean() > template.log_prob(moved, events.m, SR, solver=solver).mean() + 1.0


def test_template_save_load_round_trip(v_data: FlowMatchingModel, tmp_path: Path) -> None:
    m_sr = np.linspace(3.31, 3.69, 100)
    for name in ("data", "sigma-poly"):
        template = make_template(name, v_data)
        template.save(tmp_path / f"{name}.pt")
        loaded = Template.load(tmp_path / f"{name}.pt", device="cpu")
        assert type(loaded) is type(template)
        np.testing.assert_array_equal(
            loaded.sample(SR, m_sr, 200, seed=3).x, template.sample(SR, m_sr, 200, seed=3).x
        )


def test_cr_template_trains_on_sidebands_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train, val = _events(4000, 5), _events(1000, 6)
    seen: list[tuple[Events, Events]] = []
    fit = FlowMatchingModel.fit

    def spy(self: FlowMatchingModel, tr: Events, va: Events) -> FlowMatchingModel:
        seen.append((tr, va))
        return fit(self, tr, va)

    monkeypatch.setattr(FlowMatchingModel, "fit", spy)
    template = CRTemplate(
        preset="tiny", model_params={"max_epochs": 2, "random_state": 0, "device": "cpu"}
    )
    with pytest.raises(InputError):
        template.fit(train, val)
    template.fit(train, val, SR)
    assert template.model.mass_embedding == "identity"
    ((tr, va),) = seen
    assert not SR.contains(tr.m).any() and not SR.contains(va.m).any()
    assert len(tr) == int(SR.sideband(train.m).sum()) and SR.contains(train.m).any()
    events = template.sample(SR, np.linspace(3.31, 3.69, 50), 100, seed=0)
    assert SR.contains(events.m).all()
    with pytest.raises(InputError):
        template.sample(SignalRegion(3.5, 3.9), np.linspace(3.51, 3.89, 50), 100, seed=0)
    template.save(tmp_path / "cr.pt")
    loaded = Template.load(tmp_path / "cr.pt", device="cpu")
    assert isinstance(loaded, CRTemplate) and loaded.signal_region == SR
