"""One engine for studies and scans: a graph of cached tasks, run serially or on Dask.

A study or a scan is a :class:`Graph` of tasks: trained models, templates, classifier
scores, scan windows. Each task's key is the fingerprint of the settings and the events it
really used, and each task stores what it made in the run folder under that key
(:class:`~resonant_ad.search.cache.Cache`), so the folder stays the source of truth: a task
already finished is read back, a re-run resumes, and a worker that dies costs only the task
it was running. Randomness comes from seeds fixed when the graph is built (named streams,
:mod:`resonant_ad.search.seeds`), so results do not depend on where a task ran.

Executors: :class:`SerialExecutor` (in this process, in dependency order) and
:class:`DaskExecutor` (``dask.distributed``: a local process pool, an existing scheduler, or
a ``dask-jobqueue`` cluster). :func:`open_executor` picks one from ``--workers`` and
``--scheduler``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from resonant_ad.errors import InputError

__all__ = [
    "DaskExecutor",
    "Executor",
    "Graph",
    "Ref",
    "SerialExecutor",
    "open_executor",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ref:
    """A reference to the result of the task ``key`` (an argument of another task)."""

    key: str


@dataclass(frozen=True)
class _Task:
    fn: Callable[..., Any] | None
    args: tuple[Any, ...]
    value: Any = None
    """The value of an input node (``fn`` is ``None``)."""


class Graph:
    """Tasks by key. Adding a task whose key is already there returns the existing one,
    so pieces that many others share (one ``v_data`` for every SR) are computed once.

    >>> g = Graph()
    >>> a = g.input("a", 2)
    >>> b = g.task("b", pow, a, 10)
    >>> g.task("b", pow, a, 3) == b, len(g)
    (True, 2)
    >>> SerialExecutor().compute(g, [b])
    [1024]
    """

    def __init__(self) -> None:
        self.tasks: dict[str, _Task] = {}

    def __len__(self) -> int:
        return len(self.tasks)

    def input(self, key: str, value: Any) -> Ref:
        """A value the tasks take as input (sent once to the workers that need it)."""
        if key not in self.tasks:
            self.tasks[key] = _Task(None, (), value)
        return Ref(key)

    def task(self, key: str, fn: Callable[..., Any], *args: Any) -> Ref:
        """``fn(*args)`` with every :class:`Ref` in ``args`` replaced by that task's result."""
        if key not in self.tasks:
            for a in args:
                if isinstance(a, Ref) and a.key not in self.tasks:
                    raise InputError(
                        f"task {key!r} depends on {a.key!r}, which is not in the graph"
                    )
            self.tasks[key] = _Task(fn, args)
        return Ref(key)

    def order(self, targets: Sequence[Ref]) -> list[str]:
        """The keys ``targets`` need, each after its dependencies."""
        out: list[str] = []
        seen: set[str] = set()
        for target in targets:
            stack: list[tuple[str, bool]] = [(target.key, False)]
            while stack:
                key, expanded = stack.pop()
                if expanded:
                    out.append(key)
                    continue
                if key in seen:
                    continue
                seen.add(key)
                stack.append((key, True))
                for a in reversed(self.tasks[key].args):
                    if isinstance(a, Ref) and a.key not in seen:
                        stack.append((a.key, False))
        return out


class Executor(Protocol):
    """Runs the tasks a graph's targets need and returns the targets' results."""

    def compute(
        self, graph: Graph, targets: Sequence[Ref], *, progress: bool = False
    ) -> list[Any]: ...


