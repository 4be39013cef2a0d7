"""A window's significance as far as its neighbours confirm it: a resonance raises the
overlapping windows next to it too; one window's own excess does not."""

from __future__ import annotations

import numpy as np
import pytest

from resonant_ad.search.background import calibrated_expectations
from resonant_ad.search.counts import CutCount, WindowResult
from resonant_ad.search.scan_result import ScanResult, confirmed_significances


def _scan(observed: np.ndarray, template: float = 400.0) -> list[WindowResult]:
    """17 windows of 0.4 TeV every 0.1 TeV, one cut, calibrated and confirmed."""
    windows = [
        WindowResult(
            (round(2.8 + 0.1 * k, 1), round(3.2 + 0.1 * k, 1)),
            10_000,
            40_000,
            0,
            (CutCount(0.01, 0.9, float(o), 1.0, 1.0, 0.0, template, 0.0, 1.0, 0.0),),
            0.0,
            0.0,
        )
        for k, o in enumerate(observed)
    ]
    return confirmed_significances(calibrated_expectations(windows, 0.4), 0.4)


def _z(windows: list[WindowResult], confirmed: bool) -> np.ndarray:
    return np.array([w.significance(confirmed=confirmed) for w in windows])


def test_one_windows_own_excess_is_not_confirmed_a_resonance_is() -> None:
    rng = np.random.default_rng(3)
    background = rng.poisson(np.full(17, 480.0))
    alone = background.copy()
    alone[8] += 140  # one window's classifier found its template's own mismodelling
    z, zc = _z(_scan(alone), False), _z(_scan(alone), True)
    assert z[8] > 4 and abs(zc[8]) < 2 and np.max(np.abs(zc)) < 2
    signal = background.copy()
    signal[7:10] += [100, 140, 100]  # a resonance: the overlapping windows share it
    z, zc = _z(_scan(signal), False), _z(_scan(signal), True)
    assert z[8] > 4 and zc[8] == pytest.approx(max(z[7], z[9])) and zc[8] > 3
    # never beyond the window's own Z, never of the other sign
    assert np.all(np.abs(zc) <= np.abs(z) + 1e-12) and np.all(zc * z >= 0)


def test_the_global_significance_is_that_of_the_confirmed_excess() -> None:
    rng = np.random.default_rng(4)
    observed = rng.poisson(np.full(17, 480.0))
    observed[8] += 140
    windows = _scan(observed)
    d = ScanResult("m", 0, (0.01,), tuple(windows), (), 1.0, 2.0).to_dict()
    assert d["max_abs_significance"] == pytest.approx(np.max(np.abs(_z(windows, False))))
    assert d["max_abs_confirmed_significance"] == pytest.approx(np.max(np.abs(_z(windows, True))))
    assert d["global_significance"]["local"] == pytest.approx(max(_z(windows, True)))
    assert d["max_abs_confirmed_significance"] < 2 < 3.5 < d["max_abs_significance"]


def test_heavy_tailed_windows_alone_rarely_make_a_confirmed_excess() -> None:
    """Background only, each window's ``kappa`` scattered by a heavy-tailed factor of its own
    (Student's t with 3 degrees of freedom, scale 0.08): single windows pass ``|Z| > 3.5``
    in a fifth of the scans, confirmed excesses in few."""
    rng = np.random.default_rng(11)
    raw, confirmed = 0, 0
    for _ in range(40):
        kappa = 1.2 * np.exp(0.08 * rng.standard_t(3, size=17))
        windows = _scan(rng.poisson(400.0 * kappa).astype(float))
        raw += np.max(np.abs(_z(windows, False))) > 3.5
        confirmed += np.max(np.abs(_z(windows, True))) > 3.5
    assert raw >= 6 and confirmed <= 2
