"""``curtains-f4f`` on a toy whose features move with the mass, its mjj fit, and the study.

The Gaussian toy of ``test_feta`` (three features whose means move linearly with ``m``, by
+1 and -0.5 per TeV for the first two, not at all for the third) has no simulation here:
the template must move the sideband events into the SR, where the lower sideband's differ
from the SR background by -1.3 and 1.0 standard deviations before the move, the upper's by
1.7 and -1.3. Tolerances are in units of
the true SR background's spread per feature.
"""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from resonant_ad.config import StudyConfig, config_from_dict
from resonant_ad.data.events import Events
from resonant_ad.data.features import compute_features
from resonant_ad.data.regions import SignalRegion
from resonant_ad.data.spectrum import DijetFit
from resonant_ad.data.toy import make_toy_sample
from resonant_ad.errors import InputError
from resonant_ad.methods import FitInputs, RegionInputs, get, names
from resonant_ad.methods.curtains_f4f import CurtainsF4FMethod
from resonant_ad.models.base import ModelContext
from resonant_ad.models.conditional_flow import ConditionalFlow, FlowSettings
from resonant_ad.models.mass_transport import F4FSettings, MassTransport
from resonant_ad.models.transport import transport_maf
from resonant_ad.search.inputs import StudyInputs
from resonant_ad.search.scan import run_scan
from resonant_ad.search.study import run_study
from toys import NAMES, SR, gaussian_toy, split, toy_config

MEAN_TOL = 0.12
"""|template mean - true SR background mean| below this many true SR standard deviations
(measured: -0.06, -0.01, -0.03; the events of the lower sideband moved into the SR: -0.04,
-0.02, -0.03, of the upper: -0.08, 0.01, -0.02; unmoved: -1.26, 0.96, -0.02 and 1.68, -1.31,
0.00)."""
STD_TOL = 0.06
"""|template std / true SR std - 1| below this (measured: -0.013, -0.005, 0.016)."""


@pytest.fixture(scope="module")
def toy() -> dict[str, Any]:
    data = gaussian_toy(8000, seed=1)
    truth = gaussian_toy(200_000, seed=2)
    return {
        "sidebands": data.select(SR.sideband(data.m)),
        "sr_data": data.select(SR.contains(data.m)),
        "truth": truth.select(SR.contains(truth.m)),
        "config": toy_config(),
    }


@pytest.fixture(scope="module")
def model(toy: dict[str, Any]) -> MassTransport:
    """Fitted without a base handed over: it trains cathode-nf's flow itself."""
    train, val = split(toy["sidebands"])
    fitted = get("curtains-f4f").fit(FitInputs(train, val, SR, toy["config"], seed=0))
    assert isinstance(fitted, MassTransport)
    return fitted


def region(toy: dict[str, Any], seed: int = 5) -> RegionInputs:
    return RegionInputs(SR, toy["sr_data"], toy["sr_data"], toy["config"], seed)


def pulls(events: Events, truth: Events) -> np.ndarray:
    return np.asarray((events.x.mean(axis=0) - truth.x.mean(axis=0)) / truth.x.std(axis=0))


def test_registered_as_a_sideband_template_on_cathode_nf() -> None:
    method = get("curtains-f4f")
    assert isinstance(method, CurtainsF4FMethod)
    assert (method.trains_on, method.yields, method.needs_truth) == ("sidebands", "template", False)
    assert method.in_scan and "curtains-f4f" in names(scan=True)
    assert method.base_method(toy_config()) == "cathode-nf"
    assert method.label == "CURTAINs F4F" and method.description and method.cpu_budget is None
    # the cache key moves with the flows' settings and with the method's own
    assert method.model_settings(toy_config()) != method.model_settings(toy_config(epochs=3))
    with pytest.raises(InputError, match="fit_window"):
        F4FSettings(fit_window=0.0)


def test_the_transport_starts_at_the_identity_for_both_masses() -> None:
    transport = transport_maf(FlowSettings(transforms=3, hidden=(16,)), 3, context=2, identity=True)
    z = torch.randn(50, 3)
    y, ladj = transport(torch.randn(50, 2)).transform.call_and_ladj(z)
    assert torch.equal(y, z) and torch.equal(ladj, torch.zeros(50))


