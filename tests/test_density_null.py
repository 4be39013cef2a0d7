"""The spurious signal of R-ANODE's mixture fit: measured where there is no signal, as a
systematic of ``w`` and as the null distribution of the test of ``w = 0``, on toys whose
``p_B`` is exact or mismodelled by a known shift."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from resonant_ad.density.mixture import SignalMixture
from resonant_ad.density.null import NullFit, SpuriousSignal, wilks_p_value
from resonant_ad.errors import InputError
from test_density_mixture import SR, toy

SHIFT = 0.2
"""The real background is the standard normal shifted by this much in x0; the fits are
given ``p_B`` of the unshifted one (no tilt): a misfit that ``p_S`` takes in."""
PARAMS: dict[str, Any] = {
    "folds": 2,
    "epochs": 10,
    "profile_points": 5,
    "hidden_features": (16, 16),
    "batch_size": 256,
    "learning_rate": 3e-3,
    "w_init": 0.02,
}
N_EVENTS = 3000


def fit(w: float, seed: int, shift: float = SHIFT) -> tuple[SignalMixture, float]:
    """The mixture fitted to a toy of true ``w`` whose background is shifted by ``shift``
    (``p_B`` the unshifted model); and the toy's true signal fraction."""
    x, m, _, label = toy(N_EVENTS, w, seed=seed, width=0.3)
    x[label == 0, 0] += shift
    log_bg = multivariate_normal(np.zeros(2), np.eye(2)).logpdf(x) - np.log(SR[1] - SR[0])
    return SignalMixture(random_state=seed, **PARAMS).fit(x, m, log_bg, SR), float(label.mean())


@pytest.fixture(scope="module")
def null_fits() -> list[SignalMixture]:
    """Ten background-only toys with the mismodelled ``p_B``: each stands in for a
    validation window (the same misfit, no signal)."""
    return [fit(0.0, 700 + k)[0] for k in range(10)]


def covers(interval: tuple[float, float], value: float) -> bool:
    return interval[0] <= value <= interval[1]


def test_the_spurious_signal_makes_the_null_interval_hold_zero(
    null_fits: list[SignalMixture],
) -> None:
    """Each background-only toy in turn is the SR, the other nine its null fits: the
    statistical interval excludes zero on most (the misfit looks like a signal), the total
    interval (spurious mean subtracted, its size about zero added) holds it at least at the
    stated 68%. Measured: statistical 0 of 10, total 10 of 10."""
    statistical, total = 0, 0
    for i, sr in enumerate(null_fits):
        nulls = [f.null_fit(f"toy {k}") for k, f in enumerate(null_fits) if k != i]
        sr.calibrate(nulls)
        assert sr.null_ is not None and sr.null_.stable  # the misfit is measured
        _, interval = sr.null_.total_interval(sr.w_, sr.w_interval_)
        statistical += covers(sr.w_interval_, 0.0)
        total += covers(interval, 0.0)
    assert statistical <= 3
    assert 6 <= total <= 10


def test_the_test_of_w_zero_is_calibrated_on_the_null_fits(
    null_fits: list[SignalMixture],
) -> None:
    """On background-only toys with the mismodelled ``p_B``, Wilks' p-value of ``q0`` is
    tiny where the statistical interval excludes zero; measured on the other toys' ``q0``
    it is not, and over the ten toys it spreads over (0, 1] like a p-value of the null.
    Measured: Wilks below 0.01 on 8 of 10 (down to 2e-9); calibrated p-values 0.1-1.0."""
    wilks, calibrated = [], []
    for i, sr in enumerate(null_fits):
        nulls = [f.null_fit(f"toy {k}") for k, f in enumerate(null_fits) if k != i]
        sr.calibrate(nulls)
        summary = sr.summary()["null"]
        assert summary["q0"] == sr.q0_ >= 0 and summary["n"] == 9
        wilks.append(summary["p_value_wilks"])
        calibrated.append(summary["p_value"])
    wilks_a, calibrated_a = np.array(wilks), np.array(calibrated)
    assert np.sum(wilks_a < 0.01) >= 5  # what Wilks' theorem would claim
    assert np.all(calibrated_a[wilks_a < 0.01] >= 0.1)
    # the leave-one-out p-values of exchangeable toys are the ranks: 0.1, 0.2, ..., 1.0
    assert np.median(calibrated_a) == pytest.approx(0.55, abs=0.15)
    assert wilks == pytest.approx([wilks_p_value(f.q0_) for f in null_fits])


def test_with_signal_the_total_interval_covers_the_truth_and_zero_is_rejected(
    null_fits: list[SignalMixture],
) -> None:
    """Toys with a true w of 0.05 and the same mismodelled ``p_B``: the fitted ``w`` is the
    truth plus the spurious signal, the statistical interval misses the truth; corrected by
    the null fits' mean with the spurious signal's size about zero added it covers the
    truth at least at the stated rate (here, where the SR fit takes in the misfit in full,
    more often: the interval also allows for a fit that takes in none of it), and ``q0`` is
    above every null fit's (the smallest p-value, 1/11). Measured: statistical 0 of 8, total
    8 of 8 (fitted w 0.063-0.080 for a true 0.049-0.054, total intervals 0.047-0.051 wide)."""
    nulls = [f.null_fit(f"toy {k}") for k, f in enumerate(null_fits)]
    statistical, total = 0, 0
    for k in range(8):
        sr, true_w = fit(0.05, 800 + k)
        sr.calibrate(nulls)
        out = sr.summary()["null"]
        statistical += covers(sr.w_interval_, true_w)
        total += covers(tuple(out["total_interval"]), true_w)
        assert out["w"] == pytest.approx(sr.w_ - out["mean"])
        assert out["p_value"] == pytest.approx(1 / 11) and out["p_value_wilks"] < 1e-6
    assert statistical <= 3
    assert 5 <= total <= 8


