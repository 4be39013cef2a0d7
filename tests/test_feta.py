"""``feta`` and ``sim-nf`` on a toy where the simulation mismodels the data by a known shift.

Simulation and data share the Gaussian toy of ``test_templates_more`` (three features whose
mean moves linearly with ``m``); the data's features are shifted by ``A + B (m - 3.5)``, so
a template of the simulation misses the SR data by about one standard deviation per
feature, and FETA, which learns the shift in the sidebands, must not. Tolerances are in
units of the true SR data's spread per feature.
"""

from __future__ import annotations

import dataclasses
import logging
import pickle
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch

from resonant_ad.config import StudyConfig
from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion
from resonant_ad.errors import InputError
from resonant_ad.methods import FitInputs, Method, RegionInputs, get, names, register, unregister
from resonant_ad.methods.feta import FetaMethod
from resonant_ad.models.base import ModelContext
from resonant_ad.models.conditional_flow import ConditionalFlow, FlowSettings
from resonant_ad.models.conditioning import Conditioning
from resonant_ad.models.feta import TransportedFlow
from resonant_ad.models.transport import transport_maf
from resonant_ad.search.study import run_study
from toys import (
    MU,
    NAMES,
    SIGMA,
    SR,
    gaussian_toy,
    split,
    sr_truth,
    study_config,
    study_inputs,
    toy_config,
)

A = np.array([0.3, -0.15, 0.4])
"""The data's shift at m = 3.5 TeV: 1, -0.75 and 0.8 standard deviations."""
B = np.array([0.2, 0.1, -0.3])
"""How the shift moves with m, per TeV."""

MEAN_TOL = 0.15
"""|template mean - true SR data mean| below this many true SR standard deviations."""
STD_TOL = 0.12
"""|template std / true SR std - 1| below this."""


def shifted_toy(n: int, seed: int, *, shifted: bool) -> Events:
    """The Gaussian toy, as data (``shifted`` by ``A + B (m - 3.5)``) or as simulation."""
    return gaussian_toy(n, seed, shift=(A, B) if shifted else None)


@pytest.fixture(scope="module")
def toy() -> dict[str, Any]:
    data = shifted_toy(8000, seed=1, shifted=True)
    return {
        "simulation": shifted_toy(8000, seed=0, shifted=False),
        "sidebands": data.select(SR.sideband(data.m)),
        "sr_data": data.select(SR.contains(data.m)),
        "data": sr_truth(200_000, 2, shift=(A, B)),
        "sim": sr_truth(200_000, 3),
        "config": toy_config(),
    }


@pytest.fixture(scope="module")
def base(toy: dict[str, Any]) -> ConditionalFlow:
    """``sim-nf`` trained on the simulation at every mass, as the study trains it."""
    train, val = split(toy["simulation"])
    flow = get("sim-nf").fit(FitInputs(train, val, None, toy["config"], seed=0))
    assert isinstance(flow, ConditionalFlow)
    return flow


@pytest.fixture(scope="module")
def feta(toy: dict[str, Any], base: ConditionalFlow) -> TransportedFlow:
    train, val = split(toy["sidebands"])
    model = get("feta").fit(FitInputs(train, val, SR, toy["config"], seed=0, base=base))
    assert isinstance(model, TransportedFlow)
    return model


def region(toy: dict[str, Any], seed: int = 5) -> RegionInputs:
    return RegionInputs(SR, toy["sr_data"], toy["sr_data"], toy["config"], seed)


def pulls(template: Events, truth: Events) -> np.ndarray:
    return np.asarray((template.x.mean(axis=0) - truth.x.mean(axis=0)) / truth.x.std(axis=0))


