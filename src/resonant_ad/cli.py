"""The ``resonant-ad`` command line: a thin layer over the library.

Each subcommand lives in its own module that exposes ``register(subparsers)``; the module
adds its parser and sets ``func`` (a callable taking the parsed arguments and returning an
exit code). Library errors (:class:`~resonant_ad.errors.ResonantADError`) are shown as one
line, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from resonant_ad import __version__
from resonant_ad.errors import ResonantADError

__all__ = ["build_parser", "main"]

# Modules that each add one subcommand, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "resonant_ad.commands.demo",
    "resonant_ad.commands.describe",
    "resonant_ad.commands.simulate",
    "resonant_ad.commands.run",
    "resonant_ad.commands.scan",
)


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("resonant_ad").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ResonantADError as err:
        print(f"resonant-ad {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"resonant-ad {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
