"""Sharded, resumable, multi-process event generation writing LHCO-format HDF5 files."""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from resonant_ad.data.lhco import write_lhco
from resonant_ad.data.simulate.jets import COLUMNS, JetSelection, event_row, select_event
from resonant_ad.data.simulate.pythia import (
    GeneratorConfig,
    generate_events,
    make_pythia,
    pythia_seed,
)
from resonant_ad.errors import InputError
from resonant_ad.storage import write_atomic

__all__ = [
    "DEFAULT_SHARD_SIZE",
    "ShardResult",
    "ShardTask",
    "SimulationSummary",
    "merge_shards",
    "plan_shards",
    "run_shard",
    "selection_for",
    "simulate",
]

logger = logging.getLogger(__name__)

#: Selected events per shard: the unit of resumption and of work per process.
DEFAULT_SHARD_SIZE = 1000


@dataclass(frozen=True)
class ShardTask:
    """Everything one worker needs to produce one shard file."""

    config: GeneratorConfig
    selection: JetSelection
    index: int
    n_events: int
    pythia_seed: int
    path: str
    label: float


@dataclass(frozen=True)
class ShardResult:
    """What a finished shard reports (also stored next to it as JSON)."""

    index: int
    n_selected: int
    n_generated: int
    pythia_seed: int
    cpu_seconds: float
    wall_seconds: float


@dataclass(frozen=True)
class SimulationSummary:
    """The outcome of :func:`simulate`: counts, seeds and timings of every shard merged."""

    out: str
    n_selected: int
    n_generated: int
    n_shards: int
    shards_generated_now: int
    cpu_seconds: float
    wall_seconds: float

    @property
    def pass_rate(self) -> float:
        return self.n_selected / self.n_generated if self.n_generated else 0.0


def selection_for(config: GeneratorConfig) -> JetSelection:
    """The LHCO selection, with the config's ``mjj`` window if it has one."""
    return JetSelection(mjj_window=config.mjj_window)


def plan_shards(n_events: int, shard_size: int) -> list[int]:
    """Events per shard: ``shard_size`` each, the remainder in the last one.

    >>> plan_shards(2500, 1000)
    [1000, 1000, 500]
    """
    if n_events <= 0:
        raise InputError(f"the number of events must be positive, got {n_events}")
    if shard_size <= 0:
        raise InputError(f"the shard size must be positive, got {shard_size}")
    n_shards = math.ceil(n_events / shard_size)
    return [min(shard_size, n_events - i * shard_size) for i in range(n_shards)]


def _shard_paths(shard_dir: Path, index: int) -> tuple[Path, Path]:
    stem = shard_dir / f"shard_{index:05d}"
    return stem.with_suffix(".h5"), stem.with_suffix(".json")


def run_shard(task: ShardTask, on_event: Callable[[], None] | None = None) -> ShardResult:
    """Generate one shard: events until ``task.n_events`` pass the selection, then write them.

    The HDF5 file is written first and the JSON record second, so a shard counts as finished
    only when its JSON exists.
    """
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    pythia = make_pythia(task.config, task.pythia_seed)
    rows: list[list[float]] = []
    n_generated = 0
    give_up = 500 * task.n_events + 20_000
    for event in generate_events(pythia):
        n_generated += 1
        jets = select_event(event.particles, task.selection)
        if jets is not None:
            rows.append(event_row(jets[0], jets[1], task.label))
            if on_event is not None:
                on_event()
            if len(rows) >= task.n_events:
                break
        if n_generated >= give_up:
            raise InputError(
                f"only {len(rows)} of {n_generated} generated events pass the selection; "
                "check the mjj window and masses"
            )
    h5_path = Path(task.path)
    write_lhco(pd.DataFrame(rows, columns=list(COLUMNS)), h5_path, dtype=np.float32)
    result = ShardResult(
        index=task.index,
        n_selected=len(rows),
        n_generated=n_generated,
        pythia_seed=task.pythia_seed,
        cpu_seconds=time.process_time() - start_cpu,
        wall_seconds=time.perf_counter() - start_wall,
    )
    json_path = h5_path.with_suffix(".json")
    write_atomic(json_path, lambda tmp: tmp.write_text(json.dumps(asdict(result))))
    return result


