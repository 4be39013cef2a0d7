"""``transit``: sideband events moved into the SR by TRANSIT's adversarial autoencoder.

On the Gaussian toy of the other template tests (three features, the first two with means
that move linearly with ``m``) the sideband events miss the SR background by a third of a
standard deviation and more; moved into the SR they must not. Tolerances are in units of
the true SR background's spread per feature.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from resonant_ad.config import config_from_dict
from resonant_ad.data.events import Events
from resonant_ad.data.features import compute_features
from resonant_ad.data.toy import make_toy_sample
from resonant_ad.detect.classifier_test import classifier_test
from resonant_ad.detect.weakly_supervised import make_ensemble
from resonant_ad.errors import InputError
from resonant_ad.methods import FitInputs, RegionInputs, get
from resonant_ad.models.base import ModelContext
from resonant_ad.models.transit import PRESETS, TransitModel
from resonant_ad.search.inputs import StudyInputs
from resonant_ad.search.scan import run_scan
from resonant_ad.search.study import run_study
from toys import MU, SIGMA, SLOPE, SR, gaussian_toy, split, sr_truth, toy_config

MEAN_TOL = 0.12
"""|template mean - true SR background mean| below this many true SR standard deviations
(measured with 20 epochs of the ``tiny`` preset: 0.02, 0.03, -0.04; the sideband events
unmoved: -0.40, 0.30, -0.01)."""
STD_TOL = 0.08
"""|template std / true SR std - 1| below this (measured: -0.010, 0.032, 0.007)."""
MOVED_TOL = 0.2
"""|mean of (moved event - its expected mean at the new mass)| below this many sigma per
feature, for each sideband's events moved to SR masses (measured: 0.02, 0.04, -0.06 from
below, -0.04, 0.05, 0.02 from above; without the adversary -0.85, 0.95, 0.00 and 0.98,
-1.17, -0.04)."""


def _fit(sidebands: Events, seed: int = 0, epochs: int = 20, **method: Any) -> TransitModel:
    config = toy_config({"transit": method} if method else None, epochs=epochs)
    model = get("transit").fit(FitInputs(*split(sidebands), SR, config, seed))
    assert isinstance(model, TransitModel)
    return model


def _moved_bias(model: TransitModel, events: Events) -> np.ndarray:
    """Per feature, in sigma: the mean offset of ``events`` moved to uniform SR masses from
    the toy's mean at those masses."""
    m = np.random.default_rng(0).uniform(SR.lo, SR.hi, len(events))
    x = model.transport(events, m, seed=0)
    return np.asarray(((x - (MU + SLOPE * (m - 3.5)[:, None])) / SIGMA).mean(axis=0))


@pytest.fixture(scope="module")
def toy() -> dict[str, Any]:
    data = gaussian_toy(8000, seed=1)
    sidebands = data.select(SR.sideband(data.m))
    sr_data = data.select(SR.contains(data.m))
    model = _fit(sidebands)
    inputs = RegionInputs(SR, sr_data, sr_data, toy_config(), 1)
    return {
        "sidebands": sidebands,
        "sr_data": sr_data,
        "model": model,
        "template": get("transit").template(model, inputs, 20_000),
        "truth": sr_truth(200_000, 2),
        "inputs": inputs,
    }


def test_registered_as_a_sideband_template_the_scan_can_use() -> None:
    method = get("transit")
    assert method.trains_on == "sidebands" and method.yields == "template" and method.in_scan
    assert set(PRESETS) == {"paper", "cpu", "tiny"}
    paper = PRESETS["paper"]
    assert (paper.latent_dim, paper.hidden, paper.consistency, paper.adversarial) == (
        8,
        128,
        0.1,
        0.2,
    )
    assert paper.training.max_epochs == 200 and paper.training.learning_rate == 2e-4


