"""R-ANODE's signal-mixture fit on toys whose background density is exact and known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from resonant_ad.data.spectrum import MassDensity
from resonant_ad.density.mixture import SignalMixture
from resonant_ad.errors import InputError

SR = (3.3, 3.7)
SIGNAL_MEAN = np.array([1.8, -1.2])


def toy(
    n: int, w: float, seed: int, width: float = 0.2
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Background: a standard normal in x, flat in m over the SR; signal: a narrow
    Gaussian in x and m. Returns x, m, the exact log background density, labels."""
    rng = np.random.default_rng(seed)
    n_sig = rng.binomial(n, w)
    x = np.vstack(
        [rng.normal(size=(n - n_sig, 2)), rng.normal(SIGNAL_MEAN, width, size=(n_sig, 2))]
    )
    m = np.concatenate([rng.uniform(*SR, n - n_sig), rng.normal(3.5, width / 6, n_sig)])
    log_bg = multivariate_normal(np.zeros(2), np.eye(2)).logpdf(x) - np.log(SR[1] - SR[0])
    return x, m, log_bg, np.r_[np.zeros(n - n_sig), np.ones(n_sig)]


SMALL = {"hidden_features": (32, 32), "batch_size": 256, "learning_rate": 3e-3}


def test_mass_density_is_normalised_and_follows_the_masses() -> None:
    rng = np.random.default_rng(0)
    m = 3.3 + 0.4 * rng.beta(1, 3, 20_000)  # falling, like a dijet spectrum
    p = MassDensity(*SR).fit(m)
    grid = np.linspace(*SR, 4001)
    dens = np.exp(p.log_prob(grid))
    assert np.trapezoid(dens, grid) == pytest.approx(1.0, abs=1e-3)
    assert dens[0] > 2 * dens[len(grid) // 2] > 0  # falls like the sample
    with pytest.raises(InputError, match="not fitted"):
        MassDensity(*SR).log_prob(grid)


def test_fit_recovers_w_and_the_signal_shape() -> None:
    x, m, log_bg, label = toy(6000, 0.06, seed=1)
    true_w = label.mean()
    fit = SignalMixture(folds=3, epochs=20, random_state=0, **SMALL).fit(x, m, log_bg, SR)
    assert fit.w_ == pytest.approx(true_w, rel=0.3)
    lo, hi = fit.w_interval_
    assert lo < fit.w_ < hi and hi - lo < 0.5 * true_w
    assert not any(fit.collapsed_)
    # p_S is the signal: its samples sit on the signal's mean and width
    xs, ms = fit.sample(4000, seed=0)
    assert np.allclose(np.median(xs, axis=0), SIGNAL_MEAN, atol=0.15)
    assert np.median(ms) == pytest.approx(3.5, abs=0.03)
    assert np.all(np.percentile(xs, 75, axis=0) - np.percentile(xs, 25, axis=0) < 0.6)
    # and the score ranks the signal first
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(label, fit.score(x, m, log_bg)) > 0.98
    # the same seed gives the same fit
    again = SignalMixture(folds=3, epochs=20, random_state=0, **SMALL).fit(x, m, log_bg, SR)
    assert again.w_ == fit.w_


def test_a_p_s_over_x_alone_fits_w_and_sees_m_only_through_p_b() -> None:
    x, m, log_bg, label = toy(6000, 0.06, seed=1)
    log_mass = np.full(len(m), -np.log(SR[1] - SR[0]))  # the background's p(m): flat
    fit = SignalMixture(folds=3, epochs=20, random_state=0, mass_input=False, **SMALL).fit(
        x, m, log_bg, SR, log_mass=log_mass
    )
    assert fit.w_ == pytest.approx(label.mean(), rel=0.3)
    from sklearn.metrics import roc_auc_score

    score = fit.score(x, m, log_bg, log_mass)
    assert roc_auc_score(label, score) > 0.95
    # the score is log p_S(x) + log p(m) - log p_B: m enters only through the numbers given
    shifted = fit.score(x, np.full(len(m), SR[0] + 0.01), log_bg, log_mass)
    np.testing.assert_allclose(shifted, score)
    np.testing.assert_allclose(fit.log_prob_signal(x, m, log_mass) - log_bg, score)
    # p_S holds the signal's x; it has no mass density of its own to sample
    xs, ms = fit.sample(2000, seed=0)
    assert np.allclose(np.median(xs, axis=0), SIGNAL_MEAN, atol=0.2) and np.isnan(ms).all()
    assert fit.summary()["signal_inputs"] == "x"
    # the same events fitted over (x, m): the flow sees m, and the score changes with it
    full = SignalMixture(folds=3, epochs=20, random_state=0, **SMALL).fit(x, m, log_bg, SR)
    assert not np.allclose(
        full.score(x, np.full(len(m), SR[0] + 0.01), log_bg), full.score(x, m, log_bg)
    )
    with pytest.raises(InputError, match="log_mass"):
        fit.score(x, m, log_bg)
    with pytest.raises(InputError, match="log_mass"):
        SignalMixture(folds=2, epochs=1, mass_input=False).fit(x, m, log_bg, SR)
    with pytest.raises(InputError, match="over x alone"):
        SignalMixture(folds=2, epochs=1, mass_input=False, capture=True).fit(
            x, m, log_bg, SR, log_mass=log_mass
        )


def test_a_collapsing_w_is_restarted_and_the_surviving_fit_kept() -> None:
    x, m, log_bg, label = toy(4000, 0.08, seed=2)
    # started far below one signal event and released at once, w cannot climb back:
    # the first attempt of every fold collapses and is restarted 100x higher
    fit = SignalMixture(
        folds=2,
        epochs=12,
        w_init=1e-7,
        warmup_epochs=0,
        w_lr_factor=1.0,
        restarts=2,
        restart_factor=1e5,
        profile_points=5,
        profile_epochs=0,
        random_state=0,
        **SMALL,
    ).fit(x, m, log_bg, SR)
    assert all(a >= 2 for a in fit.attempts_)
    assert not any(fit.collapsed_)
    assert fit.w_ == pytest.approx(label.mean(), rel=0.3)


def test_fixed_w_gives_anode_and_the_ideal_fit() -> None:
    x, m, log_bg, label = toy(4000, 0.08, seed=3)
    from sklearn.metrics import roc_auc_score

    ideal = SignalMixture(folds=2, epochs=10, fixed_w=label.mean(), random_state=0, **SMALL)
    ideal.fit(x, m, log_bg, SR)
    assert ideal.w_ == label.mean() and ideal.profile_ is None
    anode = SignalMixture(folds=2, epochs=10, fixed_w=1.0, random_state=0, **SMALL)
    anode.fit(x, m, log_bg, SR)
    # ANODE's p_S is the density of all data: its samples are mostly background
    xs, _ = anode.sample(4000, seed=0)
    assert np.mean(np.linalg.norm(xs - SIGNAL_MEAN, axis=1) < 0.6) < 0.3
    assert roc_auc_score(label, ideal.score(x, m, log_bg)) > 0.98
    assert roc_auc_score(label, anode.score(x, m, log_bg)) > 0.9
    # fits at fixed w compared by their held-out likelihood: the true w beats 4x the truth
    # and w = 1 (the held-out -log L of 4000 events, a few nats per event)
    over = SignalMixture(folds=2, epochs=10, fixed_w=4 * label.mean(), random_state=0, **SMALL)
    over.fit(x, m, log_bg, SR)
    assert 4000 < ideal.held_out_nll_ < over.held_out_nll_ < anode.held_out_nll_ < 4000 * 10
    with pytest.raises(InputError, match="fixed_w"):
        SignalMixture(fixed_w=0.0).fit(x, m, log_bg, SR)


def test_the_w_interval_covers_the_truth_at_about_its_nominal_rate() -> None:
    """Pseudo-experiments with the same true w = 0.08: the 68% interval should cover it in
    about 68% of them (10 trials: 4..10 cover with probability 99%), and the fits should not
    be biased by more than their spread."""
    covered, widths, fitted = 0, [], []
    for k in range(10):
        x, m, log_bg, _ = toy(3000, 0.08, seed=100 + k, width=0.35)
        fit = SignalMixture(
            folds=2,
            epochs=15,
            profile_points=7,
            profile_epochs=1,
            random_state=k,
            hidden_features=(32, 32),
            batch_size=128,
            learning_rate=3e-3,
        ).fit(x, m, log_bg, SR)
        lo, hi = fit.w_interval_
        covered += lo <= 0.08 <= hi
        widths.append(hi - lo)
        fitted.append(fit.w_)
    # the statistical 1-sigma error of w here is about sqrt(w (1 - w) / n) = 0.005
    # (measured: median half-width 0.0058, median w 0.079, 4 of 10 covered)
    assert 0.003 < np.median(widths) / 2 < 0.01
    assert np.median(fitted) == pytest.approx(0.08, abs=0.008)
    assert 4 <= covered <= 9  # all 10 would say the interval is too wide


def test_the_captured_w_interval_covers_the_truth_at_about_its_nominal_rate() -> None:
    """As above with a third of the signal background-like in x (only its mass tells it):
    with the capture the 68% interval still covers the truth in about 68% of the
    pseudo-experiments (measured: 6 of 10; the plain fits find about 0.7 of the truth) and
    the fitted w is not biased by more than its spread (measured: median 0.89 of the
    truth). The interval holds p_S at its fit: with fewer events (3000, 2 folds) p_S's
    noise is larger than the interval and it covered in 4 of 10."""
    covered, ratios, widths = 0, [], []
    for k in range(10):
        x, m, _, label = toy(6000, 0.08, seed=200 + k, width=0.35)
        rng = np.random.default_rng(300 + k)
        hidden = np.flatnonzero(label == 1)[rng.random(int(label.sum())) < 1 / 3]
        x[hidden] = rng.normal(size=(len(hidden), 2))
        log_bg = multivariate_normal(np.zeros(2), np.eye(2)).logpdf(x) - np.log(SR[1] - SR[0])
        fit = SignalMixture(
            folds=3,
            epochs=15,
            profile_points=7,
            capture=True,
            random_state=k,
            hidden_features=(32, 32),
            batch_size=128,
            learning_rate=3e-3,
        ).fit(x, m, log_bg, SR, log_mass=np.full(len(m), -np.log(SR[1] - SR[0])))
        lo, hi = fit.w_interval_
        covered += lo <= label.mean() <= hi
        ratios.append(fit.w_ / label.mean())
        widths.append(hi - lo)
    # measured: median half-width 0.013 (the plain statistical error is 0.0035: p_S's
    # capture fraction widens it), median ratio 0.94, 6 of 10 covered
    assert 0.005 < np.median(widths) / 2 < 0.025
    assert 0.8 < np.median(ratios) < 1.1
    assert 4 <= covered <= 9  # all 10 would say the interval is too wide


def test_every_start_of_w_is_fitted_and_the_best_held_out_fit_kept() -> None:
    """With two starts the whole fit is made twice: the first start's fit is the fit from
    that start alone (the same seeds), ``w_`` is the start of best held-out likelihood and
    the interval spans those of the starts within 1 unit of -2 log L of it."""
    x, m, log_bg, _ = toy(3000, 0.06, seed=4)
    common = {"folds": 2, "epochs": 8, "profile_points": 5, "random_state": 0, **SMALL}
    single = SignalMixture(w_init=0.01, **common).fit(x, m, log_bg, SR)
    both = SignalMixture(w_init=(0.01, 0.2), **common).fit(x, m, log_bg, SR)
    assert single.attempts_ == [1, 1] and both.attempts_ == [2, 2]
    assert [s["w_init"] for s in both.starts_] == [0.01, 0.2]
    assert both.starts_[0]["w"] == pytest.approx(single.w_, rel=1e-9)
    assert tuple(both.starts_[0]["interval"]) == pytest.approx(single.w_interval_, rel=1e-9)
    deviances = [s["deviance"] for s in both.starts_]
    best = int(np.argmin(deviances))
    assert deviances[best] == 0.0 and both.w_ == both.starts_[best]["w"]
    for s in both.starts_:
        inside = both.w_interval_[0] <= s["interval"][0] and s["interval"][1] <= both.w_interval_[1]
        assert inside == (s["deviance"] <= 1.0) or s["deviance"] == 0.0
    assert len(both.summary()["starts"]) == 2
    # as a null fit it says where each start ended; with one start there is nothing to say
    null = both.null_fit("window")
    assert [s[0] for s in null.starts] == [0.01, 0.2] and null.w == both.w_
    assert [s[2] for s in null.starts] == deviances
    assert null.summary()["starts"][best] == [both.starts_[best]["w_init"], both.w_, 0.0]
    # and the held-out likelihood its settings are compared by (not in the report)
    assert null.held_out_nll == both.held_out_nll_ and "held_out_nll" not in null.summary()
    assert single.null_fit("window").starts == () and "starts" not in single.null_fit("w").summary()
    with pytest.raises(InputError, match="every start"):
        SignalMixture(w_init=(0.01, 1.5)).fit(x, m, log_bg, SR)


def test_the_background_tilt_absorbs_a_smooth_mismodelling_of_p_b() -> None:
    """The true background is a standard normal shifted by 0.25 in x0, but the fit is given
    log p_B of the unshifted one, and a reference sample drawn from it. Without the tilt the
    flexible p_S takes in the background's misfit and w is far too large, on data with and
    without signal; with a degree-1 tilt the fitted correction is the true log-ratio
    (0.25 x0 - 0.25^2 / 2) and w comes back to the truth."""
    rng = np.random.default_rng(7)
    shift = np.array([0.25, 0.0])
    ref_x = rng.normal(size=(20_000, 2))
    ref_m = rng.uniform(*SR, 20_000)
    common = {"folds": 2, "epochs": 12, "random_state": 0, "w_init": 0.05, **SMALL}
    for w_true, seed in ((0.0, 11), (0.06, 12)):
        x, m, _, label = toy(6000, w_true, seed=seed)
        x[label == 0] += shift  # the real background; p_B below is the unshifted model
        log_bg = multivariate_normal(np.zeros(2), np.eye(2)).logpdf(x) - np.log(SR[1] - SR[0])
        plain = SignalMixture(**common).fit(x, m, log_bg, SR)
        tilted = SignalMixture(tilt=1, **common).fit(x, m, log_bg, SR, reference=(ref_x, ref_m))
        assert plain.w_ > label.mean() + 0.02
        if w_true == 0:  # measured: w 0.0, its interval [0, 0.0042]
            assert tilted.w_ < 0.005 and tilted.w_interval_[0] == 0.0
        else:  # measured: 0.070 on a truth of 0.0565 (its interval 0.067-0.074 misses it)
            assert tilted.w_ == pytest.approx(label.mean(), abs=0.015)
        probe = rng.normal(size=(2000, 2))
        truth = probe @ shift - 0.5 * shift @ shift
        corr = tilted.background_correction(probe, rng.uniform(*SR, 2000))
        assert np.percentile(np.abs(corr - truth), 95) < 0.08  # statistical: n = 6000
        assert np.corrcoef(corr, truth)[0, 1] > 0.95
        assert np.allclose(plain.background_correction(probe, np.full(2000, 3.5)), 0.0)
    with pytest.raises(InputError, match="reference sample"):
        SignalMixture(tilt=1, **common).fit(x, m, log_bg, SR)


def test_capture_finds_the_signal_that_looks_like_the_background_by_its_mass() -> None:
    """A third of the signal is distributed like the background in x, with the signal's
    mass: p_S cannot tell it from the background, so the plain fit finds about two thirds
    of w and its interval misses the truth; profiled over the background-like fraction
    (told by the mass bump over the exact p(m)), w and that fraction are recovered."""
    x, m, log_bg, label = toy(8000, 0.1, seed=7)
    rng = np.random.default_rng(8)
    hidden = np.flatnonzero(label == 1)[rng.random(int(label.sum())) < 1 / 3]
    x[hidden] = rng.normal(size=(len(hidden), 2))
    log_bg = multivariate_normal(np.zeros(2), np.eye(2)).logpdf(x) - np.log(SR[1] - SR[0])
    log_mass = np.full(len(m), -np.log(SR[1] - SR[0]))  # the background's p(m): flat
    true_w = label.mean()
    params = {"folds": 3, "epochs": 20, "random_state": 0, **SMALL}
    plain = SignalMixture(**params).fit(x, m, log_bg, SR)
    assert plain.w_ < 0.8 * true_w and plain.w_interval_[1] < true_w
    assert plain.capture_ is None and plain.null_fit("window").capture is None
    fit = SignalMixture(**params, capture=True).fit(x, m, log_bg, SR, log_mass=log_mass)
    lo, hi = fit.w_interval_
    assert lo < true_w < hi and fit.w_ == pytest.approx(true_w, rel=0.15)
    assert fit.capture_ == pytest.approx(len(hidden) / label.sum(), abs=0.12)
    # the exact interval is where the profile crosses 1 (the grid brackets it)
    assert fit.profile_ is not None and fit.profile_.exact is not None
    dev = np.interp([lo, hi], fit.profile_.w, fit.profile_.deviance)
    assert np.allclose(dev, 1.0, atol=0.3)
    assert fit.summary()["capture"] == fit.capture_
    null = fit.null_fit("window")  # a null fit keeps its background-like fraction
    assert null.capture == fit.capture_ and null.summary()["capture"] == fit.capture_
    assert fit.summary()["held_out_nll"] == fit.held_out_nll_ > 0
    # the capture changes the scan, not the training of p_S: its fit without the
    # background-like signal is the plain fit, and the plain fit rescanned with the capture
    # is the capture's fit
    without = fit.summary()["without_capture"]
    assert without == fit.without_capture and null.without_capture is not None
    assert (null.without_capture.w, null.without_capture.q0) == (without["w"], without["q0"])
    assert without["w"] == pytest.approx(plain.w_, rel=0.05) and without["interval"][1] < true_w
    gain = without["capture_gain"]
    assert gain > 1 and fit.q0_ == pytest.approx(without["q0"] + gain - fit.capture_penalty)
    assert plain.without_capture is None and "without_capture" not in plain.summary()
    plain.capture = True
    plain.rescan(x, m, log_bg, SR, log_mass=log_mass)
    assert (plain.w_, plain.w_interval_, plain.capture_) == (fit.w_, fit.w_interval_, fit.capture_)
    # the capture's penalty: costing more than it adds, the envelope is the fit without it
    plain.capture_penalty = gain + 3.0
    plain.rescan(x, m, log_bg, SR, log_mass=log_mass)
    assert (plain.w_, list(plain.w_interval_)) == (without["w"], without["interval"])
    assert plain.capture_ == 0.0 and plain.without_capture == without
    with pytest.raises(InputError, match="the fit was made on"):
        plain.rescan(x[1:], m[1:], log_bg[1:], SR, log_mass=log_mass[1:])
    # with no background-like signal, little is captured and w stays
    x, m, log_bg, label = toy(8000, 0.1, seed=7)
    clean = SignalMixture(**params, capture=True).fit(x, m, log_bg, SR, log_mass=log_mass)
    assert clean.capture_ < 0.1 and clean.w_ == pytest.approx(label.mean(), rel=0.15)
    with pytest.raises(InputError, match="log_mass"):
        SignalMixture(**params, capture=True).fit(x, m, log_bg, SR)
