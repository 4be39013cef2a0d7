"""Command-line options shared by the commands that run a study or a scan: where it runs."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_execution_options", "executor_from_args"]


def add_execution_options(parser: Any) -> None:
    """``--workers N`` and ``--scheduler ADDRESS`` (see :func:`~.engine.open_executor`)."""
    g = parser.add_argument_group("execution")
    g.add_argument(
        "--workers",
        type=int,
        default=1,
        help="run the study's pieces in N local worker processes (default 1: in this process)",
    )
    g.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on an existing dask.distributed scheduler (e.g. tcp://host:8786, or one "
        "started by dask-jobqueue on SLURM/HTCondor)",
    )
    g.add_argument(
        "--threads-per-worker",
        type=int,
        help="torch/OpenMP threads of each worker (default: the cores divided among workers)",
    )


def executor_from_args(args: argparse.Namespace) -> Any:
    """The executor context manager the parsed options ask for (checked here, before any
    input is read)."""
    from resonant_ad.errors import InputError
    from resonant_ad.search.engine import open_executor

    if args.workers < 1:
        raise InputError(f"--workers {args.workers}: need at least one")
    if args.threads_per_worker is not None and args.threads_per_worker < 1:
        raise InputError(f"--threads-per-worker {args.threads_per_worker}: need at least one")

    return open_executor(args.workers, args.scheduler, threads_per_worker=args.threads_per_worker)
