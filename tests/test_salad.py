"""``salad`` on a toy where the simulation mismodels the data by a known, reweightable
distortion, and through the study (the simulation reaches it, its weights reach the
classifier).

Simulation and data: three Gaussian features whose means move linearly with ``m``; the
data's means are shifted by ``A + B (m - 3.5)`` and its third feature is 15% wider. In the
SR the plain simulation misses the data by about 0.4 standard deviations per feature (and
its third feature's spread by 13%); the simulation's SR events weighted by SALAD's
sideband classifier must not. Tolerances are in units of the true SR data's spread.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion
from resonant_ad.detect.hgb import HGBEnsemble
from resonant_ad.errors import InputError
from resonant_ad.methods import FitInputs, RegionInputs, get, names
from resonant_ad.models.base import ModelContext
from resonant_ad.models.salad import SaladReweighter, SaladSettings
from resonant_ad.search.graph import fit_inputs
from resonant_ad.search.study import run_study
from toys import SR, gaussian_toy, split, study_config, study_inputs, toy_config

A = np.array([0.15, -0.08, 0.2])
"""The data's shift at m = 3.5 TeV: 0.5, -0.4 and 0.4 standard deviations."""
B = np.array([0.1, 0.05, -0.15])
"""How the shift moves with m, per TeV."""
WIDTH = np.array([1.0, 1.0, 1.15])
"""The data's spread over the simulation's."""

MEAN_TOL = 0.12
"""|weighted simulation mean - true SR data mean| below this many SR standard deviations
(measured over three seeds: at most 0.075)."""
STD_TOL = 0.05
"""|weighted simulation std / true SR std - 1| below this (measured: at most 0.031)."""


def salad_toy(n: int, seed: int, *, data: bool) -> Events:
    """The Gaussian toy as simulation, or (``data``) shifted by ``A + B (m - 3.5)`` and
    ``WIDTH`` times as wide."""
    return gaussian_toy(n, seed, shift=(A, B), width=WIDTH) if data else gaussian_toy(n, seed)


def weighted_moments(events: Events) -> tuple[np.ndarray, np.ndarray]:
    w = events.weights()
    mean = np.average(events.x, axis=0, weights=w)
    return mean, np.sqrt(np.average((events.x - mean) ** 2, axis=0, weights=w))


@pytest.fixture(scope="module")
def toy() -> dict[str, Any]:
    data = salad_toy(20_000, seed=1, data=True)
    truth = salad_toy(200_000, seed=2, data=True)
    return {
        "simulation": salad_toy(20_000, seed=0, data=False),
        "sidebands": data.select(SR.sideband(data.m)),
        "sr_data": data.select(SR.contains(data.m)),
        "truth": truth.select(SR.contains(truth.m)),
    }


@pytest.fixture(scope="module")
def salad(toy: dict[str, Any]) -> SaladReweighter:
    train, val = split(toy["sidebands"])
    fit = FitInputs(train, val, SR, toy_config(epochs=None), seed=0, simulation=toy["simulation"])
    model = get("salad").fit(fit)
    assert isinstance(model, SaladReweighter)
    return model


def test_registered_as_a_sideband_template_that_uses_the_simulation() -> None:
    salad = get("salad")
    assert (salad.trains_on, salad.yields, salad.uses_simulation) == ("sidebands", "template", True)
    assert not salad.in_scan and "salad" in set(names(scan=False)) - set(names(scan=True))
    assert salad.label == "SALAD" and salad.description and salad.cpu_budget is None
    assert not get("cathode-nf").uses_simulation  # the default
    train, val = split(salad_toy(600, 0, data=True))
    with pytest.raises(InputError, match="needs the simulation"):
        salad.fit(FitInputs(train, val, SR, toy_config(epochs=None), 0))
    with pytest.raises(InputError, match="uses simulation: set \\[data\\] simulation"):
        fit_inputs(salad, train, val, SR, toy_config(epochs=None), 0)
    with pytest.raises(InputError, match="max_weight"):
        SaladSettings(max_weight=0.5)


def test_the_weighted_sr_simulation_reproduces_the_sr_data(
    toy: dict[str, Any], salad: SaladReweighter
) -> None:
    truth = toy["truth"]
    t_mean, t_std = truth.x.mean(axis=0), truth.x.std(axis=0)
    region = RegionInputs(SR, toy["sr_data"], truth, toy_config(epochs=None), 5)
    template = get("salad").template(salad, region, 99)
    sim = toy["simulation"]
    sr_sim = sim.select(SR.contains(sim.m))
    # the template is every SR simulation event (not n = 99 of them), weighted
    np.testing.assert_array_equal(template.x, sr_sim.x)
    np.testing.assert_array_equal(template.m, sr_sim.m)
    assert template.weight is not None and np.all(template.label == 0)
    assert template.weight.mean() == pytest.approx(1.0)
    assert template.weight.max() <= SaladSettings().max_weight + 1e-9
    # the mismodelling the test is about: the plain simulation misses the data
    plain = (sr_sim.x.mean(axis=0) - t_mean) / t_std
    assert np.all(np.abs(plain) > 0.3), plain
    assert sr_sim.x.std(axis=0)[2] / t_std[2] < 0.9
    # weighted, it does not
    mean, std = weighted_moments(template)
    pull, ratio = (mean - t_mean) / t_std, std / t_std
    assert np.all(np.abs(pull) < MEAN_TOL), f"weighted means off by {pull} SR standard deviations"
    assert np.all(np.abs(ratio - 1) < STD_TOL), f"weighted spread ratio {ratio}"
    # the held-out check and the effective size
    d = salad.diagnostics()
    assert d["auc_before"] > 0.65 and abs(d["auc_after"] - 0.5) < 0.04, d
    assert 0.3 < d["ess_fraction"] < 0.9 and d["ess"] == pytest.approx(template.effective_size())
    assert d["n_template"] == len(sr_sim) and d["n_capped"] == 0
    # the weights are the classifier's density ratio f / (1 - f), normalised
    raw = salad.weights(sr_sim)
    np.testing.assert_allclose(template.weight, raw / raw.mean(), rtol=1e-10)


