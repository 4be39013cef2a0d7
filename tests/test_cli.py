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


def test_entry_point_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "resonant_ad.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.startswith("resonant-ad ")