def test_registered_with_sim_nf_as_its_base() -> None:
    feta, sim = get("feta"), get("sim-nf")
    assert (feta.trains_on, feta.yields, sim.trains_on) == ("sidebands", "template", "simulation")
    assert feta.base_method(toy_config()) == "sim-nf" and sim.base_method(toy_config()) is None
    assert Method().base_method(toy_config()) is None  # the default: no base
    assert not feta.in_scan and not sim.in_scan  # the scan reads no simulation
    assert {"feta", "sim-nf"} <= set(names(scan=False)) - set(names(scan=True))
    assert feta.label == "FETA" and sim.label == "Simulation (flow)"
    with pytest.raises(InputError, match="base model"):
        feta.fit(FitInputs(*split(shifted_toy(200, 0, shifted=True)), SR, toy_config(), 0))


def test_the_transport_starts_at_the_identity() -> None:
    transport = transport_maf(FlowSettings(transforms=3, hidden=(16,)), 3, identity=True)
    z = torch.randn(50, 3)
    y, ladj = transport(torch.randn(50, 1)).transform.call_and_ladj(z)
    assert torch.equal(y, z) and torch.equal(ladj, torch.zeros(50))


def test_feta_template_follows_the_data_and_sim_nf_the_simulation(
    toy: dict[str, Any], base: ConditionalFlow, feta: TransportedFlow
) -> None:
    data, sim = toy["data"], toy["sim"]
    assert np.all(np.abs(pulls(sim, data)) > 0.5)  # the mismodelling the test is about
    transported = get("feta").template(feta, region(toy), 20_000)
    pull = pulls(transported, data)
    ratio = transported.x.std(axis=0) / data.x.std(axis=0)
    assert np.all(np.abs(pull) < MEAN_TOL), f"feta's mean off by {pull} SR standard deviations"
    assert np.all(np.abs(ratio - 1) < STD_TOL), f"feta's spread ratio {ratio}"
    plain = get("sim-nf").template(base, region(toy), 20_000)
    assert np.all(np.abs(pulls(plain, sim)) < MEAN_TOL)  # sim-nf reproduces the simulation
    assert np.all(np.abs(pulls(plain, data)) > 0.5)  # and so misses the data
    assert np.all(SR.contains(transported.m)) and np.all(transported.label == 0)
    assert transported.feature_names == NAMES and len(transported) == 20_000
    # FETA's density describes the SR data better than the simulation's
    lp_feta = feta.log_prob(toy["sr_data"].x, toy["sr_data"].m).mean()
    lp_sim = base.log_prob(toy["sr_data"].x, toy["sr_data"].m).mean()
    assert lp_feta > lp_sim + 0.5
    assert len(feta.transports_) == 2 and max(feta.member_epochs_) <= 20  # tiny: 2 best


def test_save_load_and_pickle_give_the_same_template(
    toy: dict[str, Any], feta: TransportedFlow, tmp_path: Path
) -> None:
    method = get("feta")
    inputs = region(toy)
    template = method.template(feta, inputs, 3000)
    method.save_model(feta, tmp_path / "feta.pt")
    loaded = method.load_model(tmp_path / "feta.pt", "cpu")
    again = method.template(loaded, inputs, 3000)
    np.testing.assert_array_equal(again.m, template.m)
    np.testing.assert_allclose(again.x, template.x, rtol=0, atol=1e-6)
    unpickled = method.template(pickle.loads(pickle.dumps(feta)), inputs, 3000)
    np.testing.assert_allclose(unpickled.x, template.x, rtol=0, atol=1e-6)
    x, m = toy["sr_data"].x[:100], toy["sr_data"].m[:100]
    np.testing.assert_allclose(loaded.log_prob(x, m), feta.log_prob(x, m), rtol=0, atol=1e-5)
    assert loaded.signal_region_ == SR and loaded.member_epochs_ == feta.member_epochs_
    assert not np.allclose(method.template(feta, region(toy, seed=6), 3000).x, template.x)
    with pytest.raises(InputError, match="signal region"):
        method.template(feta, dataclasses.replace(inputs, region=SignalRegion(3.2, 3.6)), 10)
    with pytest.raises(InputError, match="not a saved feta model"):
        TransportedFlow.from_state({"format": "something else"})