def test_weights_are_capped_and_the_region_is_checked(
    toy: dict[str, Any], salad: SaladReweighter
) -> None:
    train, val = split(toy["sidebands"])
    context = ModelContext(SR, simulation=toy["simulation"])
    capped = SaladReweighter(SaladSettings(n_estimators=1, max_weight=1.5), context)
    capped.fit(train, val, random_state=0)
    w = capped.sample_events(SR, 10).weights()
    assert capped.n_capped_ > 0 and w.mean() == pytest.approx(1.0)
    assert np.sum(w == w.max()) == capped.n_capped_  # every capped event at the cap
    other = RegionInputs(
        SignalRegion(3.2, 3.6), toy["sr_data"], toy["sr_data"], toy_config(epochs=None), 0
    )
    with pytest.raises(InputError, match="trained for"):
        get("salad").template(salad, other, 10)
    with pytest.raises(InputError, match="no events in the SR"):
        far = toy["simulation"].select(toy["simulation"].m < 3.3)
        context = ModelContext(SR, simulation=far)
        SaladReweighter(SaladSettings(n_estimators=1), context).fit(train, val, random_state=0)


# ---------------------------------------------------------------------- through the study
def test_the_study_runs_salad_and_its_weights_reach_the_classifier(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fits: list[FitInputs] = []
    method = type(get("salad"))
    original_fit = method.fit

    def counting(self: Any, inputs: FitInputs) -> Any:
        fits.append(inputs)
        return original_fit(self, inputs)

    monkeypatch.setattr(method, "fit", counting)
    weights: list[np.ndarray | None] = []
    original = HGBEnsemble.fit

    def recording(self: Any, X: Any, y: Any, sample_weight: Any = None) -> Any:
        weights.append(None if sample_weight is None else np.asarray(sample_weight))
        return original(self, X, y, sample_weight)

    monkeypatch.setattr(HGBEnsemble, "fit", recording)
    config = study_config(["salad"], 400, validation_windows=1)
    inputs = study_inputs(6_000, 1_500, 4_000, simulation=True)
    assert inputs.simulation is not None
    result = run_study(config, inputs, tmp_path / "out", progress=False)
    (score,) = result.scores
    assert score.method == "salad" and score.metrics.auc > 0.5
    assert np.isfinite(score.validation_auc)
    # one model for the SR and one per validation window, each given the whole simulation
    assert len(fits) == 3 and all(f.simulation is inputs.simulation for f in fits)
    assert all(f.region is not None and not np.any(f.region.contains(f.train.m)) for f in fits)
    model = result.model("salad")
    template = result.examples[((3.3, 3.7), 400)]["salad"]
    assert template.weight is not None
    np.testing.assert_array_equal(template.weight, model.sample_events(SR, 0).weight)
    sim = inputs.simulation
    assert len(template) == np.sum(SignalRegion(3.3, 3.7).contains(sim.m))
    # the weakly supervised classifier (SR data, then the template) and the validation
    # windows' classifier tests (the template first) were trained with the weights
    weighted = [w for w in weights if w is not None]
    assert any(np.array_equal(w[-len(template) :], template.weight) for w in weighted)
    assert len(weighted) == 3 and all(w.sum() > 0 for w in weighted)
    assert list((tmp_path / "out" / "templates").glob("*.npz"))
    with np.load(next((tmp_path / "out" / "templates").glob("*.npz"))) as stored:
        assert "weight" in stored.files
    # a second run reads everything back, weights included: nothing is trained again
    again = run_study(config, inputs, tmp_path / "out", progress=False)
    assert len(fits) == 3
    np.testing.assert_array_equal(
        again.examples[((3.3, 3.7), 400)]["salad"].weights(), template.weight
    )
    # another simulation: another model (the simulation is part of its key)
    other = dataclasses.replace(
        inputs, simulation=study_inputs(6_000, 1_500, 4_000, simulation=True, seed=7).simulation
    )
    run_study(study_config(["salad"], 400), other, tmp_path / "out", progress=False)
    assert len(fits) == 4 and fits[-1].simulation is other.simulation


def test_the_study_skips_salad_without_a_simulation(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = study_config(["salad", "supervised"], 400)
    with caplog.at_level(logging.WARNING):
        result = run_study(
            config, study_inputs(6_000, 1_500, 4_000, simulation=False), tmp_path, progress=False
        )
    assert [s.method for s in result.scores] == ["supervised"]
    assert "salad skipped: it uses the simulation: set [data] simulation" in caplog.text
