"""``cwola``: CWoLa hunting finds a signal where the features do not move with the mass, and
its mass sculpting where they do is measured; it runs in a study and in a scan."""

from __future__ import annotations

import numpy as np
import pytest

from resonant_ad.data.events import Events
from resonant_ad.detect.classifier_test import classifier_test
from resonant_ad.detect.weakly_supervised import make_ensemble, weakly_supervised_scores
from resonant_ad.errors import InputError
from resonant_ad.methods import FitInputs, RegionInputs, get
from resonant_ad.search.scan import run_scans
from toys import SR, gaussian_toy, split, toy_config


def _flat(events: Events) -> Events:
    """The toy's events with features that do not move with the mass."""
    x = events.x - np.array([1.0, -0.5, 0.0]) * (events.m - 3.5)[:, None]
    return Events(events.m, x, events.label, events.feature_names)


def _template(data: Events) -> Events:
    method = get("cwola")
    sidebands = data.select(SR.sideband(data.m))
    model = method.fit(FitInputs(*split(sidebands), SR, toy_config(), 0))
    sr_data = data.select(SR.contains(data.m))
    return method.template(model, RegionInputs(SR, sr_data, sr_data, toy_config(), 1), 10)


def test_registered_as_a_sideband_template_the_scan_can_use() -> None:
    method = get("cwola")
    assert method.trains_on == "sidebands" and method.yields == "template" and method.in_scan


def test_the_template_is_the_data_of_the_neighbouring_sidebands() -> None:
    data = gaussian_toy(20_000, seed=1)
    template = _template(data)
    near = data.select(SR.sideband(data.m) & (data.m >= 2.9) & (data.m <= 4.1))
    assert len(template) == len(near)  # all of them, not the 10 asked for
    np.testing.assert_array_equal(np.sort(template.m), np.sort(near.m))
    assert template.m.min() >= 2.9 - 1e-9 and template.m.max() <= 4.1 + 1e-9
    few = data.select(slice(0, 150))  # some 60 events in the sidebands
    with pytest.raises(InputError, match="no reference"):
        get("cwola").fit(FitInputs(*split(few.select(SR.sideband(few.m))), SR, toy_config(), 0))


def test_a_signal_is_found_and_the_mass_sculpting_measured() -> None:
    """Background only, the SR data against its sidebands: indistinguishable (AUC 0.50)
    where the features do not move with ``m``, told apart (0.78) where they do as the
    toy's means do (slopes 1 and -0.5 per TeV): what the method's docstring states. With a
    signal (600 events at ``x = (2, 1, 1)`` standard deviations off) in the flat toy,
    CWoLa finds it."""
    background = gaussian_toy(40_000, seed=2)
    aucs = {}
    for name, data in (("flat", _flat(background)), ("sculpted", background)):
        sr_data = data.select(SR.contains(data.m))
        result = classifier_test(
            _template(data),
            sr_data,
            classifier=make_ensemble("hgb", n_estimators=2),
            random_state=0,
        )
        aucs[name] = result.auc
    assert aucs["flat"] == pytest.approx(0.5, abs=0.02)
    assert 0.74 < aucs["sculpted"] < 0.82
    rng = np.random.default_rng(3)
    signal = Events(
        rng.normal(3.5, 0.05, 600),
        np.array([1.6, 2.2, 0.5]) + 0.3 * rng.standard_normal((600, 3)),
        np.ones(600),
        background.feature_names,
    )
    flat = _flat(background)
    data = Events.concatenate([flat, signal])
    sr_data = data.select(SR.contains(data.m))
    test = Events.concatenate(
        [_flat(gaussian_toy(40_000, seed=4)).select(SR.contains(flat.m)), signal]
    )
    scores = weakly_supervised_scores(
        sr_data, _template(data), test, classifier=make_ensemble("hgb", n_estimators=2)
    )
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(test.label, scores) > 0.85  # measured: 0.89


def test_the_scan_runs_cwola(tmp_path: object) -> None:
    from pathlib import Path

    from resonant_ad.config import config_from_dict
    from resonant_ad.data.features import compute_features
    from resonant_ad.data.toy import make_toy_sample

    toy = make_toy_sample(12_000, 600, 0, seed=6)
    data = compute_features(toy.background)
    scan = {"m_min": 2.9, "m_max": 4.5, "width": 0.4, "step": 0.4, "margin": 0.1, "n_sig": 0}
    config = config_from_dict(
        {
            "data": {"events": "unused.h5"},
            "study": {"device": "cpu"},
            "classifier": {"ensemble_size": 2, "oversampling": 1},
            "scan": {**scan, "efficiencies": [0.1], "methods": ["cwola"]},
        }
    )
    (result,) = run_scans(config, data, Path(str(tmp_path)) / "scan", methods=["cwola"])
    assert [tuple(w.signal_region) for w in result.windows] == [
        (3.0, 3.4),
        (3.4, 3.8),
        (3.8, 4.2),
    ]
    assert all(np.isfinite(c.significance) for w in result.windows for c in w.counts)