class SerialExecutor:
    """Every task in this process, in dependency order; a result is dropped once no task
    left needs it."""

    def compute(self, graph: Graph, targets: Sequence[Ref], *, progress: bool = False) -> list[Any]:
        from tqdm.auto import tqdm

        order = graph.order(targets)
        uses: dict[str, int] = {}
        for key in order:
            for a in graph.tasks[key].args:
                if isinstance(a, Ref):
                    uses[a.key] = uses.get(a.key, 0) + 1
        wanted = {t.key for t in targets}
        results: dict[str, Any] = {}
        work = [k for k in order if graph.tasks[k].fn is not None]
        with tqdm(total=len(work), desc="tasks", disable=not progress) as bar:
            for key in order:
                task = graph.tasks[key]
                if task.fn is None:
                    results[key] = task.value
                    continue
                args = [results[a.key] if isinstance(a, Ref) else a for a in task.args]
                results[key] = task.fn(*args)
                bar.update(1)
                for a in task.args:
                    if isinstance(a, Ref):
                        uses[a.key] -= 1
                        if uses[a.key] == 0 and a.key not in wanted:
                            del results[a.key]
        return [results[t.key] for t in targets]


class DaskExecutor:
    """The tasks on a ``dask.distributed`` cluster through ``client``.

    Inputs are scattered once; each task is submitted with its dependencies' futures, so
    the scheduler runs independent pieces (models of different injections and SRs) on
    different workers at once. A task whose worker dies is rerun elsewhere by the
    scheduler; what it had stored in the run folder is reused.
    """

    def __init__(self, client: Any) -> None:
        self.client = client

    def compute(self, graph: Graph, targets: Sequence[Ref], *, progress: bool = False) -> list[Any]:
        from distributed import as_completed
        from tqdm.auto import tqdm

        token = uuid.uuid4().hex[:8]  # keys unique to this computation on a shared cluster
        futures: dict[str, Any] = {}
        for key in graph.order(targets):
            task = graph.tasks[key]
            if task.fn is None:
                futures[key] = self.client.scatter(task.value, hash=False)
                continue
            args = [futures[a.key] if isinstance(a, Ref) else a for a in task.args]
            futures[key] = self.client.submit(task.fn, *args, key=f"{key}-{token}", pure=False)
        work = [f for k, f in futures.items() if graph.tasks[k].fn is not None]
        with tqdm(total=len(work), desc="tasks", disable=not progress) as bar:
            for future in as_completed(work):
                if future.status == "error":
                    future.result()  # raises the task's exception here
                bar.update(1)
        return list(self.client.gather([futures[t.key] for t in targets]))


def _set_worker_threads(n: int) -> None:
    """Limit torch's and the BLAS/OpenMP pools' threads in a worker process."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    threadpool_limits(limits=n)


@contextlib.contextmanager
def open_executor(
    workers: int = 1, scheduler: str | None = None, *, threads_per_worker: int | None = None
) -> Iterator[Executor]:
    """The executor for ``--workers N`` / ``--scheduler ADDRESS``.

    - ``scheduler``: connect to a running ``dask.distributed`` scheduler (for example one
      started by ``dask-jobqueue`` on SLURM or HTCondor) and run there;
    - ``workers > 1``: a local cluster of that many single-threaded worker processes, each
      with ``threads_per_worker`` torch and OpenMP threads (default: the cores divided
      among the workers), so that workers do not fight over cores;
    - otherwise the :class:`SerialExecutor`.
    """
    if workers < 1:
        raise InputError(f"--workers {workers}: need at least one")
    if scheduler is None and workers == 1:
        yield SerialExecutor()
        return
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError as err:  # pragma: no cover - dask is a dependency
        raise InputError("parallel execution needs dask.distributed installed") from err
    threads = threads_per_worker or max(1, (os.cpu_count() or 1) // max(workers, 1))
    env = {k: str(threads) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    with contextlib.ExitStack() as stack:
        if scheduler is not None:
            client = stack.enter_context(Client(scheduler))
        else:
            stack.enter_context(dask.config.set({"distributed.nanny.pre-spawn-environ": env}))
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
            )
            client = stack.enter_context(Client(cluster))
        client.run(_set_worker_threads, threads)
        log.info("running on %s", client)
        yield DaskExecutor(client)
