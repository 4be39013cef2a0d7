"""The task engine: graph order and sharing, and the same results on Dask workers."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from resonant_ad.config import config_from_dict
from resonant_ad.data.lhco import write_lhco
from resonant_ad.data.toy import make_toy_sample
from resonant_ad.errors import InputError
from resonant_ad.report.outputs import write_study
from resonant_ad.search.engine import Graph, Ref, SerialExecutor, open_executor
from resonant_ad.search.inputs import load_inputs
from resonant_ad.search.study import run_study

calls: list[str] = []


def _record(name: str, *deps: int) -> int:
    calls.append(name)
    return 1 + sum(deps)


def test_graph_runs_each_shared_task_once_after_its_dependencies() -> None:
    calls.clear()
    g = Graph()
    model = g.task("model", _record, "model")
    a = g.task("template-a", _record, "a", model)
    b = g.task("template-b", _record, "b", model)
    assert g.task("model", _record, "other") == model  # same key: the same task
    top = g.task("top", _record, "top", a, b)
    assert SerialExecutor().compute(g, [top, a]) == [5, 2]
    assert calls[0] == "model" and calls[-1] == "top"
    assert sorted(calls) == ["a", "b", "model", "top"]
    with pytest.raises(InputError, match="not in the graph"):
        g.task("orphan", _record, "x", Ref("missing"))


def test_open_executor_checks_its_arguments() -> None:
    with pytest.raises(InputError, match="at least one"), open_executor(0):
        pass
    with open_executor(1) as ex:
        assert isinstance(ex, SerialExecutor)


@pytest.fixture(scope="module")
def toy_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("engine")
    toy = make_toy_sample(12_000, 2_000, 4_000, seed=21)
    write_lhco(pd.concat([toy.background, toy.signal], ignore_index=True), root / "events.h5")
    write_lhco(toy.extra_background, root / "extra.h5")
    return root


def test_two_dask_workers_give_the_serial_report(toy_study: Path, tmp_path: Path) -> None:
    cfg = config_from_dict(
        {
            "data": {
                "events": str(toy_study / "events.h5"),
                "extra_background": str(toy_study / "extra.h5"),
            },
            "study": {
                "signal_regions": [[3.3, 3.7], [3.4, 3.8]],
                "n_sig": [700],
                "n_injections": 2,
                "methods": ["cr", "sigma-context", "iad"],
                "device": "cpu",
                "seed": 4,
            },
            "model": {"preset": "tiny", "max_epochs": 2},
            "classifier": {"ensemble_size": 2, "oversampling": 2},
        }
    )
    inputs = load_inputs(cfg.data)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each worker: the same arithmetic, bit for bit
    try:
        serial = run_study(cfg, inputs, tmp_path / "serial", progress=False)
    finally:
        torch.set_num_threads(threads)
    with open_executor(2, threads_per_worker=1) as executor:
        parallel = run_study(cfg, inputs, tmp_path / "dask", executor=executor, progress=False)

    def numbers(result: object, out: Path) -> list[dict[str, object]]:
        write_study(result, out)
        rows = json.loads((out / "report.json").read_text())["results"]
        for r in rows:
            r.pop("seconds_per_sr")
        return sorted(rows, key=lambda r: (r["signal_region"], r["method"]))

    a, b = numbers(serial, tmp_path / "serial"), numbers(parallel, tmp_path / "dask")
    assert len(a) == 2 * 3 and a == b
    # the shared pieces were made once: one v_data per injection for both SRs (extra SR
    # background: the same training events), one v_CR per injection and SR
    models = sorted(p.name.split("-")[0] for p in (tmp_path / "dask" / "models").glob("*.pt"))
    assert models == ["cr"] * 4 + ["vdata"] * 2


@pytest.mark.parametrize("kind", ["SLURMCluster", "HTCondorCluster"])
def test_the_jobqueue_example_gives_single_task_workers_with_thread_limits(kind: str) -> None:
    import dask.config
    import dask_jobqueue
    import yaml

    example = Path(__file__).resolve().parents[1] / "configs" / "jobqueue.yaml"
    settings = yaml.safe_load(example.read_text())["jobqueue"]
    flat = {f"jobqueue.{q}.{k}": v for q, kv in settings.items() for k, v in kv.items()}
    with dask.config.set(flat):  # merged into the defaults, as dask.config.update does
        cluster = getattr(dask_jobqueue, kind)(scheduler_options={"dashboard_address": None})
        try:
            script = cluster.job_script()
        finally:
            cluster.close()
    assert "export OMP_NUM_THREADS=4" in script
    # one task at a time: the command line's last --nthreads wins over the cores default
    assert script.rsplit("--nthreads", 1)[1].split()[0].strip("'\"") == "1"
