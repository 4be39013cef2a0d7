"""Command-line options shared by the commands that run a study or a scan (its config, its
output folder, progress bars and where it runs) and what those commands do first with
them."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from resonant_ad.config import StudyConfig
    from resonant_ad.search.inputs import StudyInputs

__all__ = [
    "add_config_options",
    "add_execution_options",
    "add_run_options",
    "executor_from_args",
    "open_config",
    "open_scan",
]


def add_config_options(parser: Any, config_help: str) -> None:
    """The positional ``config`` file and the ``--out`` folder a run needs."""
    parser.add_argument("config", help=config_help)
    parser.add_argument("--out", required=True, help="output folder (created; reused to resume)")


def add_run_options(parser: Any, func: Callable[[argparse.Namespace], int]) -> None:
    """``--no-progress`` and the execution options; ``func`` runs the parsed command."""
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_execution_options(parser)
    parser.set_defaults(func=func)


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


def open_config(args: argparse.Namespace) -> tuple[Any, StudyConfig]:
    """The executor of the parsed options (:func:`executor_from_args`) and the study config
    ``args.config`` with its methods checked, both before any data are read."""
    from resonant_ad.config import load_config
    from resonant_ad.search.checks import check_methods

    execution = executor_from_args(args)
    config = load_config(args.config)
    check_methods(config)
    return execution, config


def open_scan(
    args: argparse.Namespace, *, require_signal: bool = True
) -> tuple[Any, StudyConfig, StudyInputs]:
    """:func:`open_config` for the commands that scan: the scan range checked before the data
    are read, then the files of ``[data]`` (``require_signal=False``: data without signal
    labels too)."""
    from resonant_ad.search.inputs import load_inputs
    from resonant_ad.search.windows import check_scan_range

    execution, config = open_config(args)
    check_scan_range(config)
    return execution, config, load_inputs(config.data, require_signal=require_signal)
