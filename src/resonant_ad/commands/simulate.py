"""``resonant-ad simulate``: generate QCD or signal events in the LHC Olympics R&D format."""

from __future__ import annotations

import argparse
import logging
from typing import Any

__all__ = ["register", "run"]

logger = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    """Add the ``simulate`` subcommand."""
    parser = subparsers.add_parser(
        "simulate",
        help="generate Pythia 8 events (QCD dijets or W' -> X Y) as an LHCO-format .h5 file",
        description=(
            "Generate events with Pythia 8 (MPI off, 13 TeV), cluster anti-kT R=1.0 jets of the "
            "visible final state with FastJet, keep events with two jets in |eta| < 2.5 and a "
            "leading jet pT > 1.2 TeV, and write the LHC Olympics R&D columns (GeV). Work is "
            "sharded: an interrupted run resumes where it stopped."
        ),
    )
    parser.add_argument("--process", required=True, help="qcd or signal")
    parser.add_argument("--events", type=int, required=True, help="selected events to write")
    parser.add_argument("--out", required=True, help="output file (.h5)")
    parser.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    parser.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    parser.add_argument(
        "--mjj-window",
        type=float,
        nargs=2,
        metavar=("LO", "HI"),
        help="keep LO <= mjj <= HI (TeV); QCD is generated with mHat in [LO-0.9, HI+1.0] TeV",
    )
    parser.add_argument("--mass-resonance", type=float, default=3500.0, help="W' mass (GeV)")
    parser.add_argument("--mass-x", type=float, default=500.0, help="X mass (GeV)")
    parser.add_argument("--mass-y", type=float, default=100.0, help="Y mass (GeV)")
    parser.add_argument("--prongs-x", type=int, default=2, help="X -> qq (2) or qqg (3)")
    parser.add_argument("--tune", default="data", help="data (Pythia default) or sim")
    parser.add_argument(
        "--pthat-min", type=float, default=None, help="QCD PhaseSpace:pTHatMin (GeV)"
    )
    parser.add_argument(
        "--shard-size", type=int, default=None, help="selected events per shard (default 1000)"
    )
    parser.add_argument("--shard-dir", default=None, help="shard directory (default OUT.shards)")
    parser.add_argument("--keep-shards", action="store_true", help="keep shards after merging")
    parser.add_argument(
        "--merge-only",
        action="store_true",
        help="merge the finished shards into OUT without generating more",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate the arguments, run the simulation and log a one-line summary."""
    from resonant_ad.data.simulate.pythia import QCD_PTHAT_MIN, GeneratorConfig, SignalModel
    from resonant_ad.data.simulate.runner import DEFAULT_SHARD_SIZE, simulate

    window = None
    if args.mjj_window is not None:
        window = (1000.0 * args.mjj_window[0], 1000.0 * args.mjj_window[1])
    config = GeneratorConfig(
        process=args.process,
        signal=SignalModel(args.mass_resonance, args.mass_x, args.mass_y, args.prongs_x),
        tune=args.tune,
        mjj_window=window,
        pthat_min=QCD_PTHAT_MIN if args.pthat_min is None else args.pthat_min,
    )
    summary = simulate(
        config,
        n_events=args.events,
        out=args.out,
        seed=args.seed,
        workers=args.workers,
        shard_size=DEFAULT_SHARD_SIZE if args.shard_size is None else args.shard_size,
        shard_dir=args.shard_dir,
        keep_shards=args.keep_shards,
        progress=not args.no_progress,
        merge_only=args.merge_only,
    )
    print(
        f"{summary.out}: {summary.n_selected} events from {summary.n_generated} generated "
        f"(pass rate {summary.pass_rate:.3f}), {summary.n_shards} shards, "
        f"{summary.cpu_seconds:.1f} CPU s in shards"
    )
    return 0
