"""Time the ODE batches on a CPU: the exact background log-densities of 100k SR events
(R-ANODE's expensive part) and the sampling of a template of 4x the SR data.

``log p_B(x | m)`` under ``sigma-context`` (a trained ``v_data`` interpolated into the SR
3.3-3.7 TeV) of 100,000 SR events of the Pythia dev sample (the extra SR QCD, the SR QCD and
the SR signal, shuffled), with the ``[density]`` default solver and batch, and with the
alternatives given; then ``--sample-events`` template events sampled in batches of 131072
(the default) and of 16384, twice each, on one thread (as a study's workers run). ``--model``: a
``v_data`` file of a study's run folder, e.g. one of ``benchmarks/density/ranode.py``
(``runs/ranode/models/vdata-*.pt``).

Usage: ``python benchmarks/density/logdensity.py --model runs/ranode/models/vdata-X.pt``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from resonant_ad.config import DataConfig, DensityConfig
from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion
from resonant_ad.flows.model import FlowMatchingModel
from resonant_ad.flows.ode import ODESolver
from resonant_ad.models.flow_matching import sigma_interpolation
from resonant_ad.search.inputs import load_inputs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True, help="a trained v_data (.pt)")
    p.add_argument("--data-dir", default="../shared/data/pythia-dev")
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--sample-events", type=int, default=117_000)
    p.add_argument(
        "--variants",
        nargs="*",
        default=["rk4:3:65536", "rk4:4:default"],
        help="more solver:steps:batch settings to time after the default",
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    d = Path(args.data_dir)
    inputs = load_inputs(
        DataConfig(events=d / "events.h5", extra_background=d / "extra_sr_background.h5")
    )
    assert inputs.extra_background is not None
    sr = SignalRegion(3.3, 3.7)
    model = FlowMatchingModel.load(args.model, device="cpu")
    interpolation = sigma_interpolation(model, "context", sr, sr.interpolation_masses(0.1))
    pool = Events.concatenate(
        [
            inputs.extra_background,
            inputs.background.select(sr.contains(inputs.background.m)),
            inputs.signal.select(sr.contains(inputs.signal.m)),
        ]
    )
    events = pool.select(np.random.default_rng(0).permutation(len(pool))[: args.events])
    dc = DensityConfig()
    runs = [(dc.solver, dc.solver_steps, None)]
    for v in args.variants:
        method, steps, batch = v.split(":")
        runs.append((method, int(steps), None if batch == "default" else int(batch)))
    print(
        f"log p_B(x | m) of {len(events)} SR events, sigma-context, {len(model.fields_)} "
        f"members, {args.threads} torch threads ({Path(args.model).name})"
    )
    for i, (method, steps, batch) in enumerate(runs):
        t0 = time.perf_counter()
        model.log_prob(
            events.x,
            events.m,
            interpolation=interpolation,
            solver=ODESolver(method, steps),
            batch_size=batch,
        )
        dt = time.perf_counter() - t0
        what = "the [density] default" if i == 0 else "alternative"
        print(
            f"  {method} {steps} steps, batch {batch or 'default (16384 on a CPU)'} ({what}): "
            f"{dt:.1f} s"
            + (f" (target <= 60 s: {'met' if dt <= 60 else 'MISSED'})" if i == 0 else "")
        )
    torch.set_num_threads(1)
    m = np.random.default_rng(1).choice(events.m, args.sample_events)
    print(f"sampling {args.sample_events} template events at SR masses, sigma-context, 1 thread:")
    for batch in (131072, 16384, 131072, 16384):
        t0 = time.perf_counter()
        model.sample(m, seed=0, interpolation=interpolation, batch_size=batch)
        dt = time.perf_counter() - t0
        default = " (the default)" if batch == 131072 else ""
        print(f"  batch {batch}{default}: {dt:.1f} s")


if __name__ == "__main__":
    main()
