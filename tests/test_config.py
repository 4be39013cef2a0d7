"""Study configuration: defaults, paths, and a clear error for every bad key or value."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from resonant_ad.config import (
    ClassifierConfig,
    DataConfig,
    DensityConfig,
    ScanConfig,
    StudyConfig,
    config_from_dict,
    load_config,
)
from resonant_ad.errors import InputError
from resonant_ad.search.checks import check_methods


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    path.write_text('[data]\nevents = "events.h5"\nextra_background = "/abs/extra.h5"\n')
    cfg = load_config(path)
    assert cfg.data.events == tmp_path / "events.h5"
    assert cfg.data.extra_background == Path("/abs/extra.h5")
    assert cfg.data.signal is None
    assert [(sr.lo, sr.hi) for sr in cfg.signal_regions] == [(3.3, 3.7)]
    assert cfg.n_sig == (1000,) and cfg.model.preset == "cpu"
    assert cfg.classifier.ensemble_size == 50 and "sigma-context" in cfg.methods


def test_full_config() -> None:
    cfg = config_from_dict(
        {
            "data": {"events": "e.h5", "signal": "s.h5", "max_events": 1000},
            "study": {
                "signal_regions": [[3.3, 3.7], [3.5, 3.9]],
                "n_sig": 500,
                "n_injections": 10,
                "methods": ["cr", "iad"],
                "seed": 4,
                "device": "cuda:0",
            },
            "model": {"preset": "paper", "interpolation_offset": 0.05, "max_epochs": 10},
            "classifier": {"ensemble_size": 5, "oversampling": 3, "kind": "nn"},
            "scan": {"width": 0.3, "step": 0.1, "efficiencies": [0.2], "methods": ["cr"]},
        }
    )
    assert cfg.n_sig == (500,) and len(cfg.signal_regions) == 2 and cfg.device == "cuda:0"
    assert cfg.scan.efficiencies == (0.2,) and cfg.classifier.kind == "nn"


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({}, "needs \\[data\\] events"),
        (
            {"data": {"events": "e.h5", "evnts": 1}},
            "unknown key\\(s\\) \\['evnts'\\] in \\[data\\]",
        ),
        ({"data": {"events": "e.h5"}, "stduy": {}}, "unknown section"),
        ({"data": {"events": "e.h5"}, "study": {"n_sig": [-1]}}, "non-negative"),
        ({"data": {"events": "e.h5"}, "study": {"n_sig": ["many"]}}, "expected int"),
        ({"data": {"events": "e.h5"}, "study": {"n_sig": []}}, "at least one"),
        ({"data": {"events": "e.h5"}, "scan": {"step": 0}}, "step = 0: must be positive"),
        ({"data": {"events": "e.h5"}, "scan": {"m_min": 4.0, "m_max": 3.0}}, "no window"),
        ({"data": {"events": "e.h5"}, "study": {"n_sig": [300, 0, 300]}}, "repeats \\[300\\]"),
        ({"data": {"events": "e.h5"}, "study": {"n_injections": 0}}, "must be positive"),
        ({"data": {"events": "e.h5"}, "study": {"signal_regions": [[3.7, 3.3]]}}, "lo must be"),
        (
            {"data": {"events": "e.h5"}, "study": {"signal_regions": [3.3, 3.7]}},
            "expected \\[\\[lo",
        ),
        ({"data": {"events": "e.h5"}, "study": {"device": "tpu"}}, "device"),
        ({"data": {"events": "e.h5"}, "classifier": {"ensemble_size": 0}}, "must be positive"),
        ({"data": {"events": "e.h5"}, "classifier": {"kind": "svm"}}, "expected 'hgb'"),
        ({"data": {"events": "e.h5"}, "model": {"max_epochs": 1.5}}, "expected int"),
        ({"data": {"events": "e.h5"}, "model": {"epochs": 0}}, "must be positive"),
        (
            {"data": {"events": "e.h5"}, "study": {"signal_regions": [["a", 3.7]]}},
            "expected \\[\\[lo",
        ),
        ({"data": {"events": "e.h5"}, "study": {"seed": -1}}, "non-negative"),
        ({"data": {"events": "e.h5"}, "scan": {"n_sig": "many"}}, "expected int"),
        ({"data": {"events": "e.h5"}, "scan": {"n_sig": -5}}, "non-negative"),
        ({"data": {"events": "e.h5"}, "scan": {"background": "fit"}}, "calibrated"),
        ({"data": {"events": "e.h5"}, "study": {"validation_windows": -1}}, "non-negative"),
        (
            {"data": {"events": "e.h5"}, "model": {"epochs": 5, "max_seconds": 60}},
            "drop max_epochs",
        ),
        ({"data": {"events": "e.h5"}, "model": {"preprocessing": "box"}}, "gaussianize"),
        ({"data": {"events": "e.h5"}, "scan": {"efficiencies": [1.5]}}, "in \\(0, 1\\)"),
        ({"data": {"events": "e.h5"}, "study": {"methods": ["cr", "cr"]}}, "named twice"),
        ({"data": {"events": "e.h5"}, "study": {"methods": []}}, "give at least one"),
        ({"data": {"events": "e.h5"}, "scan": {"methods": ["cr", 3]}}, "methods = 3: expected str"),
        ({"data": {"events": "e.h5"}, "model": 3}, "\\[model\\] must be a table"),
        ({"data": {"events": 3}}, "expected str"),
        (
            {"data": {"events": "e.h5", "features": "all"}},
            "choose one of \\['cvae', 'lhco', 'sigma'\\]",
        ),
        ({"data": {"events": "e.h5"}, "density": {"hidden_layers": 0}}, "must be positive"),
        ({"data": {"events": "e.h5"}, "density": {"bins": 1.5}}, "expected int"),
        ({"data": {"events": "e.h5"}, "density": {"w_init": [0.01, 1.0]}}, "every start"),
        ({"data": {"events": "e.h5"}, "density": {"w_init": []}}, "at least one start"),
        ({"data": {"events": "e.h5"}, "density": {"w_init": "0.01"}}, "expected int or float"),
        ({"data": {"events": "e.h5"}, "method": {"rad-ot": 3}}, "one table per method"),
    ],
)
def test_bad_configs(raw: dict, match: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InputError, match=match) as err:
        config_from_dict(raw)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({"study": {"methods": ["magic"]}}, "\\[study\\] unknown method\\(s\\) \\['magic'\\]"),
        ({"scan": {"methods": ["iad"]}}, "\\[scan\\] unknown method\\(s\\) \\['iad'\\]"),
        ({"density": {"background": "data"}}, "\\[density\\] background = 'data'"),
        ({"method": {"magic": {}}}, "\\[method.magic\\]: unknown method"),
        ({"method": {"cr": {"x": 1}}}, "no settings of its own"),
        (
            {"method": {"rad-ot": {"events": 10}}},
            "unknown key\\(s\\) \\['events'\\] in \\[method.rad-ot\\]",
        ),
        ({"method": {"rad-ot": {"events_per_side": 1.5}}}, "events_per_side = 1.5: expected int"),
        ({"method": {"curtains-f4f": {"balanced": 1}}}, "balanced = 1: expected bool"),
        ({"method": {"rad-ot": {"solver": "simplex"}}}, "sinkhorn"),
        ({"method": {"curtains-f4f": {"fit_window": -1}}}, "positive"),
    ],
)
def test_what_only_the_registry_knows_is_checked_before_the_study_runs(
    raw: dict,  # type: ignore[type-arg]
    match: str,
) -> None:
    """The config reads these (it knows no method); :func:`check_methods`, which the study,
    the scan and the commands call before any data are read, refuses them in one line."""
    config = config_from_dict({"data": {"events": "e.h5"}, **raw})
    with pytest.raises(InputError, match=match) as err:
        check_methods(config)
    assert "\n" not in str(err.value)


def test_the_config_imports_no_method() -> None:
    """Reading a config needs no method: the package imports nothing of the registry."""
    code = (
        "import sys, resonant_ad.config as c; c.config_from_dict({'data': {'events': 'e.h5'}}); "
        "print(sorted(m for m in sys.modules if m.startswith('resonant_ad.methods')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_default_methods_are_those_the_registry_marks_default() -> None:
    from resonant_ad.methods.registry import default_names

    assert config_from_dict({"data": {"events": "e.h5"}}).methods == default_names()


def test_sections_check_their_values_when_made() -> None:
    data = DataConfig(Path("e.h5"))
    assert StudyConfig(data).methods == config_from_dict({"data": {"events": "e.h5"}}).methods
    with pytest.raises(InputError, match="\\[scan\\] efficiencies"):
        ScanConfig(efficiencies=(2.0,))
    with pytest.raises(InputError, match="\\[density\\] folds = 1: need at least 2"):
        DensityConfig(folds=1)
    with pytest.raises(InputError, match="\\[classifier\\] kind"):
        ClassifierConfig(kind="svm")
    with pytest.raises(InputError, match="\\[study\\] methods"):
        StudyConfig(data, methods=("cr", "cr"))
    with pytest.raises(InputError, match="\\[data\\] max_events"):
        DataConfig(Path("e.h5"), max_events=0)
    check_methods(StudyConfig(data))  # the defaults are registered methods


def test_fixed_epochs_and_preprocessing_override_the_preset() -> None:
    model = config_from_dict(
        {"data": {"events": "e.h5"}, "model": {"epochs": 40, "preprocessing": "logit"}}
    ).model
    assert model.overrides() == {
        "max_epochs": 40,
        "early_stopping_patience": 41,
        "max_seconds": None,
        "preprocessing": "logit",
    }


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such config"):
        load_config(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[data\nevents=")
    with pytest.raises(InputError, match="not valid TOML"):
        load_config(bad)


def test_density_starts_of_w() -> None:
    """``[density] w_init``: one number or a list, kept as a tuple of starts."""
    base = {"data": {"events": "e.h5"}}
    assert config_from_dict(base).density.w_init == (0.01,)
    assert config_from_dict({**base, "density": {"w_init": 0.02}}).density.w_init == (0.02,)
    cfg = config_from_dict({**base, "density": {"w_init": [0.01, 0.1]}})
    assert cfg.density.w_init == (0.01, 0.1)
    assert cfg.density.mixture_params()["w_init"] == (0.01, 0.1)


def test_method_tables_set_each_methods_own_settings() -> None:
    """``[method.NAME]`` replaces fields of the method's settings (an int for a float, a
    list for a tuple), leaves the rest at the defaults, and enters the model's cache key."""
    from resonant_ad.methods.registry import get

    base = {"data": {"events": "e.h5"}, "classifier": {"ensemble_size": 3}}
    plain = config_from_dict(base)
    cfg = config_from_dict(
        {
            **base,
            "method": {
                "curtains-f4f": {"fit_window": 2, "balanced": False},
                "cvae": {"hidden": [16, 8], "beta": 0.001},
                "salad": {"max_weight": 5.0},
            },
        }
    )
    f4f = get("curtains-f4f").options(cfg)
    assert f4f.fit_window == 2.0 and isinstance(f4f.fit_window, float)
    assert f4f.balanced is False and f4f.source_window is None
    assert get("curtains-f4f").options(plain).balanced is True
    cvae = get("cvae").options(cfg)
    assert cvae.hidden == (16, 8) and cvae.beta == 0.001
    assert cvae.training == get("cvae").options(plain).training  # the preset's
    salad = get("salad").options(cfg)
    assert salad.max_weight == 5.0 and salad.n_estimators == 3  # the ensemble cap stays
    for name in ("curtains-f4f", "cvae", "salad"):
        assert get(name).model_settings(cfg) != get(name).model_settings(plain)
    assert get("rad-ot").model_settings(cfg) == get("rad-ot").model_settings(plain)


def test_a_preset_no_model_family_has_is_refused_before_the_data() -> None:
    config = config_from_dict({"data": {"events": "e.h5"}, "model": {"preset": "huge"}})
    with pytest.raises(InputError, match="preset 'huge'"):
        check_methods(config)
