"""The toy generator has the structure the methods rely on."""

from __future__ import annotations

import numpy as np
import pytest

from resonant_ad.data.features import compute_features
from resonant_ad.data.lhco import LHCO_COLUMNS
from resonant_ad.data.toy import ToySample, make_toy_sample, toy_signal
from resonant_ad.errors import InputError


def test_schema_and_physics(toy_sample: ToySample) -> None:
    assert list(toy_sample.background.columns) == list(LHCO_COLUMNS)
    bkg = compute_features(toy_sample.background)
    sig = compute_features(toy_sample.signal)
    pt = np.hypot(toy_sample.background["pxj1"], toy_sample.background["pyj1"])
    assert pt.min() > 1200
    # falling spectrum with a turn-on near 2.4 TeV, ~10-15% in the default SR
    assert 2.2 < np.quantile(bkg.m, 0.05) < 2.7
    frac = ((bkg.m > 3.3) & (bkg.m < 3.7)).mean()
    assert 0.10 < frac < 0.16
    # dR strongly correlated with mjj in the background
    assert np.corrcoef(bkg.m, bkg.x[:, 4])[0, 1] > 0.5
    # signal peaks near 3.5 TeV with lower tau21
    assert abs(np.median(sig.m) - 3.45) < 0.1
    assert sig.x[:, 2].mean() < bkg.x[:, 2].mean() - 0.2
    assert _extra_in_sr_fraction(toy_sample) > 0.99


def _extra_in_sr_fraction(toy_sample: ToySample) -> float:
    extra = compute_features(toy_sample.extra_background)
    return float(((extra.m >= 3.3) & (extra.m <= 3.7)).mean())


def test_seeded() -> None:
    a = make_toy_sample(1000, 100, 100, seed=5)
    b = make_toy_sample(1000, 100, 100, seed=5)
    c = make_toy_sample(1000, 100, 100, seed=6)
    assert a.background.equals(b.background) and a.signal.equals(b.signal)
    assert not a.background.equals(c.background)


def test_bad_signal_masses() -> None:
    with pytest.raises(InputError, match="bad masses"):
        toy_signal(10, np.random.default_rng(0), m_x=100.0, m_y=500.0)
    with pytest.raises(InputError, match="non-negative"):
        toy_signal(-1, np.random.default_rng(0))
