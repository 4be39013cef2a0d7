"""Study configuration: defaults, paths, and a clear error for every bad key or value."""

from __future__ import annotations

from pathlib import Path

import pytest

from resonant_ad.config import config_from_dict, load_config
from resonant_ad.errors import InputError


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
        ({"data": {"events": "e.h5"}, "study": {"n_injections": 0}}, "must be positive"),
        ({"data": {"events": "e.h5"}, "study": {"methods": ["magic"]}}, "unknown method"),
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
        ({"data": {"events": "e.h5"}, "scan": {"methods": ["iad"]}}, "unknown method"),
        ({"data": {"events": 3}}, "expected str"),
        ({"data": {"events": "e.h5", "features": "all"}}, "choose one of \\['cvae', 'sigma'\\]"),
        ({"data": {"events": "e.h5"}, "density": {"hidden_layers": 0}}, "must be positive"),
        ({"data": {"events": "e.h5"}, "density": {"bins": 1.5}}, "expected int"),
        ({"data": {"events": "e.h5"}, "density": {"w_init": [0.01, 1.0]}}, "every start"),
        ({"data": {"events": "e.h5"}, "density": {"w_init": []}}, "at least one start"),
        ({"data": {"events": "e.h5"}, "density": {"w_init": "0.01"}}, "expected int or float"),
    ],
)
def test_bad_configs(raw: dict, match: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InputError, match=match):
        config_from_dict(raw)


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