def test_data_beyond_the_simulation_range_are_transported(
    toy: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Under a logit preprocessing the simulation's range bounds the base flow's ``z``: data
    beyond it have no finite ``z`` there. The transport starts from the data's own
    preprocessing, so they are kept and the template reaches them; only a validation event
    beyond the training events' range is left out, and the losses stay finite."""
    config = toy_config(preprocessing="logit", epochs=3)
    train, val = split(toy["simulation"])
    flow = get("sim-nf").fit(FitInputs(train, val, None, config, seed=0))
    conditioning = Conditioning(flow.preprocessor_, *flow.m_scale_)
    far = Events(np.array([3.5, 3.5]), np.array([MU, MU + 100 * SIGMA]), np.zeros(2), NAMES)
    with caplog.at_level(logging.WARNING):
        z, c = conditioning.tensors(far, torch.device("cpu"))
    assert z.shape == (1, 3) and c.shape == (1, 1) and "1 of 2 events" in caplog.text
    sb_train, sb_val = split(toy["sidebands"])
    beyond = flow.preprocessor_.hi.numpy() + 2 * SIGMA  # past the simulation's largest values
    sb_train = Events.concatenate([sb_train, far.select(slice(0, 1))])
    sb_train = Events(
        sb_train.m,
        np.vstack([sb_train.x[:-1], beyond]),
        sb_train.label,
        NAMES,
    )
    sb_val = Events.concatenate([sb_val, far.select(slice(1, 2))])
    training = dataclasses.replace(FlowSettings().training, max_epochs=2, n_best=1)
    settings = FlowSettings(transforms=2, hidden=(16,), training=training)
    model = TransportedFlow(settings, ModelContext(device="cpu", base=flow))
    model.fit(sb_train, sb_val, random_state=0)
    assert model.left_out_ >= 1  # the validation event 100 sigma out (and tail events)
    assert all(np.isfinite(h["val_score"]) for h in model.history_)
    lp = model.log_prob(np.vstack([beyond, far.x[1]]), np.array([3.5, 3.5]))
    assert np.isfinite(lp[0]) and np.isneginf(lp[1])
    x = model.sample(np.full(20_000, 3.5), seed=0)
    up = A > 0  # the data lie above the simulation in these features
    assert np.all(x.max(axis=0)[up] > flow.preprocessor_.hi.numpy()[up])


# ---------------------------------------------------------------------- through the study
def test_the_study_trains_sim_nf_once_and_hands_it_to_every_feta(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim_nf = type(get("sim-nf"))
    fits: list[int] = []
    original = sim_nf.fit

    def counting(self: Any, inputs: FitInputs) -> Any:
        fits.append(len(inputs.train))
        return original(self, inputs)

    monkeypatch.setattr(sim_nf, "fit", counting)
    bases: list[Any] = []
    original_feta = FetaMethod.fit

    def recording(self: Any, inputs: FitInputs) -> Any:
        bases.append(inputs.base)
        return original_feta(self, inputs)

    monkeypatch.setattr(FetaMethod, "fit", recording)
    config = study_config(
        ["sim-nf", "feta"], 800, epochs=2, n_injections=2, signal_regions=[[3.3, 3.7], [3.5, 3.9]]
    )
    inputs = study_inputs(12_000, 2_000, 6_000, simulation=True)
    assert inputs.simulation is not None
    result = run_study(config, inputs, tmp_path / "out", progress=False)
    assert len(result.scores) == 2 * 2 * 2  # 2 SRs x 2 injections x 2 methods
    # one sim-nf for the whole study, on 85% of the simulation; one feta per SR and injection
    assert fits == [len(inputs.simulation) - round(0.15 * len(inputs.simulation))]
    models = tmp_path / "out" / "models"
    assert len(list(models.glob("sim-nf-*.pt"))) == 1
    assert len(list(models.glob("feta-*.pt"))) == 4 and len(bases) == 4
    # every feta got the one sim-nf model and keeps a copy of its best member
    base = result.model("sim-nf")
    assert all(isinstance(b, ConditionalFlow) for b in bases)
    for k in (0, 1):
        for sr in ((3.3, 3.7), (3.5, 3.9)):
            feta = result.model("feta", injection=k, signal_region=sr)
            assert (feta.signal_region_.lo, feta.signal_region_.hi) == sr
            assert len(feta.base_.flows_) == 1
            for ours, theirs in zip(feta.base_.flows_, base.flows_[:1], strict=True):
                for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
                    assert torch.equal(p, q)
    # a second run reads everything back: nothing is trained again
    run_study(config, inputs, tmp_path / "out", progress=False)
    assert len(fits) == 1 and len(bases) == 4


class _SimMean(Method):
    """A base that trains on simulation: the mean of its features."""

    name = "test-sim-mean"
    trains_on = "simulation"

    def fit(self, inputs: FitInputs) -> Any:
        return {"mean": inputs.train.x.mean(axis=0), "n": len(inputs.train)}


class _Probe(Method):
    """A sideband template built on ``test-sim-mean``: Gaussian noise around its mean."""

    name = "test-base-probe"
    trains_on = "sidebands"
    seen: ClassVar[list[Any]] = []

    def base_method(self, config: StudyConfig) -> str | None:
        return "test-sim-mean"

    def fit(self, inputs: FitInputs) -> Any:
        self.seen.append(inputs.base)
        return inputs.base

    def template(self, model: Any, inputs: RegionInputs, n: int) -> Events:
        rng = np.random.default_rng(inputs.seed)
        m = rng.choice(inputs.data.m, n)
        x = model["mean"] + rng.standard_normal((n, len(model["mean"])))
        return Events(m, x, np.zeros(n), inputs.data.feature_names)


class _NoBase(_Probe):
    name = "test-no-base"

    def base_method(self, config: StudyConfig) -> str | None:
        return None

    def fit(self, inputs: FitInputs) -> Any:
        assert inputs.base is None
        return {"mean": inputs.train.x.mean(axis=0)}


@pytest.fixture
def probes() -> Any:
    added = [register(_SimMean()), register(_Probe()), register(_NoBase())]
    _Probe.seen.clear()
    yield
    for method in added:
        unregister(method.name)


@pytest.mark.usefixtures("probes")
def test_the_engine_passes_the_base_model_and_keys_on_it(tmp_path: Path) -> None:
    config = study_config(["test-base-probe"], 800, epochs=2, n_injections=2)
    inputs = study_inputs(12_000, 2_000, 6_000, simulation=True)
    assert inputs.simulation is not None
    run_study(config, inputs, tmp_path / "out", progress=False)
    n_train = len(inputs.simulation) - round(0.15 * len(inputs.simulation))
    assert len(_Probe.seen) == 2 and all(b["n"] == n_train for b in _Probe.seen)
    np.testing.assert_allclose(
        _Probe.seen[0]["mean"], inputs.simulation.x[-n_train:].mean(axis=0), rtol=1e-12
    )
    models = tmp_path / "out" / "models"
    assert len(list(models.glob("test-sim-mean-*.pt"))) == 1
    before = set(models.glob("test-base-probe-*.pt"))
    assert len(before) == 2
    # another simulation: another base model, so the probe's models are trained again
    other = dataclasses.replace(
        inputs, simulation=study_inputs(12_000, 2_000, 6_000, simulation=True, seed=7).simulation
    )
    run_study(config, other, tmp_path / "out", progress=False)
    assert len(_Probe.seen) == 4
    assert len(set(models.glob("test-base-probe-*.pt")) - before) == 2


@pytest.mark.usefixtures("probes")
def test_a_method_whose_base_cannot_run_is_skipped_with_the_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = study_config(["feta", "test-base-probe", "test-no-base"], 800, epochs=2)
    with caplog.at_level(logging.WARNING):
        result = run_study(
            config, study_inputs(12_000, 2_000, 6_000, simulation=False), tmp_path, progress=False
        )
    assert [s.method for s in result.scores] == ["test-no-base"]
    assert (
        "feta skipped: its base method 'sim-nf' trains on simulation: set [data] simulation"
        in caplog.text
    )
    assert "test-base-probe skipped: its base method 'test-sim-mean'" in caplog.text
    assert _Probe.seen == []
