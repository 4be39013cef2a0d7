"""Validation windows: their placement, the data-vs-template AUC and the rank agreement."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion
from resonant_ad.errors import InputError
from resonant_ad.search.validation import rank_agreement, validation_auc, validation_windows


def test_windows_are_adjacent_and_as_wide_as_the_sr() -> None:
    windows = validation_windows(SignalRegion(3.3, 3.6), count=2)
    assert [(w.lo, w.hi) for w in windows] == [(3.0, 3.3), (2.7, 3.0), (3.6, 3.9), (3.9, 4.2)]
    with pytest.raises(InputError):
        validation_windows(SignalRegion(3.3, 3.7), count=0)


def _events(x: np.ndarray) -> Events:
    return Events(np.full(len(x), 3.1), x, np.zeros(len(x)))


def test_auc_is_one_half_for_a_perfect_template_and_grows_with_the_mismatch() -> None:
    rng = np.random.default_rng(0)
    data = _events(rng.standard_normal((3000, 2)))
    aucs = []
    for shift in (0.0, 0.3, 1.0):
        template = rng.standard_normal((6000, 2))
        template[:, 1] += shift
        aucs.append(validation_auc(data, _events(template), ensemble_size=2, seed=1))
    assert abs(aucs[0] - 0.5) < 0.04
    assert aucs[0] + 0.04 < aucs[1] < aucs[2]
    assert aucs[2] > 0.7


def test_rank_agreement() -> None:
    val = {"cr": 0.52, "sigma-context": 0.55, "sigma-linear": 0.60}
    assert rank_agreement(val, {"cr": 10.0, "sigma-context": 8.0, "sigma-linear": 3.0}) == 1.0
    assert rank_agreement(val, {"cr": 3.0, "sigma-context": 8.0, "sigma-linear": 10.0}) == -1.0
    assert math.isnan(rank_agreement(val, {"cr": 3.0, "data": 1.0}))
