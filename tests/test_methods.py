"""The method registry: a method added in one place runs through `run` and `scan`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from resonant_ad.cli import main
from resonant_ad.config import config_from_dict
from resonant_ad.data.events import Events
from resonant_ad.data.lhco import write_lhco
from resonant_ad.data.regions import SignalRegion
from resonant_ad.data.toy import make_toy_sample
from resonant_ad.errors import InputError
from resonant_ad.methods import FitInputs, Method, RegionInputs, register, sample_masses
from resonant_ad.methods import registry as registry_module
from resonant_ad.models.base import ModelContext
from resonant_ad.report.style import method_style
from resonant_ad.search.checks import check_methods

SR_3337 = SignalRegion(3.3, 3.7)


class SidebandGaussian(Method):
    """A Gaussian in the features whose mean moves linearly with m, fitted in the sidebands."""

    name = "sideband-gauss"
    label = "Sideband Gaussian"
    color = "#e377c2"
    trains_on = "sidebands"

    fitted_masses: ClassVar[list[np.ndarray]] = []  # what every fit saw, for the test

    def fit(self, inputs: FitInputs) -> dict[str, np.ndarray]:
        SidebandGaussian.fitted_masses.append(inputs.train.m)
        design = np.column_stack([np.ones(len(inputs.train)), inputs.train.m])
        coef, *_ = np.linalg.lstsq(design, inputs.train.x, rcond=None)
        resid = inputs.train.x - design @ coef
        return {"coef": coef, "chol": np.linalg.cholesky(np.cov(resid.T))}

    def template(self, model: Any, inputs: RegionInputs, n: int) -> Events:
        rng = np.random.default_rng(inputs.seed)
        m = sample_masses(inputs.data.m, n, rng, inputs.region)
        mean = np.column_stack([np.ones(n), m]) @ model["coef"]
        x = mean + rng.standard_normal((n, mean.shape[1])) @ model["chol"].T
        return Events(m, x, np.zeros(n), inputs.data.feature_names)


@pytest.fixture
def gaussian() -> Iterator[SidebandGaussian]:
    SidebandGaussian.fitted_masses = []
    method = register(SidebandGaussian())
    yield method
    registry_module.unregister(method.name)


@pytest.fixture(scope="module")
def toy_events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("methods")
    toy = make_toy_sample(16_000, 2_000, 4_000, seed=3)
    write_lhco(pd.concat([toy.background, toy.signal], ignore_index=True), root / "events.h5")
    write_lhco(toy.extra_background, root / "extra.h5")
    return root


def test_a_method_registered_in_one_place_runs_through_run_and_scan(
    gaussian: SidebandGaussian, toy_events: Path, tmp_path: Path
) -> None:
    (tmp_path / "study.toml").write_text(
        f'[data]\nevents = "{toy_events / "events.h5"}"\n'
        f'extra_background = "{toy_events / "extra.h5"}"\n'
        '[study]\nn_sig = [800]\nn_injections = 1\nmethods = ["sideband-gauss", "iad"]\n'
        'device = "cpu"\n'
        "[classifier]\nensemble_size = 2\noversampling = 2\n"
        "[scan]\nm_min = 2.9\nm_max = 4.5\nwidth = 0.4\nstep = 0.4\nmargin = 0.1\n"
        'n_sig = 1000\nefficiencies = [0.1]\nmethods = ["sideband-gauss"]\n'
    )
    out = tmp_path / "run"
    assert main(["run", str(tmp_path / "study.toml"), "--out", str(out), "--no-progress"]) == 0
    rows = {r["method"]: r for r in json.loads((out / "report.json").read_text())["results"]}
    assert set(rows) == {"sideband-gauss", "iad"}
    # the toy's signal is loud: against the Gaussian template the classifier finds it too
    assert rows["sideband-gauss"]["auc"]["median"] > 0.9 and rows["iad"]["auc"]["median"] > 0.9
    assert len(SidebandGaussian.fitted_masses) == 1
    m = SidebandGaussian.fitted_masses[0]
    assert len(m) > 1000 and not np.any((m >= 3.3) & (m <= 3.7))  # sidebands only
    assert len(list((out / "models").glob("sideband-gauss-*.pt"))) == 1
    assert (out / "plots" / "sic_curves_SR3.3-3.7_nsig800.png").stat().st_size > 10_000
    assert method_style("sideband-gauss").label == "Sideband Gaussian"

    scan_out = tmp_path / "scan"
    argv = ["scan", str(tmp_path / "study.toml"), "--out", str(scan_out), "--no-progress"]
    assert main([*argv, "--method", "sideband-gauss"]) == 0
    scan = json.loads((scan_out / "scan.json").read_text())["scans"][0]
    assert scan["method"] == "sideband-gauss"
    windows = [w["signal_region"] for w in scan["windows"]]
    assert windows == [[3.0, 3.4], [3.4, 3.8], [3.8, 4.2]]
    # trained on the sidebands of each window: one model per window
    assert len(list((scan_out / "models").glob("sideband-gauss-*.pt"))) == 3
    for fit_m, (lo, hi) in zip(SidebandGaussian.fitted_masses[1:], windows, strict=True):
        assert not np.any((fit_m >= lo) & (fit_m <= hi))


def test_config_and_cli_offer_what_the_registry_holds(gaussian: SidebandGaussian) -> None:
    base = {"data": {"events": "x.h5"}}
    cfg = config_from_dict({**base, "study": {"methods": ["sideband-gauss"]}})
    assert cfg.methods == ("sideband-gauss",)
    check_methods(cfg)
    with pytest.raises(InputError, match="sideband-gauss"):  # the message lists the choices
        check_methods(config_from_dict({**base, "study": {"methods": ["nope"]}}))
    with pytest.raises(InputError, match="unknown method"):  # a yardstick cannot scan
        check_methods(config_from_dict({**base, "scan": {"methods": ["iad"]}}))
    with pytest.raises(InputError, match="named twice"):
        config_from_dict({**base, "study": {"methods": ["cr", "cr"]}})
    # a plugin is not part of a study that names no methods
    assert "sideband-gauss" not in config_from_dict(base).methods


def test_registry_rejects_bad_declarations() -> None:
    class NoKind(Method):
        name = "broken"
        trains_on = "the moon"

    with pytest.raises(InputError, match="trains_on"):
        register(NoKind())
    with pytest.raises(InputError, match="already registered"):
        register(registry_module.get("cr"))
    assert "broken" not in registry_module.names()


def test_a_method_that_trains_on_simulation_gets_the_simulation_sample(
    toy_events: Path, tmp_path: Path
) -> None:
    from resonant_ad.data.features import compute_features
    from resonant_ad.search.inputs import load_inputs
    from resonant_ad.search.study import run_study

    class SimulationGaussian(SidebandGaussian):
        name = "sim-gauss"
        trains_on = "simulation"

    method = register(SimulationGaussian())
    try:
        simulated = make_toy_sample(6_000, 0, 0, seed=99).background
        write_lhco(simulated, tmp_path / "sim.h5")
        raw = {
            "data": {
                "events": str(toy_events / "events.h5"),
                "simulation": str(tmp_path / "sim.h5"),
            },
            "study": {"n_sig": [800], "n_injections": 1, "methods": ["sim-gauss"]},
            "classifier": {"ensemble_size": 2, "oversampling": 1},
        }
        SidebandGaussian.fitted_masses = []
        cfg = config_from_dict(raw)
        scores = run_study(cfg, load_inputs(cfg.data), tmp_path / "out", progress=False).scores
        assert [s.method for s in scores] == ["sim-gauss"]
        # one model for the whole study, on 85% of the simulation (the rest validates)
        (seen,) = SidebandGaussian.fitted_masses
        assert len(seen) == 6_000 - round(0.15 * 6_000)
        assert np.isin(seen, compute_features(simulated).m).all()
        raw["data"].pop("simulation")
        plain = config_from_dict(raw)
        with pytest.raises(InputError, match="set \\[data\\] simulation"):
            run_study(plain, load_inputs(plain.data), tmp_path / "b", progress=False)
    finally:
        registry_module.unregister(method.name)


@dataclass(frozen=True)
class BinSettings:
    """The per-mass-bin Gaussian's settings: its mass bins per sideband."""

    bins: int = 4