def test_the_template_follows_the_sr_background_and_the_sidebands_do_not(
    toy: dict[str, Any], model: MassTransport
) -> None:
    truth = toy["truth"]
    template = get("curtains-f4f").template(model, region(toy), 20_000)
    pull = pulls(template, truth)
    ratio = template.x.std(axis=0) / truth.x.std(axis=0)
    assert np.all(np.abs(pull) < MEAN_TOL), f"template mean off by {pull} SR standard deviations"
    assert np.all(np.abs(ratio - 1) < STD_TOL), f"template spread ratio {ratio}"
    assert np.all(SR.contains(template.m)) and np.all(template.label == 0)
    assert template.feature_names == NAMES and len(template) == 20_000
    # the SR masses follow the falling spectrum: the mean of 2.9 + Exp(0.6) cut to the SR
    lam = 1 / 0.6
    a, b = SR.lo, SR.hi
    mean = (a * np.exp(-lam * a) - b * np.exp(-lam * b)) / (np.exp(-lam * a) - np.exp(-lam * b))
    assert abs(template.m.mean() - (mean + 1 / lam)) < 0.005
    # the events of each sideband, unmapped, miss the SR; moved into it, they do not
    sources = model.sources_
    assert len(sources) == len(toy["sidebands"])  # every sideband event is a source
    rng = np.random.default_rng(0)
    for side in (sources.m < SR.lo, sources.m > SR.hi):
        events = sources.select(side)
        unmapped = pulls(events, truth)
        assert np.all(np.abs(unmapped[:2]) > 0.8), f"unmapped sideband off by {unmapped}"
        moved = model.transport(events, model.mass_fit_.sample(len(events), a, b, rng), seed=1)
        pull = pulls(Events(events.m, moved, np.zeros(len(events)), NAMES), truth)
        assert np.all(np.abs(pull) < MEAN_TOL), f"moved sideband off by {pull}"
    # as many sources from below as from above, each serving as many masses, up to one
    idx = model.source_index(20_000, rng)
    assert np.sum(sources.m[idx] < SR.lo) == 10_000
    for side in (sources.m < SR.lo, sources.m > SR.hi):
        counts = np.bincount(idx, minlength=len(sources))[side]
        assert counts.max() - counts.min() <= 1
    assert len(model.transports_) == 2 and max(model.member_epochs_) <= 20  # tiny: 2 best


def test_low_sideband_events_moved_to_the_high_sideband_look_like_it(
    toy: dict[str, Any], model: MassTransport
) -> None:
    """The transport between the sidebands, where it was trained."""
    truth = gaussian_toy(100_000, seed=3)
    high = truth.select((truth.m > 3.8) & (truth.m < 4.0))
    low = model.sources_.select(model.sources_.m < 3.2)
    rng = np.random.default_rng(0)
    moved = model.transport(low, rng.choice(high.m, len(low)), seed=1)
    assert np.all(
        np.abs(pulls(Events(high.m[: len(low)], moved, np.zeros(len(low)), NAMES), high)) < 0.15
    )
    assert np.all(np.abs(pulls(low, high)[:2]) > 1.5)


def test_the_base_is_the_cathode_nf_flow(toy: dict[str, Any], model: MassTransport) -> None:
    """Trained without a base, the model holds the flow cathode-nf trains on the same
    events with the same seed; handed that flow, it trains the same transport."""
    train, val = split(toy["sidebands"])
    inputs = FitInputs(train, val, SR, toy["config"], seed=0)
    flow = get("cathode-nf").fit(inputs)
    assert isinstance(flow, ConditionalFlow)
    assert len(model.base_.flows_) == 1  # the best member: the transport trains through it
    for ours, theirs in zip(model.base_.flows_, flow.flows_[:1], strict=True):
        for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
            assert torch.equal(p, q)
    with pytest.raises(InputError, match="cathode-nf flow"):
        get("curtains-f4f").fit(dataclasses.replace(inputs, base={"not": "a flow"}))
    with pytest.raises(InputError, match="sideband events only"):
        MassTransport(context=ModelContext(SR, base=flow)).fit(toy["sr_data"], val)


def test_the_mjj_fit_recovers_a_falling_spectrum() -> None:
    """``2.9 + Exp(0.6)`` TeV: the fit of the sidebands within 0.4 TeV of the SR predicts
    the SR's share, and samples SR masses with the right mean."""
    rng = np.random.default_rng(0)
    m = 2.9 + rng.exponential(0.6, 20_000)
    ranges = ((2.9, 3.3), (3.7, 4.1))
    fit = DijetFit.fit(m, ranges)

    def integral(a: float, b: float) -> float:
        return float(np.exp(-(a - 2.9) / 0.6) - np.exp(-(b - 2.9) / 0.6))

    truth = integral(3.3, 3.7) / (integral(2.9, 3.3) + integral(3.7, 4.1))
    assert fit.fraction(3.3, 3.7) == pytest.approx(truth, rel=0.02)  # measured: 0.4%
    assert fit.n_events == int(np.sum((m <= 3.3) | ((m >= 3.7) & (m <= 4.1))))
    drawn = fit.sample(50_000, 3.3, 3.7, np.random.default_rng(1))
    in_sr = m[(m > 3.3) & (m < 3.7)]
    assert drawn.min() >= 3.3 and drawn.max() <= 3.7
    assert abs(drawn.mean() - in_sr.mean()) < 0.005
    # a dijet spectrum of known parameters, wide sidebands: its SR share within 1%
    known = DijetFit((10.0, 5.0, 0.1), ((2.5, 5.0),), 0)
    m = known.sample(50_000, 2.5, 5.0, np.random.default_rng(2))
    fit = DijetFit.fit(m, ((2.5, 3.3), (3.7, 5.0)))
    assert fit.fraction(3.3, 3.7) == pytest.approx(
        known.fraction(3.3, 3.7) / (1 - known.fraction(3.3, 3.7)), rel=0.01
    )
    assert DijetFit.from_state(fit.state()) == fit
    with pytest.raises(InputError, match="need 10"):
        DijetFit.fit(np.full(5, 3.0), ranges)
    with pytest.raises(InputError, match="must lie in"):
        DijetFit.fit(m, ((2.5, 14.0),))


