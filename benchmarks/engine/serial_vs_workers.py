"""A study on one process against the same study on two Dask workers: wall time side by side.

On the Pythia dev sample (``../shared/data/pythia-dev``): 2 SRs x 3 injections x 3 methods
(``cr``, ``sigma-context``, ``supervised``), no extra SR background (so each SR holds out its
own test background and trains its own ``v_data``): 6 ``v_data`` and 6 ``v_CR`` trainings,
every model the same number of epochs (``--epochs``). The serial run has all the machine's
cores as torch threads; the parallel run has ``--workers`` local worker processes with the
cores divided among them. Each run starts from an empty run folder. Prints both wall times
and the largest difference between the two reports' numbers (the arithmetic differs only by
the thread count, which changes float rounding).

Usage: ``python benchmarks/engine/serial_vs_workers.py [--epochs 10] [--workers 2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path
from typing import Any

import torch

from resonant_ad.config import config_from_dict
from resonant_ad.report.outputs import write_study
from resonant_ad.search.engine import open_executor
from resonant_ad.search.inputs import load_inputs
from resonant_ad.search.study import run_study

DEV = Path(__file__).resolve().parents[3] / "shared" / "data" / "pythia-dev"


def _numbers(out: Path) -> dict[tuple[Any, ...], dict[str, float | None]]:
    rows = json.loads((out / "report.json").read_text())["results"]
    return {
        (tuple(r["signal_region"]), r["n_sig"], r["method"]): {
            "sic": r["sic_at_fpr_1e-3"]["median"],  # None: beyond the statistical cut
            "max_sic": r["max_sic"]["median"],
            "auc": r["auc"]["median"],
        }
        for r in rows
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", type=Path, default=DEV)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--ensemble", type=int, default=5)
    p.add_argument("--workdir", type=Path, default=Path("/tmp/engine_serial_vs_workers"))
    p.add_argument(
        "--out", type=Path, default=Path("benchmarks/engine/results/serial_vs_two_workers.txt")
    )
    args = p.parse_args()

    cfg = config_from_dict(
        {
            "data": {"events": str(args.data / "events.h5")},
            "study": {
                "signal_regions": [[3.3, 3.7], [3.4, 3.8]],
                "n_sig": [1000],
                "n_injections": 3,
                "methods": ["cr", "sigma-context", "supervised"],
                "device": "cpu",
            },
            "model": {"preset": "cpu", "epochs": args.epochs},
            "classifier": {"ensemble_size": args.ensemble, "oversampling": 4},
        }
    )
    inputs = load_inputs(cfg.data)
    cores = os.cpu_count() or 1
    walls: dict[str, float] = {}
    tables: dict[str, str] = {}
    for name, workers in (("serial", 1), (f"{args.workers} workers", args.workers)):
        out = args.workdir / name.replace(" ", "-")
        shutil.rmtree(out, ignore_errors=True)
        torch.set_num_threads(cores)
        t0 = time.perf_counter()
        with open_executor(workers) as executor:
            result = run_study(cfg, inputs, out, executor=executor, progress=False)
        walls[name] = time.perf_counter() - t0
        tables[name] = write_study(result, out)
        print(f"{name}: {walls[name]:.0f} s", flush=True)
    a, b = (_numbers(args.workdir / n.replace(" ", "-")) for n in walls)
    diff = max(abs(a[k][q] - b[k][q]) for k in a for q in a[k] if None not in (a[k][q], b[k][q]))

    serial, parallel = walls.values()
    lines = [
        f"bench_engine: Pythia dev sample {args.data}: {len(inputs.background)} background, "
        f"{len(inputs.signal)} signal pool; SRs [3.3, 3.7] and [3.4, 3.8] TeV, N_sig = 1000, "
        f"3 injections, methods cr, sigma-context, supervised",
        f"cpu preset, {args.epochs} epochs for every model (12 trainings), "
        f"{args.ensemble} classifier members; {platform.processor() or platform.machine()}, "
        f"{cores} cores",
        "",
        f"{'execution':<12} {'wall [s]':>9}",
        f"{'serial':<12} {serial:>9.0f}   (one process, {cores} torch threads)",
        f"{args.workers} workers    {parallel:>9.0f}   (local Dask cluster, "
        f"{max(1, cores // args.workers)} thread(s) each)",
        f"speed-up: {serial / parallel:.2f}x",
        f"largest difference of a report number (SIC@1e-3, max SIC, AUC medians): {diff:.3g}",
        "",
        "serial report:",
        tables["serial"],
        "",
        f"{args.workers}-worker report:",
        tables[f"{args.workers} workers"],
    ]
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
