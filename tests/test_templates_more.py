"""The sideband templates ``cathode-nf``, ``cvae`` and ``rad-ot`` on a toy with a known SR.

The toy's background is Gaussian in three features whose mean moves linearly with ``m``
(slopes 1, -0.5 and 0 per TeV) and whose ``m`` spectrum falls, so the sidebands' mean
differs from the SR's: a template that ignores ``m`` misses the SR mean. Tolerances are in
units of the true SR background's spread per feature.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import toys
from resonant_ad.config import StudyConfig, config_from_dict
from resonant_ad.data.events import Events
from resonant_ad.data.features import FEATURE_SETS, compute_feature_set
from resonant_ad.data.lhco import write_lhco
from resonant_ad.data.regions import SignalRegion
from resonant_ad.data.toy import make_toy_sample, toy_background
from resonant_ad.errors import InputError
from resonant_ad.methods import FitInputs, RegionInputs, get, names
from resonant_ad.models.base import ModelContext
from resonant_ad.models.cvae import ConditionalVAE
from resonant_ad.models.ot_plan import (
    OTPlan,
    OTSettings,
    displacement,
    from_gauss,
    to_gauss,
)
from toys import NAMES, SR, gaussian_toy

MEAN_TOL = 0.15
"""|template mean - true SR mean| below this many true SR standard deviations."""
STD_TOL = 0.12
"""|template std / true SR std - 1| below this."""


def toy_config(method: dict[str, Any] | None = None, **model: Any) -> StudyConfig:
    """Tiny models of 40 epochs, each family's own preprocessing unless given."""
    model = {"preprocessing": None, **model}
    return toys.toy_config(method, epochs=40, **model)


def with_latent(model: ConditionalVAE, latent: str) -> ConditionalVAE:
    """The fitted cVAE drawing its latents from ``latent``."""
    other = copy.copy(model)
    other.settings = dataclasses.replace(model.settings, latent=latent)
    return other


@pytest.fixture(scope="module")
def toy() -> dict[str, Any]:
    events = gaussian_toy(8000, seed=0)
    sb = events.select(SR.sideband(events.m))
    n_val = len(sb) // 6
    truth = gaussian_toy(200_000, seed=1)
    truth = truth.select(SR.contains(truth.m))
    return {
        "train": sb.select(slice(n_val, None)),
        "val": sb.select(slice(0, n_val)),
        "sr_data": events.select(SR.contains(events.m)),
        "mean": truth.x.mean(axis=0),
        "std": truth.x.std(axis=0),
    }


def fit_inputs(toy: dict[str, Any], config: StudyConfig) -> FitInputs:
    return FitInputs(toy["train"], toy["val"], SR, config, seed=0)


def region_inputs(toy: dict[str, Any], config: StudyConfig, seed: int = 5) -> RegionInputs:
    return RegionInputs(SR, toy["sr_data"], toy["sr_data"], config, seed)


@pytest.fixture(scope="module")
def fitted(toy: dict[str, Any]) -> dict[str, tuple[Any, Any, StudyConfig]]:
    """``name -> (method, model, config)`` of every template fitted once on the toy."""
    standard = toy_config(preprocessing="standard")
    out: dict[str, tuple[Any, Any, StudyConfig]] = {}
    nf = get("cathode-nf")
    out["cathode-nf"] = (nf, nf.fit(fit_inputs(toy, standard)), standard)
    cvae = get("cvae")
    # the Gaussian toy needs no feature map: its gaussianized sidebands (two Gaussians
    # apart) bend the linear mass dependence the cVAE interpolates (a template of 1.16
    # times the true spread in ``a`` with the default map)
    out["cvae"] = (cvae, cvae.fit(fit_inputs(toy, standard)), standard)
    talk = toy_config({"cvae": {"beta": 1e-6}})  # the cVAE talk's KL weight
    out["cvae-beta-1e-6"] = (cvae, cvae.fit(fit_inputs(toy, talk)), talk)
    ot, plan = get("rad-ot"), toy_config({"rad-ot": {"events_per_side": 1500}})
    out["rad-ot"] = (ot, ot.fit(fit_inputs(toy, plan)), plan)
    return out


def assert_matches_truth(template: Events, toy: dict[str, Any]) -> None:
    pull = np.abs(template.x.mean(axis=0) - toy["mean"]) / toy["std"]
    ratio = template.x.std(axis=0) / toy["std"]
    assert np.all(pull < MEAN_TOL), f"mean off by {pull} SR standard deviations"
    assert np.all(np.abs(ratio - 1) < STD_TOL), f"spread ratio {ratio}"


