"""The ``resonant-ad`` command line: a thin layer over the library.

Each subcommand lives in its own module that exposes ``register(subparsers)``; the module
adds its parser and sets ``func`` (a callable taking the parsed arguments and returning an
exit code). Library errors (:class:`~resonant_ad.errors.ResonantADError`) are shown as one
line, never as a traceback.

The commands that write a run folder (:data:`RUN_FOLDER_COMMANDS`) get it checked and
locked here, before any data are read: ``--out`` must be a folder that can be created and
written, and one run at a time may use it (a second run on the same folder stops at once,
saying so, instead of racing the first over the same files). Log lines are written through
the progress bars, and the bars are left out where standard error is not a terminal (a log
file), so the two never interleave.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from resonant_ad import __version__
from resonant_ad.errors import InputError, ResonantADError

__all__ = ["build_parser", "main"]

# Modules that each add one subcommand, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "resonant_ad.commands.demo",
    "resonant_ad.commands.describe",
    "resonant_ad.commands.simulate",
    "resonant_ad.commands.run",
    "resonant_ad.commands.scan",
    "resonant_ad.commands.limits",
    "resonant_ad.commands.sensitivity",
    "resonant_ad.commands.injection_test",
)
RUN_FOLDER_COMMANDS: tuple[str, ...] = ("demo", "run", "scan", "sensitivity", "injection-test")
"""The subcommands whose ``--out`` is a run folder (checked and locked before they start)."""
LOCK_NAME = ".resonant-ad.lock"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="resonant-ad",
        description="Weakly supervised resonant anomaly detection (SIGMA and friends).",
    )
    parser.add_argument("--version", action="version", version=f"resonant-ad {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


@contextlib.contextmanager
def run_folder(out: str | Path) -> Iterator[Path]:
    """``out`` created if needed, checked to be a writable folder and locked while the
    command runs (:class:`~resonant_ad.errors.InputError` in one line otherwise)."""
    from filelock import FileLock, Timeout

    path = Path(out)
    if path.exists() and not path.is_dir():
        raise InputError(f"--out {path} is a file, not a folder: choose another --out")
    try:
        path.mkdir(parents=True, exist_ok=True)
        lock = FileLock(path / LOCK_NAME, timeout=0)
        lock.acquire()
    except Timeout:
        raise InputError(
            f"--out {path} is in use by another resonant-ad run (it holds {path / LOCK_NAME}); "
            "wait for it or choose another --out"
        ) from None
    except OSError as err:
        raise InputError(f"cannot write to --out {path}: {err.strerror or err}") from None
    try:
        yield path
    finally:
        lock.release()


def _stdout_closed() -> int:
    """Exit quietly when the reader of standard output has gone (``... | head``)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush must not fail too
    return 141  # what a shell reports for a command ended by SIGPIPE


def main(argv: Sequence[str] | None = None) -> int:
    from tqdm.contrib.logging import logging_redirect_tqdm

    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("resonant_ad").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if hasattr(args, "no_progress") and not sys.stderr.isatty():
        args.no_progress = True  # bars in a log file are control characters
    try:
        with contextlib.ExitStack() as stack:
            if args.command in RUN_FOLDER_COMMANDS:
                stack.enter_context(run_folder(args.out))
            stack.enter_context(logging_redirect_tqdm())
            return int(args.func(args) or 0)
    except ResonantADError as err:
        print(f"resonant-ad {args.command}: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return _stdout_closed()
    except KeyboardInterrupt:
        print(f"resonant-ad {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