def _finished(task: ShardTask) -> ShardResult | None:
    h5_path, json_path = Path(task.path), Path(task.path).with_suffix(".json")
    if not (h5_path.exists() and json_path.exists()):
        return None
    record = json.loads(json_path.read_text())
    if record.get("pythia_seed") != task.pythia_seed or record.get("n_selected") != task.n_events:
        return None
    return ShardResult(**record)


def _manifest(config: GeneratorConfig, seed: int, shard_size: int) -> dict[str, Any]:
    # Not the event count: shard i is the same for any total, so a run can be extended or
    # cut short (merge the first K shards with --events K * shard_size).
    return {
        "config": config.to_dict(),
        "selection": asdict(selection_for(config)),
        "seed": seed,
        "shard_size": shard_size,
        "columns": list(COLUMNS),
    }


def _check_manifest(shard_dir: Path, manifest: dict[str, Any]) -> None:
    path = shard_dir / "manifest.json"
    expected = json.loads(json.dumps(manifest))  # normalise tuples to lists
    if path.exists():
        found = json.loads(path.read_text())
        if found != expected:
            raise InputError(
                f"the shard directory {shard_dir} holds shards made with other settings; "
                "delete it or choose another --shard-dir"
            )
    else:
        path.write_text(json.dumps(expected, indent=1))


def merge_shards(
    shard_dir: str | Path, out: str | Path, indices: list[int] | None = None
) -> tuple[int, list[ShardResult]]:
    """Merge the finished shards in ``shard_dir`` (in shard order) into ``out``.

    ``indices`` restricts the merge to those shards (default: every finished one). Unfinished
    shards are skipped, so an interrupted run can be merged as it stands. Returns the number of
    events written and the records of the merged shards.
    """
    shard_dir = Path(shard_dir)
    records: list[ShardResult] = []
    frames: list[pd.DataFrame] = []
    wanted = None if indices is None else set(indices)
    for json_path in sorted(shard_dir.glob("shard_*.json")):
        h5_path = json_path.with_suffix(".h5")
        if not h5_path.exists():
            continue
        if wanted is not None and int(json_path.stem.split("_")[1]) not in wanted:
            continue
        records.append(ShardResult(**json.loads(json_path.read_text())))
        frames.append(pd.read_hdf(h5_path, key="df"))
    if not frames:
        raise InputError(f"no finished shards in {shard_dir}")
    frame = pd.concat(frames, ignore_index=True)
    write_lhco(frame, out, dtype=np.float32)
    return len(frame), records


def _extra_shards(shard_dir: Path, planned: dict[int, ShardResult]) -> bool:
    """Whether ``shard_dir`` holds shards beyond this run's plan (kept, not deleted)."""
    return any(int(p.stem.split("_")[1]) not in planned for p in shard_dir.glob("shard_*.json"))


def _progress_bar(total: int, initial: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="ev", disable=not enabled)