def test_the_toy_sidebands_do_not_look_like_the_sr(toy: dict[str, Any]) -> None:
    """A template that ignored m would fail the tolerance: the sideband mean is off."""
    sb = Events.concatenate([toy["train"], toy["val"]])
    pull = np.abs(sb.x.mean(axis=0) - toy["mean"]) / toy["std"]
    assert pull[0] > 3 * MEAN_TOL


def test_registered_and_not_default() -> None:
    for name in ("cathode-nf", "cvae", "rad-ot"):
        method = get(name)
        assert method.trains_on == "sidebands" and method.yields == "template"
        assert not method.default and method.in_scan
    assert {"cathode-nf", "cvae", "rad-ot"} <= set(names(scan=True))


@pytest.mark.parametrize("name", ["cathode-nf", "cvae", "rad-ot"])
def test_sr_template_matches_the_true_sr_background(
    name: str, toy: dict[str, Any], fitted: dict[str, tuple[Any, Any, StudyConfig]]
) -> None:
    method, model, config = fitted[name]
    template = method.template(model, region_inputs(toy, config), 20_000)
    assert_matches_truth(template, toy)


@pytest.mark.parametrize("name", ["cathode-nf", "cvae", "rad-ot"])
def test_template_has_n_label_0_events_in_the_sr_and_round_trips(
    name: str,
    toy: dict[str, Any],
    fitted: dict[str, tuple[Any, Any, StudyConfig]],
    tmp_path: Path,
) -> None:
    method, model, config = fitted[name]
    inputs = region_inputs(toy, config)
    template = method.template(model, inputs, 3000)
    assert len(template) == 3000 and template.x.shape == (3000, 3)
    assert np.all(template.label == 0) and template.feature_names == NAMES
    assert np.all(SR.contains(template.m)) and np.all(np.isfinite(template.x))
    method.save_model(model, tmp_path / "model.pt")
    loaded = method.load_model(tmp_path / "model.pt", "cpu")
    again = method.template(loaded, inputs, 3000)
    np.testing.assert_array_equal(again.m, template.m)
    np.testing.assert_allclose(again.x, template.x, rtol=0, atol=1e-6)
    # the engine hands models between processes by pickling them
    unpickled = method.template(pickle.loads(pickle.dumps(model)), inputs, 3000)
    np.testing.assert_allclose(unpickled.x, template.x, rtol=0, atol=1e-6)
    other = method.template(model, region_inputs(toy, config, seed=6), 3000)
    assert not np.allclose(other.x, template.x)
    with pytest.raises(InputError, match="signal region"):
        method.template(model, dataclasses.replace(inputs, region=SignalRegion(3.2, 3.6)), 10)


def test_cathode_nf_takes_epochs_and_preprocessing_from_the_model_config(
    fitted: dict[str, tuple[Any, Any, StudyConfig]],
) -> None:
    nf = get("cathode-nf")
    settings = nf.settings(toy_config(preprocessing="standard"))
    training = settings.training
    assert (training.max_epochs, settings.preprocessing, settings.transforms) == (40, "standard", 3)
    assert training.early_stopping_patience > training.max_epochs  # fixed length: no stop
    assert nf.settings(toy_config()).preprocessing == "logit"  # CATHODE's default
    # every family reads [model] the same way
    cvae = get("cvae").settings(toy_config(preprocessing="logit"))
    assert (cvae.training.max_epochs, cvae.preprocessing) == (40, "logit")
    _, flow, _ = fitted["cathode-nf"]
    assert len(flow.history_) == 40 and len(flow.flows_) == 2  # the tiny preset's 2 best
    # the ensemble's density: higher at the SR mean than a few standard deviations away
    at = np.array([[1.0, 2.0, 0.0], [2.5, 2.0, 0.0]])
    lp = flow.log_prob(at, np.array([3.5, 3.5]))
    assert lp[0] > lp[1] + 5