def test_with_an_exact_p_b_the_spurious_signal_is_small_and_adds_little() -> None:
    """With ``p_B`` exact the null fits find (almost) no signal: little is subtracted and
    the systematic is a fraction of the statistical error. Measured: spurious w 0, 0,
    0.0018, 0.0022 (systematic 0.0017), the total interval 4% wider than the statistical
    one."""
    fits = [fit(0.0, 900 + k, shift=0.0)[0] for k in range(4)]
    spurious = SpuriousSignal(tuple(f.null_fit(f"toy {k}") for k, f in enumerate(fits)))
    assert spurious.rms < 0.004
    sr, _ = fit(0.05, 950, shift=0.0)
    sr.calibrate(list(spurious.fits))
    w, (lo, hi) = sr.null_.total_interval(sr.w_, sr.w_interval_)  # type: ignore[union-attr]
    assert w == pytest.approx(sr.w_, abs=0.004)
    stat_lo, stat_hi = sr.w_interval_
    assert hi - lo < 1.5 * (stat_hi - stat_lo)


def test_q0_is_the_likelihood_ratio_of_the_profile_at_zero(
    null_fits: list[SignalMixture],
) -> None:
    """``q0`` is ``-2 Delta log L`` at ``w = 0`` against the maximum: where the scan's grid
    reaches 0 it is the profile's value there (up to the grid's maximum lying below the
    true one), and 0 where the fit found no signal."""
    checked = 0
    for f in null_fits:
        assert f.profile_ is not None and f.q0_ >= 0
        if f.w_ == 0.0:
            assert f.q0_ == pytest.approx(0.0, abs=1e-6)
        if f.profile_.w[0] == 0.0:
            assert f.q0_ == pytest.approx(f.profile_.deviance[0], abs=0.5)
            checked += 1
    assert checked >= 1


def test_the_rules_of_the_spurious_signal() -> None:
    """The null fits' mean is subtracted and the systematic is the root mean square about
    zero of a new null fit's spurious w, sqrt(mean^2 + spread^2 (1 + 1/n)), whether or not
    the mean is measured above zero (``stable``, reported only). The p-value counts the null
    fits at least as extreme."""

    def nulls(values: list[float], q0: list[float] | None = None) -> SpuriousSignal:
        qs = q0 or [1.0] * len(values)
        return SpuriousSignal(
            tuple(
                NullFit(f"n{k}", v, (v, v), q)
                for k, (v, q) in enumerate(zip(values, qs, strict=True))
            )
        )

    values = [0.010, 0.012, 0.011, 0.009]
    stable = nulls(values)
    assert stable.stable and stable.correction == pytest.approx(0.0105)
    spread = np.std(values, ddof=1)
    assert stable.systematic == pytest.approx(math.sqrt(0.0105**2 + spread**2 * 1.25))
    noisy = nulls([0.0, 0.02, 0.0])  # mean 0.0067, standard error 0.0067: not measured
    assert not noisy.stable and noisy.correction == pytest.approx(0.02 / 3)
    assert noisy.systematic == pytest.approx(math.sqrt((0.02 / 3) ** 2 + 0.02**2 / 3 * (4 / 3)))
    two = nulls([0.010, 0.011])  # too few to call stable; the rule is the same
    assert not two.stable and two.correction == pytest.approx(0.0105)
    assert two.systematic == pytest.approx(math.sqrt(0.0105**2 + 0.001**2 / 2 * 1.5))
    one = nulls([0.004])  # a single null fit: its own size
    assert one.correction == 0.004 and one.systematic == pytest.approx(0.004)
    w, (lo, hi) = noisy.total_interval(0.03, (0.02, 0.035))
    centre = 0.03 - 0.02 / 3
    assert w == pytest.approx(centre)
    assert lo == pytest.approx(centre - math.hypot(0.01, noisy.systematic))
    assert hi == pytest.approx(centre + math.hypot(0.005, noisy.systematic))
    # no signal: the corrected w and the lower end are clipped at zero
    w0, (lo0, _) = stable.total_interval(0.008, (0.007, 0.009))
    assert w0 == 0.0 and lo0 == 0.0
    ranked = nulls([0.0] * 4, [0.5, 2.0, 4.0, 8.0])
    assert ranked.p_value(3.0) == pytest.approx(3 / 5) and ranked.p_value(9.0) == pytest.approx(
        1 / 5
    )
    assert ranked.p_value(0.0) == 1.0
    assert wilks_p_value(4.0) == pytest.approx(0.02275, abs=1e-4)
    with pytest.raises(InputError, match="at least one"):
        SpuriousSignal(())
    with pytest.raises(InputError, match="non-finite"):
        nulls([float("nan")])