def simulate(
    config: GeneratorConfig,
    n_events: int,
    out: str | Path,
    seed: int = 0,
    workers: int = 1,
    shard_size: int = DEFAULT_SHARD_SIZE,
    shard_dir: str | Path | None = None,
    keep_shards: bool = False,
    progress: bool = True,
    merge_only: bool = False,
) -> SimulationSummary:
    """Generate ``n_events`` selected events of ``config`` into the LHCO-format file ``out``.

    Work is split into shards of ``shard_size`` selected events; shard ``i`` is generated with
    Pythia seed ``pythia_seed(seed, i)``, so the output depends on ``seed`` and
    ``shard_size`` only, not on ``workers``. Each shard is written to ``shard_dir`` (default
    ``OUT.shards/``) as it finishes; running again with the same settings skips finished shards
    (resume). At the end the shards are merged into ``out`` and a JSON summary is written to
    ``OUT`` with suffix ``.json``; the shard directory is deleted unless ``keep_shards``.
    ``merge_only`` merges the finished shards without generating any more.
    """
    config.validate()
    if workers < 1:
        raise InputError(f"workers must be at least 1, got {workers}")
    if seed < 0:
        raise InputError(f"the seed must be non-negative, got {seed}")
    out = Path(out)
    if out.suffix not in (".h5", ".hdf5"):
        raise InputError(f"the output file must end in .h5, got {out}")
    out.parent.mkdir(parents=True, exist_ok=True)
    sizes = plan_shards(n_events, shard_size)
    shard_dir = Path(shard_dir) if shard_dir is not None else out.with_name(out.name + ".shards")
    shard_dir.mkdir(parents=True, exist_ok=True)
    _check_manifest(shard_dir, _manifest(config, seed, shard_size))

    label = 1.0 if config.process == "signal" else 0.0
    selection = selection_for(config)
    tasks = [
        ShardTask(
            config=config,
            selection=selection,
            index=i,
            n_events=size,
            pythia_seed=pythia_seed(seed, i),
            path=str(_shard_paths(shard_dir, i)[0]),
            label=label,
        )
        for i, size in enumerate(sizes)
    ]
    done = {t.index: r for t in tasks if (r := _finished(t)) is not None}
    todo = [t for t in tasks if t.index not in done]
    start = time.perf_counter()
    if done:
        logger.info("resuming: %d of %d shards already finished", len(done), len(tasks))
    if not merge_only and todo:
        initial = sum(r.n_selected for r in done.values())
        with _progress_bar(n_events, initial, f"{config.process}", progress) as bar:
            if workers == 1 or len(todo) == 1:
                for task in todo:
                    done[task.index] = run_shard(task, on_event=lambda: bar.update(1))
            else:
                context = multiprocessing.get_context("spawn")
                pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
                try:
                    pending: set[Future[ShardResult]] = {
                        pool.submit(run_shard, task) for task in todo
                    }
                    while pending:
                        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for future in finished:
                            result = future.result()
                            done[result.index] = result
                            bar.update(result.n_selected)
                except BaseException:
                    # Interrupted or failed: drop the queued shards; finished ones are kept.
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
                pool.shutdown(wait=True)
    n_written, records = merge_shards(shard_dir, out, sorted(done))
    wall = time.perf_counter() - start
    summary = SimulationSummary(
        out=str(out),
        n_selected=n_written,
        n_generated=sum(r.n_generated for r in records),
        n_shards=len(records),
        shards_generated_now=len(todo) if not merge_only else 0,
        cpu_seconds=sum(r.cpu_seconds for r in records),
        wall_seconds=wall,
    )
    meta = {
        **_manifest(config, seed, shard_size),
        "n_events": n_events,
        "workers": workers,
        "n_selected": summary.n_selected,
        "n_generated": summary.n_generated,
        "pass_rate": summary.pass_rate,
        "n_shards_merged": summary.n_shards,
        "n_shards_planned": len(tasks),
        "cpu_seconds_all_shards": summary.cpu_seconds,
        "shards": [asdict(r) for r in records],
    }
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    if len(records) == len(tasks) and not keep_shards and not _extra_shards(shard_dir, done):
        for path in shard_dir.glob("shard_*"):
            path.unlink()
        (shard_dir / "manifest.json").unlink(missing_ok=True)
        try:
            shard_dir.rmdir()
        except OSError:
            logger.warning("could not remove %s", shard_dir)
    logger.info(
        "%s: %d events (%d generated, pass rate %.3f) in %.1f s",
        out,
        summary.n_selected,
        summary.n_generated,
        summary.pass_rate,
        wall,
    )
    return summary