def test_cvae_latent_samplings(
    toy: dict[str, Any], fitted: dict[str, tuple[Any, Any, StudyConfig]]
) -> None:
    method, model, config = fitted["cvae-beta-1e-6"]
    inputs = region_inputs(toy, config)
    assert model.settings.latent == "posterior"
    posterior = method.template(model, inputs, 20_000)
    prior = method.template(with_latent(model, "prior"), inputs, 20_000)
    assert not np.allclose(prior.x, posterior.x)
    # beta = 1e-6: the encoded sideband events fill only a corner of N(0, 1), so the
    # prior's decoded spread is far too small; the aggregate posterior's is not
    prior_ratio = prior.x.std(axis=0) / toy["std"]
    posterior_ratio = posterior.x.std(axis=0) / toy["std"]
    assert np.abs(posterior_ratio - 1).sum() < 0.5 * np.abs(prior_ratio - 1).sum()
    assert prior_ratio[2] < 0.5 and abs(posterior_ratio[2] - 1) < STD_TOL  # c: no m slope
    assert np.all(np.abs(posterior_ratio - 1) < 0.35)
    prior_config = toy_config({"cvae": {"beta": 1e-6, "latent": "prior"}})
    assert method.model_settings(prior_config) != method.model_settings(config)
    settings = method.settings(config)
    assert settings.beta == 1e-6 and settings.training.max_epochs == 40
    default = method.settings(toy_config())  # the defaults, chosen label-free
    assert (default.beta, default.preprocessing, default.decoder_noise) == (
        1e-2,
        "gaussianize",
        False,
    )
    with pytest.raises(InputError, match="latent"):
        method.settings(toy_config({"cvae": {"latent": "nowhere"}}))


def test_cvae_decoder_noise_adds_the_validation_reconstruction_error(
    toy: dict[str, Any], fitted: dict[str, tuple[Any, Any, StudyConfig]]
) -> None:
    import torch

    method, model, config = fitted["cvae"]
    assert model.settings.decoder_noise is False  # the default: the decoded means
    assert len(model.noise_) == len(model.nets_)
    assert all(n.shape == (3,) and bool(torch.all(n > 0.01)) for n in model.noise_)
    m = np.full(20_000, 3.5)

    def standardised(x: np.ndarray) -> np.ndarray:
        z, _ = model.preprocessor_(torch.as_tensor(x, dtype=torch.float64))
        return np.asarray(z.numpy())

    # one member: the same seed draws the same latents, then the noise on top of them
    one = copy.copy(model)
    one.nets_, one.posteriors_, one.noise_ = (
        model.nets_[:1],
        model.posteriors_[:1],
        model.noise_[:1],
    )
    noise = standardised(one.sample(m, seed=1, noise=True)) - standardised(one.sample(m, seed=1))
    np.testing.assert_allclose(noise.std(axis=0), one.noise_[0].numpy(), rtol=0.03)
    assert np.all(np.abs(noise.mean(axis=0)) < 0.03 * one.noise_[0].numpy())
    noise_config = toy_config({"cvae": {"decoder_noise": True}})
    assert method.settings(noise_config).decoder_noise is True  # p(x | z, m)
    assert method.model_settings(noise_config) != method.model_settings(config)
    copy_ = ConditionalVAE.from_state(model.state(), "cpu")
    assert all(torch.equal(a, b) for a, b in zip(copy_.noise_, model.noise_, strict=True))


def test_cvae_trains_on_the_six_features_of_the_cvae_set(tmp_path: Path) -> None:
    frame = toy_background(6000, np.random.default_rng(11))
    events = compute_feature_set(frame, "cvae")
    assert events.feature_names == FEATURE_SETS["cvae"] and events.x.shape[1] == 6
    np.testing.assert_array_less(-1e-12, events.x[:, 1] - events.x[:, 0])  # mj2 >= mj1
    sb = events.select(SR.sideband(events.m))
    sr_data = events.select(SR.contains(events.m))
    config = toy_config()
    method = get("cvae")
    n_val = len(sb) // 6
    model = method.fit(
        FitInputs(sb.select(slice(n_val, None)), sb.select(slice(0, n_val)), SR, config, 0)
    )
    region = RegionInputs(SR, sr_data, sr_data, config, 3)
    for latent in ("posterior", "prior"):
        template = method.template(with_latent(model, latent), region, 2000)
        assert template.feature_names == FEATURE_SETS["cvae"] and template.x.shape == (2000, 6)
        assert np.all(np.isfinite(template.x)) and np.all(SR.contains(template.m))
    posterior = method.template(model, region, 2000)
    pull = np.abs(posterior.x.mean(axis=0) - sr_data.x.mean(axis=0)) / sr_data.x.std(axis=0)
    assert np.all(pull < 0.5)
    with pytest.raises(InputError, match="feature set"):
        compute_feature_set(frame, "nope")


