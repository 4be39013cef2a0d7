"""Signal regions, sidebands and sliding windows."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from resonant_ad.data.regions import SignalRegion, sliding_windows
from resonant_ad.errors import InputError


def test_contains_and_complement_sidebands() -> None:
    sr = SignalRegion(3.3, 3.7)
    m = np.array([2.0, 3.29, 3.3, 3.5, 3.7, 3.71, 6.0])
    assert sr.contains(m).tolist() == [False, False, True, True, True, False, False]
    assert (sr.sideband(m) == ~sr.contains(m)).all()
    assert sr.center == pytest.approx(3.5) and sr.width == pytest.approx(0.4)


def test_bounded_sidebands() -> None:
    sr = SignalRegion(3.3, 3.7, sideband_width=0.2)
    m = np.array([3.0, 3.1, 3.2, 3.5, 3.8, 3.9, 4.0])
    assert sr.sideband(m).tolist() == [False, True, True, False, True, True, False]


def test_interpolation_masses_default_to_paper() -> None:
    assert SignalRegion(3.3, 3.7).interpolation_masses() == (3.2, 3.8)
    assert SignalRegion(3.0, 3.2).interpolation_masses(0.05) == (2.95, 3.25)


@pytest.mark.parametrize(
    ("lo", "hi", "match"),
    [
        (3.7, 3.3, "lo must be below hi"),
        (-1.0, 3.0, "positive"),
        (3300.0, 3700.0, "GeV"),
        (float("nan"), 3.0, "positive"),
    ],
)
def test_bad_regions(lo: float, hi: float, match: str) -> None:
    with pytest.raises(InputError, match=match):
        SignalRegion(lo, hi)


def test_check_outside_range_and_too_few_events() -> None:
    m = np.random.default_rng(0).uniform(2.5, 5.0, 10_000)
    SignalRegion(3.3, 3.7).check(m)
    with pytest.raises(InputError, match="outside the data's mjj range"):
        SignalRegion(6.0, 6.5).check(m)
    with pytest.raises(InputError, match="fewer than the 100 needed"):
        SignalRegion(4.99, 5.5).check(m)
    with pytest.raises(InputError, match="sidebands"):
        SignalRegion(2.0, 6.0).check(m)


def test_sliding_windows_linear_and_log() -> None:
    w = sliding_windows(2.6, 5.0, 0.4, 0.2, margin=0.2)
    assert [(x.lo, x.hi) for x in w][:2] == [(2.8, 3.2), (3.0, 3.4)]
    assert w[-1].hi <= 4.8 + 1e-9 and len(w) == 9
    # centres step evenly
    assert np.allclose(np.diff([x.center for x in w]), 0.2)
    lw = sliding_windows(2.5, 6.0, 0.12, 0.06, log_scale=True)
    ratios = [x.hi / x.lo for x in lw]
    assert np.allclose(ratios, np.exp(0.12))
    assert np.allclose(np.diff(np.log([x.lo for x in lw])), 0.06)


def test_sliding_windows_errors() -> None:
    with pytest.raises(InputError, match="must be positive"):
        sliding_windows(2.5, 5.0, 0.0, 0.1)
    with pytest.raises(InputError, match="no window"):
        sliding_windows(3.0, 3.5, 0.4, 0.1, margin=0.2)


def test_windows_left_out_at_the_end_are_named(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="resonant_ad"):
        windows = sliding_windows(3.0, 4.1, 0.4, 0.3)
    assert [(w.lo, w.hi) for w in windows] == [(3.0, 3.4), (3.3, 3.7), (3.6, 4.0)]
    assert "skipped the window(s) [3.9, 4.3] TeV" in caplog.text and "4.1 TeV" in caplog.text