class BinnedGaussian:
    """A background model with only ``fit`` and ``sample``: a Gaussian of the features per
    mass bin of the training events, the nearest bin's at any other mass."""

    fits: ClassVar[int] = 0

    def __init__(self, settings: BinSettings, context: ModelContext) -> None:
        self.settings = settings

    def fit(self, train: Events, val: Events, *, random_state: int) -> BinnedGaussian:
        BinnedGaussian.fits += 1
        edges = np.quantile(train.m, np.linspace(0, 1, 2 * self.settings.bins + 1))
        self.centres_ = 0.5 * (edges[1:] + edges[:-1])
        which = np.clip(np.searchsorted(edges, train.m) - 1, 0, len(self.centres_) - 1)
        self.means_ = np.array([train.x[which == k].mean(axis=0) for k in range(len(edges) - 1)])
        self.stds_ = np.array([train.x[which == k].std(axis=0) for k in range(len(edges) - 1)])
        self.feature_names_ = train.feature_names
        return self

    def sample(self, m: np.ndarray, *, seed: int | None = None) -> np.ndarray:
        k = np.abs(m[:, None] - self.centres_[None, :]).argmin(axis=1)
        noise = np.random.default_rng(seed).standard_normal((len(m), self.means_.shape[1]))
        return np.asarray(self.means_[k] + self.stds_[k] * noise)