def test_rad_ot_displacement_puts_events_at_the_requested_masses(
    fitted: dict[str, tuple[Any, Any, StudyConfig]],
) -> None:
    _, plan, _ = fitted["rad-ot"]
    assert isinstance(plan, OTPlan)
    x_lo, m_lo, x_hi, m_hi = plan.x_lo_, plan.m_lo_, plan.x_hi_, plan.m_hi_
    assert np.all(m_lo < SR.lo) and np.all(m_hi > SR.hi)
    assert np.isclose(plan.w_.sum(), 1.0) and np.all(plan.w_ > 0)
    m = np.linspace(3.3, 3.7, 401)
    x, pair = plan.sample_pairs(m, seed=2)
    np.testing.assert_array_equal(plan.sample(m, seed=2), x)
    i, j = plan.i_[pair], plan.j_[pair]
    t = (m - m_lo[i]) / (m_hi[j] - m_lo[i])
    assert np.all((t > 0) & (t < 1))
    # on the segment between the pair in the plan's space (the default ``gauss``)
    z_lo, z_hi = to_gauss(x_lo[i], plan.knots_), to_gauss(x_hi[j], plan.knots_)
    np.testing.assert_allclose(x, from_gauss(z_lo + t[:, None] * (z_hi - z_lo), plan.knots_))
    # at the pair's own masses the interpolation gives the pair's events
    np.testing.assert_allclose(displacement(x_lo[i], m_lo[i], x_hi[j], m_hi[j], m_lo[i]), x_lo[i])
    np.testing.assert_allclose(displacement(x_lo[i], m_lo[i], x_hi[j], m_hi[j], m_hi[j]), x_hi[j])
    with pytest.raises(InputError, match="between the sidebands"):
        plan.sample(np.array([5.0]), seed=0)


def test_rad_ot_exact_plan_is_a_matching(toy: dict[str, Any]) -> None:
    settings = OTSettings(events_per_side=400, solver="exact", space="standard")
    plan = OTPlan(settings, ModelContext(SR)).fit(toy["train"], toy["val"], random_state=1)
    n_lo, n_hi = len(plan.m_lo_), len(plan.m_hi_)
    assert n_lo == 400 and n_hi == 400
    # equal uniform weights on both sides: the optimal plan is a permutation
    assert len(plan.w_) == 400 and np.allclose(plan.w_, 1 / 400)
    assert sorted(plan.i_.tolist()) == list(range(400)) == sorted(plan.j_.tolist())
    # optimal: no other matching of the standardised events costs less
    both = np.concatenate([plan.x_lo_, plan.x_hi_])
    lo = (plan.x_lo_ - both.mean(axis=0)) / both.std(axis=0)
    hi = (plan.x_hi_ - both.mean(axis=0)) / both.std(axis=0)
    matched = np.sum((lo[plan.i_] - hi[plan.j_]) ** 2, axis=1).mean()
    assert np.isclose(matched, plan.mean_cost_)
    rng = np.random.default_rng(0)
    for _ in range(20):
        assert matched < np.sum((lo - hi[rng.permutation(400)]) ** 2, axis=1).mean()
    swapped = plan.j_.copy()
    swapped[[0, 1]] = swapped[[1, 0]]
    assert matched <= np.sum((lo[plan.i_] - hi[swapped]) ** 2, axis=1).mean()


def test_cathode_nf_runs_through_the_study(tmp_path: Path) -> None:
    from resonant_ad.search.inputs import load_inputs
    from resonant_ad.search.study import run_study

    toy = make_toy_sample(12_000, 2_000, 0, seed=5)
    write_lhco(pd.concat([toy.background, toy.signal], ignore_index=True), tmp_path / "ev.h5")
    raw = {
        "data": {"events": str(tmp_path / "ev.h5")},
        "study": {
            "n_sig": [800],
            "n_injections": 1,
            "methods": ["cathode-nf"],
            "device": "cpu",
        },
        "model": {"preset": "tiny", "epochs": 5},
        "classifier": {"ensemble_size": 2, "oversampling": 1},
    }
    config = config_from_dict(raw)
    result = run_study(config, load_inputs(config.data), tmp_path / "out", progress=False)
    (score,) = result.scores
    assert score.method == "cathode-nf" and score.signal_region == (3.3, 3.7)
    # the toy's signal is loud: against the flow's template the classifier finds it
    assert score.metrics.auc > 0.8
    models = list((tmp_path / "out" / "models").glob("cathode-nf-*.pt"))
    assert len(models) == 1
    record = json.loads(models[0].with_suffix(".json").read_text())
    assert record["method"] == "cathode-nf" and record["events"] > 1000
    flow = result.model("cathode-nf")
    assert flow.signal_region_ == SR and max(flow.member_epochs_) <= 5