def test_save_load_and_pickle_give_the_same_template(
    toy: dict[str, Any], model: MassTransport, tmp_path: Path
) -> None:
    method = get("curtains-f4f")
    inputs = region(toy)
    template = method.template(model, inputs, 3000)
    method.save_model(model, tmp_path / "f4f.pt")
    loaded = method.load_model(tmp_path / "f4f.pt", "cpu")
    again = method.template(loaded, inputs, 3000)
    np.testing.assert_array_equal(again.m, template.m)
    np.testing.assert_allclose(again.x, template.x, rtol=0, atol=1e-6)
    unpickled = method.template(pickle.loads(pickle.dumps(model)), inputs, 3000)
    np.testing.assert_allclose(unpickled.x, template.x, rtol=0, atol=1e-6)
    assert loaded.signal_region_ == SR and loaded.member_epochs_ == model.member_epochs_
    assert loaded.mass_fit_ == model.mass_fit_ and loaded.settings == model.settings
    np.testing.assert_array_equal(loaded.sources_.x, model.sources_.x)
    assert not np.allclose(method.template(model, region(toy, seed=6), 3000).x, template.x)
    with pytest.raises(InputError, match="signal region"):
        method.template(model, dataclasses.replace(inputs, region=SignalRegion(3.2, 3.6)), 10)
    with pytest.raises(InputError, match="not a saved curtains-f4f model"):
        MassTransport.from_state({"format": "something else"})


# ---------------------------------------------------------------------- through the study
def study_config(methods: list[str], **study: Any) -> StudyConfig:
    return config_from_dict(
        {
            "data": {"events": "unused.h5"},
            "study": {"n_sig": [800], "n_injections": 1, "methods": methods, "device": "cpu"}
            | study,
            "model": {"preset": "tiny", "epochs": 2},
            "classifier": {"ensemble_size": 2, "oversampling": 1},
        }
    )


def test_the_study_shares_cathode_nf_with_curtains_f4f(tmp_path: Path) -> None:
    toy = make_toy_sample(12_000, 2_000, 0, seed=5)
    inputs = StudyInputs(compute_features(toy.background), compute_features(toy.signal), None)
    config = study_config(["cathode-nf", "curtains-f4f"], signal_regions=[[3.3, 3.7]])
    result = run_study(config, inputs, tmp_path / "out", progress=False)
    assert sorted(s.method for s in result.scores) == ["cathode-nf", "curtains-f4f"]
    models = tmp_path / "out" / "models"
    # one cathode-nf per SR and injection, used as the template of its own and as the base
    assert len(list(models.glob("cathode-nf-*.pt"))) == 1
    assert len(list(models.glob("curtains-f4f-*.pt"))) == 1
    f4f, flow = result.model("curtains-f4f"), result.model("cathode-nf")
    for ours, theirs in zip(f4f.base_.flows_, flow.flows_[:1], strict=True):
        for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
            assert torch.equal(p, q)
    score = next(s for s in result.scores if s.method == "curtains-f4f")
    assert np.isfinite(score.metrics.auc)


def test_the_scan_trains_its_base_itself(tmp_path: Path) -> None:
    toy = make_toy_sample(12_000, 1_000, 0, seed=6)
    data = compute_features(toy.background)
    config = config_from_dict(
        {
            "data": {"events": "unused.h5"},
            "study": {"device": "cpu"},
            "model": {"preset": "tiny", "max_epochs": 1},
            "classifier": {"ensemble_size": 2, "oversampling": 2},
            "scan": {
                "m_min": 3.0,
                "m_max": 3.8,
                "width": 0.4,
                "step": 0.4,
                "margin": 0.1,
                "n_sig": 0,
                "efficiencies": [0.1],
                "methods": ["curtains-f4f"],
                "background": "sidebands",  # one window: nothing to calibrate on
            },
        }
    )
    result = run_scan(config, data, tmp_path / "scan", method="curtains-f4f", progress=False)
    assert result.method == "curtains-f4f"
    assert [w.signal_region for w in result.windows] == [(3.1, 3.5)]
    assert all(w.n_template == 2 * w.n_data for w in result.windows)
    assert result.train_seconds > 0