def test_the_template_reproduces_the_sr_background_the_sidebands_miss(toy: dict[str, Any]) -> None:
    truth, template, sidebands = toy["truth"], toy["template"], toy["sidebands"]
    mu, sd = truth.x.mean(axis=0), truth.x.std(axis=0)
    assert len(template) == 20_000 and np.all(SR.contains(template.m))
    unmoved = (sidebands.x.mean(axis=0) - mu) / sd
    assert np.all(np.abs(unmoved[:2]) > 0.25)  # the features that move with m
    np.testing.assert_array_less(np.abs((template.x.mean(axis=0) - mu) / sd), MEAN_TOL)
    np.testing.assert_array_less(np.abs(template.x.std(axis=0) / sd - 1), STD_TOL)


def test_a_classifier_tells_the_sidebands_from_the_sr_far_better_than_the_template(
    toy: dict[str, Any],
) -> None:
    """Against 20,000 true SR background events: the template's AUC 0.53, the sideband
    events within one SR width of the SR 0.77 (measured)."""
    truth = toy["truth"].select(slice(0, 20_000))
    sidebands = toy["sidebands"]
    near = sidebands.select((sidebands.m > SR.lo - SR.width) & (sidebands.m < SR.hi + SR.width))

    def auc(events: Events) -> float:
        test = classifier_test(
            events, truth, classifier=make_ensemble("hgb", n_estimators=2), random_state=0
        )
        return float(test.auc)

    assert auc(toy["template"]) < 0.57
    assert auc(near) > 0.72


def test_the_adversary_is_what_moves_the_events(toy: dict[str, Any]) -> None:
    sidebands = toy["sidebands"]
    below, above = sidebands.select(sidebands.m < SR.lo), sidebands.select(sidebands.m > SR.hi)
    for events in (below, above):
        np.testing.assert_array_less(np.abs(_moved_bias(toy["model"], events)), MOVED_TOL)
    plain = _fit(sidebands, adversarial=0.0)
    # reconstruction and consistency alone keep the events nearly where they were
    assert abs(_moved_bias(plain, below)[0]) > 0.5 and abs(_moved_bias(plain, above)[1]) > 0.5


def test_the_same_seed_gives_the_same_model_and_template(
    toy: dict[str, Any], tmp_path: Path
) -> None:
    sidebands, inputs = toy["sidebands"], toy["inputs"]
    a, b = _fit(sidebands, epochs=3), _fit(sidebands, epochs=3)
    for p, q in zip(a.nets_[0].parameters(), b.nets_[0].parameters(), strict=True):
        assert torch.equal(p, q)
    method = get("transit")
    first = method.template(a, inputs, 500)
    np.testing.assert_array_equal(first.x, method.template(b, inputs, 500).x)
    np.testing.assert_array_equal(first.m, method.template(b, inputs, 500).m)
    other_seed = _fit(sidebands, seed=1, epochs=3)
    assert not np.array_equal(first.x, method.template(other_seed, inputs, 500).x)
    method.save_model(a, tmp_path / "transit.pt")
    loaded = method.load_model(tmp_path / "transit.pt", "cpu")
    np.testing.assert_array_equal(first.x, method.template(loaded, inputs, 500).x)


def test_each_sideband_event_serves_as_evenly_as_the_masses_allow(toy: dict[str, Any]) -> None:
    model = toy["model"]
    k = len(model.sources_)
    counts = np.bincount(model.source_index(2 * k + 3, np.random.default_rng(0)), minlength=k)
    assert counts.min() == 2 and counts.max() == 3 and counts.sum() == 2 * k + 3


def test_bad_settings_and_sr_events_are_refused(toy: dict[str, Any]) -> None:
    for bad in ({"sr_targets": 1.5}, {"consistency": -1.0}, {"discriminator": []}):
        with pytest.raises(InputError):
            get("transit").options(toy_config({"transit": bad}))
    with pytest.raises(InputError, match="unknown key"):
        get("transit").options(toy_config({"transit": {"latent": 3}}))
    assert get("transit").options(toy_config({"transit": {"latent_dim": 3}})).latent_dim == 3
    data = gaussian_toy(2000, seed=3)
    with pytest.raises(InputError, match="sideband events only"):
        TransitModel(PRESETS["tiny"], ModelContext(SR)).fit(*split(data), random_state=0)


