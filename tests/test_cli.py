"""The command line: ``describe`` on LHCO-format files and toy data, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from resonant_ad.cli import main
from resonant_ad.data.toy import ToySample


def test_describe_file(
    lhco_file: Path, capsys: pytest.CaptureFixture[str], toy_sample: ToySample
) -> None:
    assert main(["describe", str(lhco_file)]) == 0
    out = capsys.readouterr().out
    n_b, n_s = len(toy_sample.background), len(toy_sample.signal)
    assert f"events: {n_b + n_s}  (background {n_b}, signal {n_s}" in out
    assert "in SR [3.3, 3.7] TeV" in out and "tau21_j1" in out and "delta_r" in out


def test_describe_json_numbers(lhco_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["describe", str(lhco_file), "--json", "--signal-region", "3.4", "3.6"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["signal_region"] == [3.4, 3.6]
    sig = s["classes"]["signal"]
    assert 0.4 < sig["fraction_in_signal_region"] < 0.9
    assert abs(sig["features"]["mj2"]["q0.5"] - 0.5) < 0.03
    bkg = s["classes"]["background"]
    assert bkg["mjj_quantiles"]["q0.01"] < bkg["mjj_quantiles"]["q0.5"] < bkg["mjj_max"]


def test_describe_toy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["describe", "--toy"]) == 0
    assert "100000 background + 1000 signal" in capsys.readouterr().out


def test_describe_reads_at_most_max_events(
    lhco_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (["--toy"], [str(lhco_file)]):
        assert main(["describe", *argv, "--json", "--max-events", "500"]) == 0
        assert json.loads(capsys.readouterr().out)["n_events"] == 500
    assert main(["describe", str(lhco_file), "--checksum"]) == 0
    whole = capsys.readouterr().out
    assert main(["describe", str(lhco_file), "--checksum", "--max-events", "500"]) == 0
    assert capsys.readouterr().out != whole


def test_describe_label_names_a_file_without_labels_only(
    lhco_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["describe", str(lhco_file), "--label", "1"]) == 2
    assert "has a label column of its own" in capsys.readouterr().err
    import pandas as pd

    unlabelled = tmp_path / "unlabelled.h5"
    pd.read_hdf(lhco_file).drop(columns="label").to_hdf(unlabelled, key="df")
    assert main(["describe", str(unlabelled), "--label", "1", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_signal"] == summary["n_events"] > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["describe", "missing.h5"], "no such file: missing.h5"),
        (["describe", "--toy", "--signal-region", "3.7", "3.3"], "lo must be below hi"),
        (["demo", "--out", "d", "--workers", "0"], "--workers 0: need at least one"),
    ],
)
def test_errors_are_one_line(argv: list[str], message: str, tmp_path: Path) -> None:
    # a real process: an uncaught exception would print its traceback to stderr
    out = subprocess.run(
        [sys.executable, "-m", "resonant_ad.cli", *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("command", "table", "message"),
    [
        ("run", '[study]\nmethods = ["magic"]\n', "[study] unknown method(s) ['magic']"),
        ("scan", '[scan]\nmethods = ["iad"]\n', "[scan] unknown method(s) ['iad']"),
        ("demo", '[density]\nbackground = "data"\n', "[density] background = 'data'"),
        ("run", "[method.cr]\nx = 1\n", "[method.cr]: cr has no settings of its own"),
    ],
)
def test_methods_the_registry_lacks_are_refused_before_the_data_are_read(
    command: str, table: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[data]\nevents = "missing.h5"\n{table}')
    option = "--config" if command == "demo" else None
    argv = [command, *([option] if option else []), str(config), "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "missing.h5" not in err and err.count("\n") == 1


def test_entry_point_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "resonant_ad.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.startswith("resonant-ad ")
