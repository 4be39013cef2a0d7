"""The command line's run folder (checked and locked before data are read), a closed standard
output, and logging through the progress bars."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pytest
from filelock import FileLock

from resonant_ad import cli
from resonant_ad.cli import LOCK_NAME, main


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config whose data file does not exist: a command that reached the data would say so."""
    path = tmp_path / "c.toml"
    path.write_text('[data]\nevents = "missing.h5"\n')
    return path


@pytest.mark.parametrize("command", ["run", "scan"])
def test_out_a_regular_file_is_refused_in_one_line_before_the_data(
    command: str, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    regular = tmp_path / "regular.txt"
    regular.write_text("x")
    assert main([command, str(config), "--out", str(regular), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file, not a folder" in err and "missing.h5" not in err
    assert main([command, str(config), "--out", str(regular / "sub"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write to --out" in err


def test_a_folder_in_use_by_another_run_is_refused_and_freed_after(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with FileLock(out / LOCK_NAME):
        assert main(["run", str(config), "--out", str(out), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert "in use by another resonant-ad run" in err and "missing.h5" not in err
    # the lock released, the run goes on to the data (and stops there, for want of them)
    assert main(["run", str(config), "--out", str(out), "--no-progress"]) == 2
    assert "missing.h5" in capsys.readouterr().err
    with FileLock(out / LOCK_NAME, timeout=0):  # and the failed run released it again
        pass


class _ReaderGone:
    """A standard output whose reader has gone (``resonant-ad describe --json | head``)."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_standard_output_ends_quietly(
    monkeypatch: pytest.MonkeyPatch, lhco_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    closed: list[bool] = []
    monkeypatch.setattr(cli, "_stdout_closed", lambda: closed.append(True) or 141)
    monkeypatch.setattr("sys.stdout", _ReaderGone())
    assert main(["describe", str(lhco_file), "--json"]) == 141
    assert closed == [True] and "Traceback" not in capsys.readouterr().err


def test_log_lines_go_through_the_progress_bars_and_bars_leave_log_files(
    monkeypatch: pytest.MonkeyPatch, config: Path, tmp_path: Path
) -> None:
    seen: dict[str, object] = {}

    def spy(args: argparse.Namespace) -> int:
        from tqdm.contrib.logging import _TqdmLoggingHandler

        seen["no_progress"] = args.no_progress
        seen["tqdm"] = any(isinstance(h, _TqdmLoggingHandler) for h in logging.root.handlers)
        return 0

    monkeypatch.setattr("resonant_ad.commands.run.run", spy)
    handler = logging.StreamHandler()  # a console handler, as logging.basicConfig makes
    logging.root.addHandler(handler)
    try:
        assert main(["run", str(config), "--out", str(tmp_path / "o")]) == 0
    finally:
        logging.root.removeHandler(handler)
    assert seen == {"no_progress": True, "tqdm": True}  # pytest's stderr is not a terminal
