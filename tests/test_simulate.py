"""The Pythia/FastJet simulator: output format, cuts, seeds, shards and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from resonant_ad.cli import main
from resonant_ad.data.simulate.pythia import (
    TUNE_SETTINGS,
    GeneratorConfig,
    SignalModel,
    pythia_seed,
    pythia_settings,
)
from resonant_ad.data.simulate.runner import plan_shards
from resonant_ad.errors import InputError

COLUMNS = [
    "pxj1", "pyj1", "pzj1", "mj1", "tau1j1", "tau2j1", "tau3j1",
    "pxj2", "pyj2", "pzj2", "mj2", "tau1j2", "tau2j2", "tau3j2", "label",
]  # fmt: skip


def kinematics(df: pd.DataFrame, jet: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pT, pseudorapidity and energy of jet 1 or 2 (float64)."""
    px, py, pz, m = (df[f"{c}j{jet}"].to_numpy(np.float64) for c in ("px", "py", "pz", "m"))
    pt = np.hypot(px, py)
    p = np.sqrt(pt**2 + pz**2)
    eta = 0.5 * np.log((p + pz) / (p - pz))
    return pt, eta, np.sqrt(p**2 + m**2)


def mjj(df: pd.DataFrame) -> np.ndarray:
    e = kinematics(df, 1)[2] + kinematics(df, 2)[2]
    px, py, pz = (
        df[f"{c}j1"].to_numpy(np.float64) + df[f"{c}j2"].to_numpy(np.float64)
        for c in ("px", "py", "pz")
    )
    return np.sqrt(e**2 - px**2 - py**2 - pz**2)


# ---------------------------------------------------------------- no Pythia needed


def test_settings_qcd_and_window() -> None:
    s = pythia_settings(GeneratorConfig("qcd", mjj_window=(3300.0, 3700.0)), 11)
    assert "HardQCD:all = on" in s
    assert "PartonLevel:MPI = off" in s
    assert "Beams:eCM = 13000" in s
    assert "Print:quiet = on" in s
    assert "PhaseSpace:mHatMin = 2400" in s
    assert "PhaseSpace:mHatMax = 4700" in s


def test_settings_signal_masses_and_tunes() -> None:
    s = pythia_settings(GeneratorConfig("signal", SignalModel(3000.0, 400.0, 80.0)), 1)
    assert "34:m0 = 3000" in s and "36:m0 = 400" in s and "37:m0 = 80" in s
    assert "34:oneChannel = 1 1.0 100 37 36" in s
    assert not any("HardQCD" in line for line in s)
    s3 = pythia_settings(GeneratorConfig("signal", SignalModel(prongs_x=3)), 1)
    assert any(line.startswith("36:oneChannel") and line.endswith(" 21") for line in s3)
    sim = pythia_settings(GeneratorConfig("qcd", tune="sim"), 1)
    assert set(TUNE_SETTINGS["sim"]) <= set(sim)
    assert set(sim) - set(pythia_settings(GeneratorConfig("qcd"), 1)) == set(TUNE_SETTINGS["sim"])


