"""The injection test of data without labels: the artificial bump, the template's uptake, the
scan's recovery, and the command on an unlabelled toy sample."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from resonant_ad.cli import main
from resonant_ad.data.bump import ArtificialBump, artificial_bump
from resonant_ad.data.events import Events
from resonant_ad.errors import InputError
from resonant_ad.search.counts import CutCount
from resonant_ad.search.injection_test import recovery, uptake


def _data(n: int = 40_000, seed: int = 0) -> Events:
    rng = np.random.default_rng(seed)
    m = 2.5 + rng.exponential(0.8, n)
    x = np.column_stack([rng.normal(0.5 * m, 1.0), rng.uniform(0, 1, n)])
    return Events(m, x, rng.integers(0, 2, n), ("a", "b"))


def test_the_bump_is_shaped_after_the_data_near_its_mass() -> None:
    data = _data()
    bump = artificial_bump(data, 3.5, quantiles=[0.2, 0.8], relative_spread=0.05)
    assert bump.width == pytest.approx(0.14)
    near = data.select(np.abs(data.m - 3.5) <= 0.28)
    assert bump.n_events == int(np.ceil(3.0 * np.sqrt(len(near))))
    assert bump.centre[0] == pytest.approx(np.quantile(near.x[:, 0], 0.2), abs=0.01)
    assert bump.centre[1] == pytest.approx(np.quantile(near.x[:, 1], 0.8), abs=0.01)
    assert bump.spread[1] == pytest.approx(0.05 * near.x[:, 1].std(), rel=1e-6)
    with pytest.raises(InputError, match="at least one event"):
        dataclasses.replace(bump, n_events=0)
    # the bump's events: a Gaussian in m, most of them in the core
    events = bump.sample(np.random.default_rng(1))
    assert events.m.mean() == pytest.approx(3.5, abs=0.03)
    assert events.m.std() == pytest.approx(0.14, rel=0.15)
    assert 0.85 < bump.in_core(events.x).mean() < 0.95  # two features within 2 sigma: 0.91
    with pytest.raises(InputError, match="only"):
        artificial_bump(data, 30.0)
    with pytest.raises(InputError, match="quantiles"):
        artificial_bump(data, 3.5, quantiles=1.0)


def test_injecting_the_bump_relabels_the_data_and_keeps_weights() -> None:
    data = _data(5_000).with_weight(np.full(5_000, 2.0))
    bump = dataclasses.replace(artificial_bump(data, 3.2), n_events=300)
    injected = bump.inject(data, seed=3)
    assert len(injected) == 5_300 and injected.n_signal == 300
    assert injected.weights().sum() == pytest.approx(2 * 5_000 + 300)
    again = bump.inject(data, seed=3)
    assert np.array_equal(again.m, injected.m)


def test_uptake_is_one_for_a_template_holding_the_bump_and_zero_without_it() -> None:
    data = _data(20_000).with_label(0)
    bump = ArtificialBump(3.5, 0.1, (1.75, 0.5), (0.1, 0.02), 500, ("a", "b"))
    sr = bump.inject(data, 0)
    sr = sr.select(np.abs(sr.m - 3.5) < 0.2)
    in_bump = sr.label == 1
    without = sr.select(~in_bump)
    core = bump.in_core(sr.x)
    # a template no different from the model's without the bump took up nothing
    blind = uptake("blind", bump, sr, without, without)
    assert blind.bump == np.sum(in_bump & core) and blind.data == np.sum(~in_bump & core)
    assert blind.template == blind.baseline == pytest.approx(blind.data * len(sr) / len(without))
    assert blind.fraction == 0
    # the window's own events against the data's alone: the whole bump, less the few data
    # events the normalisation moves
    learned = uptake("learned", bump, sr, sr, without)
    assert learned.template == pytest.approx(learned.bump + learned.data)
    assert 0.95 < learned.fraction <= 1.0
    variance = learned.template + blind.template * len(sr) / len(without)
    assert learned.uncertainty == pytest.approx(np.sqrt(variance) / learned.bump)


def test_recovery_compares_the_excess_with_the_bump_that_passed() -> None:
    cut = CutCount(0.01, 0.9, 150.0, 100.0, 6.0, 4.2, 90.0, true_signal=40.0)
    r = recovery("sigma-context", cut)
    assert r.excess == 50.0 and r.injected == 40.0
    assert r.uncertainty == pytest.approx(np.sqrt(100.0 + 36.0))
    assert r.pull == pytest.approx(10.0 / np.sqrt(136.0))


def test_injection_test_on_data_without_labels(tmp_path: Path) -> None:
    import pandas as pd

    from resonant_ad.data.lhco import write_lhco
    from resonant_ad.data.toy import make_toy_sample

    toy = make_toy_sample(20_000, 0, 0, seed=5)
    write_lhco(pd.concat([toy.background], ignore_index=True), tmp_path / "ev.h5")
    config = tmp_path / "c.toml"
    config.write_text(
        '[data]\nevents = "ev.h5"\n[study]\ndevice = "cpu"\n'
        '[model]\npreset = "tiny"\nmax_epochs = 2\n'
        "[classifier]\nensemble_size = 2\noversampling = 2\n"
        "[scan]\nm_min = 2.9\nm_max = 4.5\nwidth = 0.4\nstep = 0.4\nmargin = 0.1\n"
        'efficiencies = [0.1, 0.02]\nmethods = ["sigma-context"]\n'
    )
    out = tmp_path / "test"
    # a scan of data without signal labels has no signal to inject: one line says so
    assert main(["scan", str(config), "--out", str(tmp_path / "s"), "--n-sig", "5"]) == 2
    argv = ["injection-test", str(config), "--out", str(out), "--mass", "3.5"]
    assert main([*argv, "--significance", "12", "--spread", "0.05", "--no-progress"]) == 0
    result = json.loads((out / "injection_test.json").read_text())
    scans = json.loads((out / "scan.json").read_text())["scans"]
    assert [s["method"] for s in scans] == ["data", "sigma-context"]
    assert [u["method"] for u in result["uptake"]] == ["data", "sigma-context"]
    lo, hi = result["signal_region"]
    assert lo <= 3.5 <= hi
    window = next(w for w in scans[1]["windows"] if w["signal_region"] == [lo, hi])
    assert result["bump_in_window"] == window["n_signal_true"] > 0.5 * result["bump"]["n_events"]
    # every cut of every method in the bump's window, its injected count the bump that passed
    assert len(result["recovery"]) == 2 * 2
    for r, c in zip(result["recovery"][2:], window["counts"], strict=True):
        assert r["injected"] == c["true_signal"]
        assert r["excess"] == pytest.approx(c["observed"] - c["expected"])
    # a compact bump of S/sqrt(B) = 12: the classifier against the interpolation sees it
    assert max(r["significance"] for r in result["recovery"][2:]) > 3