class BinnedGaussianMethod(Method):
    name = "binned-gauss"
    label = "Binned Gaussian"
    trains_on = "sidebands"
    model_class = BinnedGaussian
    options_class = BinSettings


def test_a_model_with_only_fit_and_sample_gets_the_rest_from_the_engine(
    toy_events: Path, tmp_path: Path
) -> None:
    from resonant_ad.search.inputs import load_inputs
    from resonant_ad.search.study import run_study

    method = register(BinnedGaussianMethod())
    try:
        raw = {
            "data": {"events": str(toy_events / "events.h5")},
            "study": {"n_sig": [800], "n_injections": 1, "methods": ["binned-gauss"]},
            "classifier": {"ensemble_size": 2, "oversampling": 1},
            "method": {"binned-gauss": {"bins": 3}},
        }
        config = config_from_dict(raw)
        inputs = load_inputs(config.data)
        BinnedGaussian.fits = 0
        result = run_study(config, inputs, tmp_path / "out", progress=False)
        (score,) = result.scores
        assert score.metrics.auc > 0.8 and BinnedGaussian.fits == 1
        (example,) = result.examples.values()
        template, observed = example["binned-gauss"], example["observed"]
        # the engine drew the template's masses from the SR data's
        assert len(template) == len(observed) and SR_3337.contains(template.m).all()
        assert abs(np.median(template.m) - np.median(observed.m)) < 0.02
        # the settings of [method.binned-gauss], the model stored and read back by the engine
        model = result.model("binned-gauss")
        assert isinstance(model, BinnedGaussian) and len(model.centres_) == 6
        assert model.signal_region_ == SR_3337
        assert len(list((tmp_path / "out" / "models").glob("binned-gauss-*.pt"))) == 1
        # a second run trains nothing: the model and its template are read back
        again = run_study(config, inputs, tmp_path / "out", progress=False)
        assert BinnedGaussian.fits == 1 and again.scores[0].metrics.auc == score.metrics.auc
        # a model of one SR refuses another
        other = SignalRegion(3.5, 3.9)
        data = observed.with_label(0)
        region = RegionInputs(other, data, data, config, 0)
        with pytest.raises(InputError, match="train one per signal region"):
            method.template(model, region, 10)
        # another setting, another model
        raw["method"] = {"binned-gauss": {"bins": 2}}
        run_study(config_from_dict(raw), inputs, tmp_path / "out", progress=False)
        assert BinnedGaussian.fits == 2
    finally:
        registry_module.unregister(method.name)
