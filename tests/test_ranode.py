"""R-ANODE, its ideal version and ANODE through `resonant-ad run`: one background density
per SR and model, shared by the three, and the fitted signal fraction in the outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from resonant_ad.cli import main
from resonant_ad.config import config_from_dict, load_config
from resonant_ad.data.lhco import write_lhco
from resonant_ad.data.toy import make_toy_sample
from resonant_ad.errors import InputError
from resonant_ad.flows.model import FlowMatchingModel
from resonant_ad.search.checks import check_methods
from resonant_ad.search.inputs import load_inputs
from resonant_ad.search.study import run_study, study_injections


def toy_study(tmp_path: Path, settings: str) -> None:
    """The toy sample written as LHCO files, and ``study.toml`` reading them with
    ``settings`` (the sections from ``[study]`` on)."""
    toy = make_toy_sample(16_000, 2_000, 4_000, seed=3)
    write_lhco(pd.concat([toy.background, toy.signal], ignore_index=True), tmp_path / "ev.h5")
    write_lhco(toy.extra_background, tmp_path / "extra.h5")
    (tmp_path / "study.toml").write_text(
        '[data]\nevents = "ev.h5"\nextra_background = "extra.h5"\n' + settings
    )


def small_r_anode_run(tmp_path: Path, n_sig: int, w_init: float, density: str) -> Path:
    """``r-anode`` alone on the toy (one injection of ``n_sig``; a tiny, 3-epoch ``v_data``
    and ``p_S``) with ``density`` added to ``[density]``: the run folder."""
    toy_study(
        tmp_path,
        f'[study]\nn_sig = [{n_sig}]\nn_injections = 1\nmethods = ["r-anode"]\ndevice = "cpu"\n'
        '[model]\npreset = "tiny"\nepochs = 3\n'
        f"[density]\nfolds = 2\nepochs = 3\nprofile_points = 3\nw_init = {w_init}\n{density}",
    )
    out = tmp_path / "run"
    assert main(["run", str(tmp_path / "study.toml"), "--out", str(out), "--no-progress"]) == 0
    return out


def test_density_methods_run_over_one_cached_background_density(tmp_path: Path) -> None:
    toy_study(
        tmp_path,
        "[study]\nn_sig = [800]\nn_injections = 1\n"
        'methods = ["sigma-context", "r-anode", "r-anode-x", "r-anode-ideal", "anode"]\n'
        'device = "cpu"\n'
        '[model]\npreset = "tiny"\n'
        "[classifier]\nensemble_size = 2\noversampling = 2\n"
        "[density]\nfolds = 3\nepochs = 8\nprofile_points = 5\nprofile_epochs = 1\n"
        "w_init = [0.1, 0.3]\n"  # around the toy's loud signal (w = 0.23)
        # no tilt of p_B: a linear tilt takes in a third of a signal this loud (w 0.15)
        "tilt = 0\n"
        # p_B as the model gives it, p(m) from the SR data, the scan refitted (no capture)
        'correction = "none"\nmass = "data"\ncapture = false\n',
    )
    out = tmp_path / "run"
    assert main(["run", str(tmp_path / "study.toml"), "--out", str(out), "--no-progress"]) == 0
    rows = {r["method"]: r for r in json.loads((out / "report.json").read_text())["results"]}
    assert set(rows) == {"sigma-context", "r-anode", "r-anode-x", "r-anode-ideal", "anode"}
    # the toy's signal is loud: the learned signal density finds it, over (x, m) or x alone
    assert rows["r-anode"]["auc"]["median"] > 0.95
    assert rows["r-anode-x"]["auc"]["median"] > 0.95
    assert rows["r-anode-ideal"]["auc"]["median"] > 0.95
    # one v_data, one set of background densities for all four density methods
    assert len(list((out / "models").glob("vdata-*.pt"))) == 1
    assert len(list((out / "densities").glob("*.npz"))) == 1
    fractions = json.loads((out / "signal_fraction.json").read_text())
    assert [f["method"] for f in fractions] == ["r-anode", "r-anode-x"]
    assert fractions[1]["w"] == pytest.approx(fractions[1]["true_w"], rel=0.35)
    f = fractions[0]
    assert f["true_w"] == pytest.approx(0.23, abs=0.02)  # 800 signal events, most in the SR
    assert f["w"] == pytest.approx(f["true_w"], rel=0.35)
    assert f["w_lo"] < f["w"] < f["w_hi"]
    assert f["correction"] is None  # p_B as the model gives it
    for name in ("signal_fraction.png", "signal_model_SR3.3-3.7_nsig800.png"):
        assert (out / "plots" / name).stat().st_size > 10_000
    # a rerun reads everything back
    assert main(["run", str(tmp_path / "study.toml"), "--out", str(out), "--no-progress"]) == 0
    again = {r["method"]: r for r in json.loads((out / "report.json").read_text())["results"]}
    assert again["r-anode"]["auc"] == rows["r-anode"]["auc"]


def test_the_background_tilt_is_normalised_on_a_sample_of_the_background_model(
    tmp_path: Path,
) -> None:
    """With ``[density] tilt = 1`` (the default) the densities task also draws twice as
    many events from the background model as there are SR data events; the fit's tilt is
    normalised on them, and r-anode still finds a quieter toy signal (w = 0.09). (The tilt
    is first fitted alone and takes in part of this well separated signal: in 10 epochs
    ``p_S`` did not win it back, AUC 0.41; in 30 it has.) The fit of w is the capture's
    profile (``capture_penalty = 0``): the part the tilt took looks like the background in
    x, and with the default penalty the envelope keeps the fit without the capture, which
    adds only 0.06 to 2 log L here (measured: w 0.065 [0.059, 0.078] on a truth of 0.102)."""
    toy_study(
        tmp_path,
        '[study]\nn_sig = [300]\nn_injections = 1\nmethods = ["r-anode"]\ndevice = "cpu"\n'
        '[model]\npreset = "tiny"\n'
        "[density]\nfolds = 2\nepochs = 30\nprofile_points = 5\nw_init = 0.05\n"
        "capture_penalty = 0\n",
    )
    out = tmp_path / "run"
    assert main(["run", str(tmp_path / "study.toml"), "--out", str(out), "--no-progress"]) == 0
    (density,) = (out / "densities").glob("*.npz")
    with np.load(density) as d:
        n_sr = len(d["train"]) + len(d["val"])
        assert len(d["reference_x"]) == len(d["reference_m"]) == 2 * n_sr
        assert np.all((d["reference_m"] >= 3.3) & (d["reference_m"] <= 3.7))
    (row,) = json.loads((out / "report.json").read_text())["results"]
    assert row["auc"]["median"] > 0.9
    (f,) = json.loads((out / "signal_fraction.json").read_text())
    assert f["true_w"] == pytest.approx(0.09, abs=0.02)
    assert f["w"] == pytest.approx(f["true_w"], rel=0.35)
    # the study's result also names the background model r-anode's densities came from
    cfg = load_config(tmp_path / "study.toml")
    result = run_study(cfg, load_inputs(cfg.data), out, progress=False)
    (vdata,) = (out / "models").glob("vdata-*.pt")
    assert result.model_files[("sigma-context", 300, 0, (3.3, 3.7))] == vdata
    assert isinstance(result.model("sigma-context"), FlowMatchingModel)
    (model_file,) = (out / "models").glob("r-anode-*.pt")
    fit = torch.load(model_file, weights_only=False)
    betas = fit.summary()["tilt"]["fold_beta"]
    assert len(betas) == 2 and all(len(b) == fit.n_features_in_ + 1 for b in betas)  # x and m
    assert 0 < np.abs(betas).max() < 1


def test_density_config_is_validated() -> None:
    base = {"data": {"events": "x.h5"}}
    assert config_from_dict(base).density.background == "sigma-context"
    cfg = config_from_dict({**base, "density": {"background": "cr", "folds": 3}})
    assert cfg.density.background == "cr" and cfg.density.mixture_params()["folds"] == 3
    with pytest.raises(InputError, match="density"):  # v_data includes the signal
        check_methods(config_from_dict({**base, "density": {"background": "data"}}))
    with pytest.raises(InputError, match="unknown key"):
        config_from_dict({**base, "density": {"spline_bins": 8}})
    wide = config_from_dict({**base, "density": {"hidden": 128, "hidden_layers": 3, "bins": 4}})
    params = wide.density.mixture_params()
    assert params["hidden_features"] == (128, 128, 128) and params["bins"] == 4
    with pytest.raises(InputError, match="folds"):
        config_from_dict({**base, "density": {"folds": 1}})
    with pytest.raises(InputError, match="solver"):
        config_from_dict({**base, "density": {"solver": "leapfrog"}})
    assert config_from_dict(base).density.mixture_params()["tilt"] == 1
    assert config_from_dict({**base, "density": {"tilt": 0}}).density.mixture_params()["tilt"] == 0
    with pytest.raises(InputError, match="tilt"):
        config_from_dict({**base, "density": {"tilt": -1}})
    with pytest.raises(InputError, match="unknown method"):  # scores, not a template
        check_methods(config_from_dict({**base, "scan": {"methods": ["r-anode"]}}))
    with pytest.raises(InputError, match="correction"):
        config_from_dict({**base, "density": {"correction": "classifier"}})
    with pytest.raises(InputError, match="correction_width"):
        config_from_dict({**base, "density": {"correction": "sidebands", "correction_width": 0}})
    defaults = config_from_dict(base).density
    assert (defaults.correction, defaults.mass, defaults.capture) == (
        "sidebands",
        "sidebands",
        True,
    )
    with pytest.raises(InputError, match="mass"):
        config_from_dict({**base, "density": {"mass": "kde"}})
    with pytest.raises(InputError, match="mass_width"):
        config_from_dict({**base, "density": {"mass": "sidebands", "mass_width": -1}})
    with pytest.raises(InputError, match='mass = "sidebands"'):  # nothing to tell it by
        config_from_dict({**base, "density": {"mass": "data"}})
    with pytest.raises(InputError, match="profile_epochs"):
        config_from_dict({**base, "density": {"profile_epochs": 2}})
    with pytest.raises(InputError, match="true or false"):
        config_from_dict({**base, "density": {"capture": 1}})
    off = config_from_dict({**base, "density": {"capture": False, "mass": "data"}}).density
    assert off.mixture_params()["capture"] is False and defaults.mixture_params()["capture"]
    # the null fits are off by default, counted per side, and do not change the SR fit's key
    assert defaults.null_windows == 0
    nulls = config_from_dict({**base, "density": {"null_windows": 2}}).density
    assert nulls.fit_key() == defaults.fit_key() and "null_windows" not in nulls.mixture_params()
    with pytest.raises(InputError, match="null_windows"):
        config_from_dict({**base, "density": {"null_windows": -1}})


def test_the_sideband_correction_brings_p_b_closer_to_the_true_sr_background(
    tmp_path: Path,
) -> None:
    """``[density] correction = "sidebands"``: the densities task learns the ratio of the
    sideband data to the (tiny, 3-epoch) background model's samples there and corrects
    ``p_B`` in the SR with it; the true background of the test set is then more likely
    under ``p_B`` than before, and r-anode runs over the corrected density."""
    out = small_r_anode_run(tmp_path, 300, 0.05, 'correction = "none"\n')
    (tmp_path / "study.toml").write_text(
        (tmp_path / "study.toml").read_text().replace('"none"', '"sidebands"')
    )
    assert main(["run", str(tmp_path / "study.toml"), "--out", str(out), "--no-progress"]) == 0
    assert len(list((out / "models").glob("vdata-*.pt"))) == 1  # the same background model
    files = sorted((out / "densities").glob("*.npz"), key=lambda p: p.stat().st_mtime)
    assert len(files) == 2
    with np.load(files[0]) as plain, np.load(files[1]) as corrected:
        assert "correction_auc_before" not in plain
        assert corrected["correction_auc_before"] > corrected["correction_auc_after"]
        assert abs(corrected["correction_auc_after"] - 0.5) < 0.03
        cfg = load_config(tmp_path / "study.toml")
        (inj,) = study_injections(cfg, load_inputs(cfg.data), 300, cfg.signal_regions[0])
        assert len(corrected["test"]) == len(inj.test)
        background = inj.test.label == 0
        gain = corrected["test"][background] - plain["test"][background]
        assert gain.mean() > 0.1  # measured: 0.24 nats per event
        assert len(corrected["reference_m"]) == len(plain["reference_m"])
        auc_before = float(corrected["correction_auc_before"])
        auc_after = float(corrected["correction_auc_after"])
        held_out_gain = float(corrected["correction_gain"])
        # the label-free held-out gain in the sidebands sees what the test events gain
        assert 0.5 * gain.mean() < held_out_gain < 2 * gain.mean()
    (row,) = json.loads((out / "report.json").read_text())["results"]
    assert row["method"] == "r-anode" and row["auc"]["median"] > 0.5  # measured: 0.56
    # the fitted signal fraction says that p_B was corrected, and how well
    (f,) = json.loads((out / "signal_fraction.json").read_text())
    assert f["correction"] == pytest.approx([auc_before, auc_after, held_out_gain])
    text = (out / "signal_fraction.txt").read_text()
    assert "p_B corrected, sideband AUC" in text and f"{held_out_gain:+.4f} nats/event" in text


def test_the_sideband_mass_density_and_the_capture_reach_the_outputs(tmp_path: Path) -> None:
    """``[density] mass = "sidebands"``: ``p(m)`` is the dijet fit of the sideband masses
    (it has no bump where the SR data's KDE follows the signal, and is normalised in the
    SR), kept beside ``log p_B`` in the densities; ``capture = true`` profiles ``w`` over
    the background-like fraction of the signal, which reaches signal_fraction.json/.txt."""
    out = small_r_anode_run(tmp_path, 600, 0.1, 'mass = "sidebands"\ncapture = true\n')
    cfg = load_config(tmp_path / "study.toml")
    sr = cfg.signal_regions[0]
    (inj,) = study_injections(cfg, load_inputs(cfg.data), 600, sr)
    (file,) = (out / "densities").glob("*.npz")
    with np.load(file) as d:
        log_pm = d["mass_test"]
        assert len(log_pm) == len(inj.test) and len(d["mass_train"]) == len(d["train"])
    from resonant_ad.data.spectrum import MassDensity, SidebandMassDensity

    expected = SidebandMassDensity(sr.lo, sr.hi, cfg.density.mass_width).fit(inj.data.m)
    assert np.allclose(log_pm, expected.log_prob(inj.test.m))
    # the SR data's KDE has the signal's bump, the sideband fit not
    kde = MassDensity(sr.lo, sr.hi).fit(inj.data.select(sr.contains(inj.data.m)).m)
    at_signal = np.median(inj.test.m[inj.test.label == 1])
    assert kde.log_prob(np.array([at_signal]))[0] > expected.log_prob(np.array([at_signal]))[0]
    (f,) = json.loads((out / "signal_fraction.json").read_text())
    # what the fit found reaches both files, and the coverage flag says what the numbers say
    # (measured: w 0.21 in [0.14, 0.28] on a truth of 0.18, background-like fraction 1.00)
    assert f["covers"] == (f["w_lo"] <= f["true_w"] <= f["w_hi"])
    text = (out / "signal_fraction.txt").read_text()
    assert f"background-like signal {f['capture']:.2f}" in text
    plain = f["without_capture"]
    # the capture's penalty is a setting of the scan: with a penalty above what the capture
    # adds, the stored fit is rescanned, not trained again, and reports the fit without it
    (record,) = (out / "models").glob("r-anode-*.json")
    trained = record.read_text()
    small_r_anode_run(tmp_path, 600, 0.1, 'mass = "sidebands"\ncapture_penalty = 1e6\n')
    assert list((out / "models").glob("r-anode-*.json")) == [record]
    assert record.read_text() == trained
    (g,) = json.loads((out / "signal_fraction.json").read_text())
    assert (g["w"], g["capture"], g["without_capture"]) == (plain["w"], 0.0, plain)
    assert [g["w_lo"], g["w_hi"]] == plain["interval"] and g["q0"] == plain["q0"]
    assert f"w without it {plain['w']:.5f}" in (out / "signal_fraction.txt").read_text()


def test_the_null_fits_in_the_validation_windows_reach_the_signal_fraction(
    tmp_path: Path,
) -> None:
    """``[density] null_windows = 1``: r-anode's fit is repeated in the window below and the
    window above the SR (each with its own background densities, the window in the role of
    the SR: its mass fit in its own sidebands, no test events), and their spurious w and q0
    calibrate the SR's fit in signal_fraction.json/.txt: the total interval holds the
    statistical one, the p-value is one of the two null fits' ranks."""
    density = 'mass = "sidebands"\ncorrection = "none"\nnull_windows = 1\n'
    out = small_r_anode_run(tmp_path, 600, 0.1, density)
    cfg = load_config(tmp_path / "study.toml")
    sr = cfg.signal_regions[0]
    (inj,) = study_injections(cfg, load_inputs(cfg.data), 600, sr)
    from resonant_ad.data.regions import SignalRegion, near_sidebands
    from resonant_ad.data.spectrum import SidebandMassDensity

    files = list((out / "densities").glob("*.npz"))
    assert len(files) == 3  # the SR and its two windows
    below = SignalRegion(2.9, 3.3)
    in_below = inj.train.select(below.contains(inj.train.m))
    band = near_sidebands(inj.data, below, cfg.density.mass_width)
    expected = SidebandMassDensity(below.lo, below.hi, cfg.density.mass_width).fit(band.m)
    found = 0
    for file in files:
        with np.load(file) as d:
            if len(d["train"]) == len(in_below):
                assert len(d["test"]) == 0
                assert np.allclose(d["mass_train"], expected.log_prob(in_below.m))
                found += 1
    assert found == 1
    (f,) = json.loads((out / "signal_fraction.json").read_text())
    null = f["null"]
    assert [n["label"] for n in null["fits"]] == ["window [2.9, 3.3]", "window [3.7, 4.1]"]
    assert null["n"] == 2 and not null["stable"]  # two fits: not measured above zero
    spurious = np.array(null["spurious_w"])  # subtracted all the same, its size the systematic
    size = np.sqrt(spurious.mean() ** 2 + spurious.var(ddof=1) * 1.5)
    assert null["systematic"] == pytest.approx(size)
    lo, hi = null["total_interval"]
    assert null["w"] == pytest.approx(max(f["w"] - spurious.mean(), 0.0))
    assert lo <= f["w_lo"] and f["w"] <= hi  # reaches a fit that took in none of the misfit
    assert null["q0"] == f["q0"] >= 0
    assert min(abs(null["p_value"] - p) for p in (1 / 3, 2 / 3, 1.0)) < 1e-12
    assert f["covers_total"] == (lo <= f["true_w"] <= hi)
    assert "2 null fits" in (out / "signal_fraction.txt").read_text()
