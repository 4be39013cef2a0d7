"""``resonant-ad run`` end to end on toy files, and resuming an interrupted study."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from resonant_ad.cli import main
from resonant_ad.config import config_from_dict
from resonant_ad.data.lhco import write_lhco
from resonant_ad.data.toy import make_toy_sample
from resonant_ad.report.report import load_report
from resonant_ad.search.inputs import load_inputs
from resonant_ad.search.study import run_study

CONFIG = """
[data]
events = "events.h5"
extra_background = "extra.h5"

[study]
n_sig = [600]
n_injections = 2
methods = ["data", "sigma-context", "iad", "supervised"]
device = "cpu"
seed = 1

[model]
preset = "tiny"
max_epochs = 2

[classifier]
ensemble_size = 2
oversampling = 2
"""


@pytest.fixture(scope="module")
def toy_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("study")
    toy = make_toy_sample(16_000, 2_000, 4_000, seed=11)
    write_lhco(pd.concat([toy.background, toy.signal], ignore_index=True), root / "events.h5")
    write_lhco(toy.extra_background, root / "extra.h5")
    (root / "study.toml").write_text(CONFIG)
    return root


def _raw_config(
    toy_files: Path,
    methods: list[str],
    *,
    extra: bool = True,
    max_epochs: int = 2,
    members: int = 2,
    **study: Any,
) -> dict[str, Any]:
    """A one-injection study of the toy files with tiny models, as parsed TOML."""
    data = {"events": str(toy_files / "events.h5")}
    if extra:
        data["extra_background"] = str(toy_files / "extra.h5")
    return {
        "data": data,
        "study": {"n_sig": [600], "n_injections": 1, "methods": methods, "device": "cpu", **study},
        "model": {"preset": "tiny", "max_epochs": max_epochs},
        "classifier": {"ensemble_size": members, "oversampling": members},
    }


def test_run_end_to_end(
    toy_files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["run", str(toy_files / "study.toml"), "--out", str(out), "--no-progress"]) == 0
    table = capsys.readouterr().out
    assert "sigma-context" in table and "SIC@1e-3" in table
    raw = json.loads((out / "report.json").read_text())
    rows = {r["method"]: r for r in raw["results"]}
    assert set(rows) == {"data", "sigma-context", "iad", "supervised"}
    for r in rows.values():
        assert r["signal_region"] == [3.3, 3.7] and r["n_sig"] == 600
        assert r["n_injections"] == 2
        assert {"median", "p16", "p84"} <= set(r["auc"])
    # a strong toy signal: the yardsticks see it clearly
    assert rows["supervised"]["auc"]["median"] > 0.95
    assert rows["iad"]["auc"]["median"] > 0.8
    assert rows["iad"]["max_sic"]["median"] > 3
    # SIGMA's template finds the signal too, below the idealized template but well above
    # chance; the ordering of the yardsticks holds
    ctx = rows["sigma-context"]
    assert ctx["auc"]["median"] > 0.85 and ctx["max_sic"]["median"] > 3
    assert ctx["auc"]["median"] < rows["iad"]["auc"]["median"] < rows["supervised"]["auc"]["median"]
    assert rows["data"]["auc"]["median"] > 0.6
    assert raw["timings"]["train_seconds"] > 0
    load_report(out / "report.json")  # validates the schema
    plots = sorted(p.name for p in (out / "plots").glob("*.png"))
    assert plots == ["features_SR3.3-3.7_nsig600.png", "sic_curves_SR3.3-3.7_nsig600.png"]
    assert len(list((out / "models").glob("vdata-*.pt"))) == 2


def test_interrupted_run_resumes_and_classifier_change_reuses_models(
    toy_files: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from resonant_ad.flows.model import FlowMatchingModel
    from resonant_ad.methods.sigma import SigmaMethod

    cfg_raw = _raw_config(toy_files, ["data", "sigma-context"])
    cfg = config_from_dict(cfg_raw)
    inputs = load_inputs(cfg.data)
    out = tmp_path / "out"

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as m:  # the run stops in the sigma-context template ...
        m.setattr(SigmaMethod, "template", interrupted)
        with pytest.raises(KeyboardInterrupt):
            run_study(cfg, inputs, out, progress=False)
    # ... after the v_data model, the "data" template and its scores were stored
    assert len(list((out / "models").glob("*.pt"))) == 1
    assert len(list((out / "templates").glob("*.npz"))) == 1
    assert len(list((out / "scores").glob("*.npz"))) == 1

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("a finished model was trained again")

    monkeypatch.setattr(FlowMatchingModel, "fit", no_training)
    resumed = run_study(cfg, inputs, out, progress=False).scores
    assert [s.method for s in resumed] == ["data", "sigma-context"]
    assert len(list((out / "templates").glob("*.npz"))) == 2
    again = run_study(cfg, inputs, out, progress=False).scores
    assert [s.metrics for s in again] == [s.metrics for s in resumed]  # all read back

    # a changed classifier setting: new scores, same generative model and templates
    cfg_raw["classifier"] = {"ensemble_size": 3, "oversampling": 2}
    changed = run_study(config_from_dict(cfg_raw), inputs, out, progress=False).scores
    assert len(list((out / "scores").glob("*.npz"))) == 4
    assert len(list((out / "templates").glob("*.npz"))) == 2
    assert changed[0].metrics != resumed[0].metrics


def test_validation_windows_score_each_template_next_to_the_sr(
    toy_files: Path, tmp_path: Path
) -> None:
    cfg = config_from_dict(_raw_config(toy_files, ["cr", "sigma-context"], validation_windows=1))
    out = tmp_path / "out"
    scores = {
        s.method: s for s in run_study(cfg, load_inputs(cfg.data), out, progress=False).scores
    }
    for s in scores.values():
        # two-epoch models are visibly imperfect, but not absurd
        assert 0.5 < s.validation_auc < 0.95
    # cr trains once for the SR and once for each window (2.9-3.3, 3.7-4.1); SIGMA never again
    assert len(list((out / "models").glob("cr-*.pt"))) == 3
    assert len(list((out / "models").glob("vdata-*.pt"))) == 1
    assert len(list((out / "validation").glob("*.npz"))) == 4


@pytest.mark.parametrize(("extra", "n_models"), [(True, 1), (False, 2)])
def test_v_data_is_shared_by_srs_only_when_they_train_on_the_same_events(
    toy_files: Path, tmp_path: Path, extra: bool, n_models: int
) -> None:
    # without extra SR background each SR holds out its own test background: a v_data
    # trained for one SR has seen the other SR's test events and must not be reused
    cfg = config_from_dict(
        _raw_config(
            toy_files,
            ["data"],
            extra=extra,
            max_epochs=1,
            members=1,
            signal_regions=[[3.3, 3.7], [3.5, 3.9]],
        )
    )
    out = tmp_path / "out"
    scores = run_study(cfg, load_inputs(cfg.data), out, progress=False).scores
    assert [s.signal_region for s in scores] == [(3.3, 3.7), (3.5, 3.9)]
    assert len(list((out / "models").glob("vdata-*.pt"))) == n_models


def test_the_demo_scans_with_the_v_data_its_study_trained(toy_files: Path, tmp_path: Path) -> None:
    from resonant_ad.search.demo import run_demo

    raw = _raw_config(toy_files, ["data", "sigma-context"])
    raw["scan"] = {
        "m_min": 2.9,
        "m_max": 4.5,
        "width": 0.4,
        "step": 0.4,
        "margin": 0.1,
        "efficiencies": [0.1],
        "methods": ["sigma-context"],
    }
    cfg = config_from_dict(raw)
    out = tmp_path / "demo"
    table = run_demo(cfg, load_inputs(cfg.data), out, progress=False)
    assert "scan with sigma-context" in table and "SIC@1e-3" in table
    assert len(list((out / "models").glob("*.pt"))) == 1  # the study's v_data, nothing more
    scan = json.loads((out / "scan.json").read_text())["scans"][0]
    assert [w["signal_region"] for w in scan["windows"]] == [[3.0, 3.4], [3.4, 3.8], [3.8, 4.2]]
    assert (out / "report.json").is_file() and (out / "scan.png").is_file()


def test_yardstick_template_events_give_every_template_the_iads_size(
    toy_files: Path, tmp_path: Path
) -> None:
    """``[classifier] template_events = "yardstick"``: each template holds as many events as
    the idealized classifier's true background (here fewer than oversampling x the data), so
    the ``iad`` is compared with the templates at equal numbers of background events."""
    raw = _raw_config(toy_files, ["data", "iad"], members=4)
    sizes = {}
    for events in ("oversampling", "yardstick"):
        raw["classifier"]["template_events"] = events
        cfg = config_from_dict(raw)
        result = run_study(cfg, load_inputs(cfg.data), tmp_path / events, progress=False)
        (example,) = result.examples.values()
        sizes[events] = (len(example["observed"]), len(example["data"]), len(example["iad"]))
    n_data, n_template, n_truth = sizes["oversampling"]
    assert n_template == 4 * n_data > n_truth  # the default: more than the iad gets
    assert sizes["yardstick"] == (n_data, n_truth, n_truth)
