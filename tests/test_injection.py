"""The signal-injection protocol: counts, seeds, splits and test sets."""

from __future__ import annotations

import numpy as np
import pytest

from resonant_ad.data.events import Events
from resonant_ad.data.features import compute_features
from resonant_ad.data.injection import make_injection, make_injections, split_signal_pool
from resonant_ad.data.regions import SignalRegion
from resonant_ad.data.toy import ToySample
from resonant_ad.errors import InputError

SR = SignalRegion(3.3, 3.7)


@pytest.fixture(scope="module")
def parts(toy_sample: ToySample) -> tuple[Events, Events, Events]:
    return (
        compute_features(toy_sample.background),
        compute_features(toy_sample.signal),
        compute_features(toy_sample.extra_background),
    )


def test_counts_split_and_test_set(parts: tuple[Events, Events, Events]) -> None:
    bkg, sig, extra = parts
    inj = make_injection(bkg, sig, 600, signal_region=SR, seed=3, extra_background=extra)
    assert len(inj.data) == len(bkg) + 600
    assert inj.data.n_signal == 600
    assert len(inj.val) == round(0.15 * len(inj.data))
    assert len(inj.train) + len(inj.val) == len(inj.data)
    # the test signal is the held-back end of the pool, restricted to the SR
    _, test_pool = split_signal_pool(sig)
    assert inj.test.n_signal == int(SR.contains(test_pool.m).sum())
    assert inj.test.n_background == len(extra)
    assert SR.contains(inj.test.m).all()
    # injected events come from the injection pool only: none of the test signal is in data
    data_sig = {tuple(r) for r in inj.data.select(inj.data.label == 1).x.round(12)}
    test_sig = {tuple(r) for r in test_pool.x.round(12)}
    assert not data_sig & test_sig
    assert inj.sr_signal == int(inj.data.label[SR.contains(inj.data.m)].sum())
    assert inj.significance == pytest.approx(inj.sr_signal / np.sqrt(inj.sr_background))


def test_seeds_reproduce_and_differ(parts: tuple[Events, Events, Events]) -> None:
    bkg, sig, extra = parts
    a = make_injections(
        bkg, sig, 300, signal_region=SR, n_injections=3, seed=1, extra_background=extra
    )
    b = make_injections(
        bkg, sig, 300, signal_region=SR, n_injections=3, seed=1, extra_background=extra
    )
    assert len(a) == 3 and len({i.seed for i in a}) == 3
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.data.x, y.data.x)
        np.testing.assert_array_equal(x.train.m, y.train.m)
    assert not np.array_equal(a[0].data.label, a[1].data.label)


def test_without_extra_background_a_holdout_is_used(parts: tuple[Events, Events, Events]) -> None:
    bkg, sig, _ = parts
    inj = make_injection(bkg, sig, 100, signal_region=SR, seed=0)
    n_sr = int(SR.contains(bkg.m).sum())
    assert inj.test.n_background == int(0.3 * n_sr)
    assert len(inj.data) == len(bkg) - inj.test.n_background + 100


def test_bad_injection_requests(parts: tuple[Events, Events, Events]) -> None:
    bkg, sig, extra = parts
    pool, _ = split_signal_pool(sig)
    with pytest.raises(InputError, match="larger than the signal injection pool"):
        make_injection(bkg, sig, len(pool) + 1, signal_region=SR, seed=0)
    with pytest.raises(InputError, match="non-negative"):
        make_injection(bkg, sig, -5, signal_region=SR, seed=0)
    with pytest.raises(InputError, match="outside the data's mjj range"):
        make_injection(bkg, sig, 10, signal_region=SignalRegion(20.0, 21.0), seed=0)
    with pytest.raises(InputError, match="fewer than"):
        make_injection(
            bkg.select(slice(0, 500)), sig, 10, signal_region=SR, seed=0, extra_background=extra
        )
    with pytest.raises(InputError, match="at least 1"):
        make_injections(bkg, sig, 10, signal_region=SR, n_injections=0)
    # signal in the SR but the background elsewhere (e.g. its masses in another unit)
    far = Events(bkg.m * 1000.0, bkg.x, bkg.label, bkg.feature_names)
    with pytest.raises(InputError, match="no background event"):
        make_injection(far, sig, 400, signal_region=SR, seed=0, extra_background=extra)