def test_shard_seeds_and_plan() -> None:
    seeds = {pythia_seed(5, i) for i in range(100)}
    assert len(seeds) == 100 and all(1 <= s <= 900_000_000 for s in seeds)
    assert pythia_seed(5, 0) != pythia_seed(6, 0)
    assert plan_shards(10, 4) == [4, 4, 2]
    with pytest.raises(InputError):
        plan_shards(0, 4)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (GeneratorConfig("signal", SignalModel(3500.0, 100.0, 100.0)), "below the X mass"),
        (GeneratorConfig("signal", SignalModel(3500.0, 100.0, 200.0)), "below the X mass"),
        (GeneratorConfig("signal", SignalModel(500.0, 450.0, 100.0)), "below the resonance"),
        (GeneratorConfig("signal", SignalModel(3500.0, -500.0, 100.0)), "must be positive"),
        (GeneratorConfig("signal", SignalModel(0.0, 500.0, 100.0)), "must be positive"),
        (GeneratorConfig("signal", SignalModel(prongs_x=4)), "2 or 3 prongs"),
        (GeneratorConfig("qcd", mjj_window=(3700.0, 3300.0)), "LO < HI"),
        (GeneratorConfig("qcd", mjj_window=(-1.0, 3300.0)), "LO < HI"),
        (GeneratorConfig("gluino"), "unknown process"),  # type: ignore[arg-type]
        (GeneratorConfig("qcd", tune="herwig"), "unknown tune"),  # type: ignore[arg-type]
    ],
)
def test_bad_config_raises_input_error(config: GeneratorConfig, message: str) -> None:
    with pytest.raises(InputError, match=message):
        config.validate()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--process", "qcd", "--events", "0"], "must be positive"),
        (["--process", "qcd", "--events", "-5"], "must be positive"),
        (["--process", "ttbar", "--events", "5"], "unknown process"),
        (["--process", "signal", "--events", "5", "--mass-y", "600"], "below the X mass"),
        (["--process", "signal", "--events", "5", "--mass-x", "3500"], "below the resonance"),
        (["--process", "qcd", "--events", "5", "--mjj-window", "3.7", "3.3"], "LO < HI"),
        (["--process", "qcd", "--events", "5", "--workers", "0"], "at least 1"),
        (["--process", "qcd", "--events", "5", "--tune", "herwig"], "unknown tune"),
    ],
)
def test_cli_bad_input_is_one_line(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["simulate", *argv, "--out", str(tmp_path / "x.h5"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("resonant-ad simulate: error:")
    assert message in err
    assert not (tmp_path / "x.h5").exists()


def test_cli_output_must_be_h5(tmp_path: Path) -> None:
    assert (
        main(["simulate", "--process", "qcd", "--events", "5", "--out", str(tmp_path / "x.csv")])
        == 2
    )


# ---------------------------------------------------------------- with Pythia and FastJet

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")

from resonant_ad.data.simulate.runner import merge_shards, simulate  # noqa: E402


@pytest.fixture(scope="module")
def qcd_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("qcd") / "qcd.h5"
    simulate(GeneratorConfig("qcd"), 24, out, seed=3, shard_size=12, progress=False)
    return out


@pytest.fixture(scope="module")
def signal_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sig") / "signal.h5"
    simulate(GeneratorConfig("signal"), 60, out, seed=3, shard_size=30, progress=False)
    return out


def test_format_matches_lhco(qcd_file: Path) -> None:
    df = pd.read_hdf(qcd_file)
    assert list(df.columns) == COLUMNS
    assert len(df) == 24
    assert all(dtype == np.float32 for dtype in df.dtypes)
    assert np.all(df["label"] == 0.0)
    assert np.all(np.isfinite(df.to_numpy()))
    with pd.HDFStore(qcd_file, "r") as store:
        assert store.keys() == ["/df"]
    meta = json.loads(qcd_file.with_suffix(".json").read_text())
    assert meta["n_selected"] == 24 and meta["n_generated"] >= 24
    assert not qcd_file.with_name("qcd.h5.shards").exists()


def test_cuts_and_units(qcd_file: Path) -> None:
    df = pd.read_hdf(qcd_file)
    pt1, eta1, _ = kinematics(df, 1)
    pt2, eta2, _ = kinematics(df, 2)
    assert np.all(pt1 > 1200.0)  # GeV
    assert np.all(pt1 >= pt2)  # j1 is the leading jet
    assert np.all(np.abs(eta1) < 2.5) and np.all(np.abs(eta2) < 2.5)
    assert np.all((df["mj1"] > 0) & (df["mj1"] < 1500))  # GeV, not TeV
    assert 1500 < np.median(mjj(df)) < 6000
    for j in (1, 2):
        tau = df[[f"tau1j{j}", f"tau2j{j}", f"tau3j{j}"]].to_numpy()
        assert np.all(tau >= 0) and np.all(tau[:, 0] <= 1.0)
        assert np.all(np.diff(tau, axis=1) <= 1e-6)  # WTA kT axes: tau_N non-increasing


def test_signal_kinematics(signal_file: Path) -> None:
    df = pd.read_hdf(signal_file)
    assert len(df) == 60 and np.all(df["label"] == 1.0)
    m = mjj(df)
    assert 3000 < np.median(m) < 3700
    heavy = np.maximum(df["mj1"], df["mj2"]).to_numpy()
    light = np.minimum(df["mj1"], df["mj2"]).to_numpy()
    assert np.mean((heavy > 400) & (heavy < 600)) > 0.4
    assert np.mean((light > 60) & (light < 140)) > 0.3


def test_same_seed_same_events_any_worker_count(tmp_path: Path) -> None:
    runs = {}
    for workers, seed in ((1, 3), (2, 3), (1, 4)):
        out = tmp_path / f"w{workers}s{seed}.h5"
        simulate(
            GeneratorConfig("signal"),
            16,
            out,
            seed=seed,
            shard_size=8,
            workers=workers,
            progress=False,
        )
        runs[workers, seed] = pd.read_hdf(out)
    pd.testing.assert_frame_equal(runs[1, 3], runs[2, 3])
    assert not np.allclose(runs[1, 3].to_numpy(), runs[1, 4].to_numpy())


def test_resume_skips_finished_shards(tmp_path: Path, signal_file: Path) -> None:
    out = tmp_path / "sig.h5"
    shards = tmp_path / "shards"
    config = GeneratorConfig("signal")
    first = simulate(
        config, 60, out, seed=3, shard_size=30, shard_dir=shards, keep_shards=True, progress=False
    )
    assert first.shards_generated_now == 2
    pd.testing.assert_frame_equal(pd.read_hdf(out), pd.read_hdf(signal_file))
    # An interrupted run: the second shard never finished.
    (shards / "shard_00001.json").unlink()
    kept = (shards / "shard_00000.h5").stat().st_mtime_ns
    n, records = merge_shards(shards, tmp_path / "partial.h5")
    assert n == 30 and [r.index for r in records] == [0]
    second = simulate(
        config, 60, out, seed=3, shard_size=30, shard_dir=shards, keep_shards=True, progress=False
    )
    assert second.shards_generated_now == 1
    assert (shards / "shard_00000.h5").stat().st_mtime_ns == kept  # read back, not rewritten
    pd.testing.assert_frame_equal(pd.read_hdf(out), pd.read_hdf(signal_file))
    third = simulate(config, 60, out, seed=3, shard_size=30, shard_dir=shards, progress=False)
    assert third.shards_generated_now == 0
    assert not shards.exists()  # removed once everything is merged


def test_resume_refuses_other_settings(tmp_path: Path) -> None:
    shards = tmp_path / "shards"
    out = tmp_path / "sig.h5"
    simulate(
        GeneratorConfig("signal"),
        5,
        out,
        seed=1,
        shard_dir=shards,
        keep_shards=True,
        progress=False,
    )
    with pytest.raises(InputError, match="other settings"):
        simulate(GeneratorConfig("signal"), 5, out, seed=2, shard_dir=shards, progress=False)


def test_mjj_window_and_three_prongs(tmp_path: Path) -> None:
    out = tmp_path / "sr.h5"
    simulate(GeneratorConfig("qcd", mjj_window=(3300.0, 3700.0)), 6, out, seed=2, progress=False)
    m = mjj(pd.read_hdf(out))
    assert np.all((m >= 3299.0) & (m <= 3701.0))
    out3 = tmp_path / "sig3.h5"
    simulate(GeneratorConfig("signal", SignalModel(prongs_x=3)), 8, out3, seed=2, progress=False)
    df = pd.read_hdf(out3)
    assert len(df) == 8 and np.all(df["label"] == 1.0)


def test_cli_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli.h5"
    argv = ["simulate", "--process", "signal", "--events", "5", "--out", str(out), "--seed", "9"]
    assert main([*argv, "--tune", "sim", "--no-progress"]) == 0
    assert "5 events" in capsys.readouterr().out
    assert len(pd.read_hdf(out)) == 5


def test_generated_events_carry_hard_scales() -> None:
    from resonant_ad.data.simulate.pythia import generate_events, make_pythia

    events = generate_events(make_pythia(GeneratorConfig("qcd", pthat_min=1000.0), 1))
    for _ in range(3):
        event = next(events)
        assert event.pthat >= 1000.0
        assert event.mhat >= 2 * event.pthat - 1e-6
        assert event.particles.shape[1] == 4 and len(event.particles) > 50
        assert np.all(event.particles[:, 3] > 0)


def test_a_run_cut_short_merges_its_first_shards(tmp_path: Path) -> None:
    # Shard i does not depend on the total: a long run stopped early equals a short run.
    shards = tmp_path / "shards"
    config = GeneratorConfig("signal")
    simulate(
        config,
        12,
        tmp_path / "long.h5",
        seed=5,
        shard_size=4,
        shard_dir=shards,
        keep_shards=True,
        progress=False,
    )
    short = simulate(
        config, 8, tmp_path / "short.h5", seed=5, shard_size=4, shard_dir=shards, progress=False
    )
    assert short.shards_generated_now == 0 and short.n_selected == 8
    long_df, short_df = pd.read_hdf(tmp_path / "long.h5"), pd.read_hdf(tmp_path / "short.h5")
    pd.testing.assert_frame_equal(short_df, long_df.iloc[:8])
    assert (shards / "shard_00002.json").exists()  # the third shard is not deleted
