"""``resonant-ad describe``: what a user runs first on a new LHCO-format file."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["register"]

HELP = "summarise an LHCO-format file (counts, mjj spectrum, features)"
DESCRIPTION = (
    "Print event counts, the mjj range and quantiles, the fraction of events "
    "in the signal region and per-feature summaries of an LHCO-format file."
)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from resonant_ad.data.describe import describe_frame, format_description
    from resonant_ad.data.regions import SignalRegion
    from resonant_ad.errors import InputError

    if args.max_events is not None and args.max_events <= 0:
        raise InputError(f"--max-events {args.max_events}: must be positive")
    if args.checksum:
        if args.toy:
            raise InputError("--checksum needs a file")
        from resonant_ad.data.lhco import content_sha256

        raw = pd.read_hdf(args.file, key=args.key) if args.key else pd.read_hdf(args.file)
        assert isinstance(raw, pd.DataFrame)
        print(f"{content_sha256(raw.iloc[: args.max_events])}  {args.file}")
        return 0
    sr = SignalRegion(*args.signal_region)
    if args.toy:
        from resonant_ad.data.toy import make_toy_sample

        toy = make_toy_sample(100_000, 1_000, 0, seed=args.seed)
        df = pd.concat([toy.background, toy.signal], ignore_index=True)
        df = df.iloc[: args.max_events]
        title = f"toy events (seed {args.seed}): 100000 background + 1000 signal"
        if args.max_events is not None:
            title += f", the first {len(df)}"
    else:
        df = _read(args)
        title = f"{args.file}"
    summary = describe_frame(df, sr)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_description(summary, title))
    return 0


def _read(args: argparse.Namespace) -> Any:
    """The file's events; ``--label`` only labels a file that has no labels of its own."""
    from resonant_ad.data.lhco import read_lhco
    from resonant_ad.errors import InputError

    try:
        df = read_lhco(args.file, max_events=args.max_events, key=args.key)
    except InputError as err:
        if args.label is None or "has no label column" not in str(err):
            raise
        return read_lhco(args.file, label=args.label, max_events=args.max_events, key=args.key)
    if args.label is not None:
        raise InputError(
            f"{args.file} has a label column of its own: --label is for a file without one"
        )
    return df


def register(sub: Any) -> None:
    p = sub.add_parser("describe", help=HELP, description=DESCRIPTION)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("file", nargs="?", help="LHCO-format pandas HDF5 file (GeV)")
    src.add_argument("--toy", action="store_true", help="describe toy events made on the fly")
    p.add_argument(
        "--label", type=int, choices=(0, 1), help="label for a file with no label column"
    )
    p.add_argument("--max-events", type=int, help="read only the first N events")
    p.add_argument("--key", help="HDF5 key when the file holds several tables")
    p.add_argument(
        "--signal-region",
        nargs=2,
        type=float,
        default=(3.3, 3.7),
        metavar=("LO", "HI"),
        help="signal region in TeV (default 3.3 3.7)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the toy events")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument(
        "--checksum",
        action="store_true",
        help="print only the SHA-256 of the file's events (their values, not the file's bytes)",
    )
    p.set_defaults(func=run)