def test_a_study_and_a_scan_run_transit(tmp_path: Path) -> None:
    toy = make_toy_sample(12_000, 2_000, 0, seed=5)
    background = compute_features(toy.background)
    inputs = StudyInputs(background, compute_features(toy.signal), None)
    raw: dict[str, Any] = {
        "data": {"events": "unused.h5"},
        "study": {"n_sig": [800], "n_injections": 1, "methods": ["transit"], "device": "cpu"},
        "model": {"preset": "tiny", "epochs": 2},
        "classifier": {"ensemble_size": 2, "oversampling": 1},
    }
    result = run_study(config_from_dict(raw), inputs, tmp_path / "study", progress=False)
    (score,) = result.scores
    assert score.method == "transit" and np.isfinite(score.metrics.auc)
    assert len(list((tmp_path / "study" / "models").glob("transit-*.pt"))) == 1
    scan = {"m_min": 3.0, "m_max": 3.8, "width": 0.4, "step": 0.4, "margin": 0.1, "n_sig": 0}
    raw["scan"] = {**scan, "efficiencies": [0.1], "methods": ["transit"]}
    raw["scan"]["background"] = "sidebands"  # one window: nothing to calibrate on
    config = config_from_dict(raw)
    scanned = run_scan(config, background, tmp_path / "scan", method="transit", progress=False)
    assert [w.signal_region for w in scanned.windows] == [(3.1, 3.5)]
    assert all(w.n_template == w.n_data for w in scanned.windows)
    assert scanned.train_seconds > 0


def _two_pass_loss(net: Any, z: Any, c: Any, ct: Any, cf: Any, s: Any, threshold: float) -> Any:
    """The adversarial step as two explicit passes: the discriminator on detached moved
    events for its own loss, and on the moved events with its parameters held fixed for the
    generator's term."""
    from torch.nn.functional import binary_cross_entropy_with_logits as bce

    latent = net.encoder(z, c)
    reco = (net.decoder(latent, c) - z).pow(2).mean()
    moved = net.decoder(latent, ct)
    loss = reco + s.consistency * (net.encoder(moved, ct) - latent).pow(2).mean()
    fake = net.decoder(latent, cf)
    disc = net.discriminator
    logits = disc(torch.cat([z, fake.detach()]), torch.cat([c, cf]))
    d_loss = bce(logits, torch.cat([torch.ones(len(z)), torch.zeros(len(z))]).to(logits))
    fixed = {k: v.detach() for k, v in disc.named_parameters()}
    fooled = torch.func.functional_call(disc, fixed, (fake, cf))
    g_adv = -0.5 * bce(fooled, torch.zeros_like(fooled))
    allow = (d_loss.detach() <= threshold).to(loss)
    return d_loss + allow * (loss + s.adversarial * g_adv)


@pytest.mark.parametrize("threshold", [10.0, -1.0])
def test_one_discriminator_pass_gives_each_player_its_own_gradient(
    threshold: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The training loss's gradients equal those of the explicit two-pass form, both where
    the autoencoder steps (the discriminator's loss under the threshold) and where not."""
    from resonant_ad.models import transit

    monkeypatch.setattr(transit, "LOG_2", threshold)
    s = PRESETS["tiny"]
    torch.manual_seed(0)
    net = transit._TransitNet(3, s).double()
    z, c, ct, cf = (torch.randn(64, k, dtype=torch.float64) for k in (3, 1, 1, 1))
    params = list(net.parameters())
    grads = []
    for loss_fn in (
        lambda: net.loss(z, c, ct, cf, s),
        lambda: _two_pass_loss(net, z, c, ct, cf, s, threshold),
    ):
        value = loss_fn()
        grads.append((float(value.detach()), torch.autograd.grad(value, params)))
    (v1, g1), (v2, g2) = grads
    assert v1 == pytest.approx(v2, rel=1e-12)
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-14)
    n_autoencoder = len([*net.encoder.parameters(), *net.decoder.parameters()])
    autoencoder = g1[:n_autoencoder]  # the encoder's and decoder's come first
    assert (threshold < 0) == all(float(g.abs().max()) == 0.0 for g in autoencoder)
