"""``--study profile``: R-ANODE's likelihood as a function of w with ``p_S`` trained afresh
at every w: where is its maximum, over SIGMA's background and over one trained on the true
SR background?

On the Pythia dev sample (SR 3.3-3.7 TeV), for each ``--n-sig`` and injection, the mixture
is fitted with ``w`` held fixed (``SignalMixture(fixed_w=w)``, the study's ``[density]``
settings otherwise: folds, epochs, tilt) at every ``w`` of ``--grid``, over two background
densities:

- ``sigma-context``: SIGMA's ``v_data`` interpolated into the SR (the study's model, read
  from ``--workdir``, e.g. the run folder of ``--study starts``);
- ``sr-trained``: the same flow-matching model trained on the true background in the SR
  (as in ``--study capture``; a yardstick that needs background-only SR events);
- ``sidebands`` (with ``--backgrounds``): SIGMA's density with the sideband correction
  (``[density] correction = "sidebands"``: ``_common.dev_sample.sideband_corrected``).

Each fit's held-out ``-2 log L`` (every event evaluated by the fold model that did not
train on it) against the grid's best gives the profile. Unlike the fitted ``w`` and its
scan, which keep ``p_S`` at the shape it learnt from one start, this is the likelihood's own
verdict on ``w``: its minimum should sit near the true ``w`` and near 0 with no signal.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import time
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import numpy as np

from _common.dev_sample import (
    background_inputs,
    fit_mixture,
    ranode_config,
    sideband_corrected,
    sr_fit_inputs,
    sr_trained_background,
)
from resonant_ad.density.mixture import SignalMixture
from resonant_ad.methods.registry import get
from resonant_ad.search.inputs import load_inputs
from resonant_ad.search.study import run_study, study_injections

DEFAULTS = {"n_sig": [0, 1000], "injections": 1, "workdir": "runs/ranode_starts"}
"""The defaults of the shared options of ``ranode.py`` for this study."""


def out_name(args: argparse.Namespace) -> str:
    return "ranode_profile_" + "_".join(args.backgrounds) + ".txt"


def run(args: argparse.Namespace) -> None:
    """The fits at every ``w`` of the grid over each background, side by side in processes."""
    logging.basicConfig(level=logging.WARNING)

    t0 = time.perf_counter()
    # the config of --study starts, whose run folder holds SIGMA's v_data
    density = {"background": "sigma-context", "w_init": [0.01, 0.05]}
    configs = {n: ranode_config(args, n_sig=n, density=density) for n in args.n_sig}
    cfg = configs[args.n_sig[0]]
    sr = cfg.signal_regions[0]
    inputs = load_inputs(cfg.data)
    ideal, ideal_line = None, ""
    if "sr-trained" in args.backgrounds:
        ideal, ideal_line = sr_trained_background(cfg, inputs)
        print(ideal_line, flush=True)
    params = cfg.density.mixture_params()
    jobs: dict[tuple[str, int, int], tuple[float, list[Future[SignalMixture]]]] = {}
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.workers, mp_context=context) as pool:
        for n_sig, n_cfg in configs.items():
            study = run_study(n_cfg, inputs, args.workdir, progress=False)
            for k, inj in enumerate(study_injections(n_cfg, inputs, n_sig, sr)):
                events, _, region = sr_fit_inputs(inj, n_cfg)
                sigma = study.model("sigma-context", n_sig, k)
                for name in args.backgrounds:
                    # the method that reads the model at the SR masses, and the model
                    method, model = (
                        (get("data"), ideal)
                        if name == "sr-trained"
                        else (get("sigma-context"), sigma)
                    )
                    log_bg, reference = background_inputs([(method, model)], region, events)
                    if name == "sidebands":
                        log_bg, reference = sideband_corrected(
                            log_bg, reference, sigma, inj, n_cfg, events
                        )
                    args_ = (events.x, events.m, log_bg, (sr.lo, sr.hi), reference)
                    futures = [
                        pool.submit(fit_mixture, *args_, {**params, "w_init": w, "fixed_w": w}, k)
                        for w in args.grid
                    ]
                    jobs[(name, n_sig, k)] = (events.n_signal / len(events), futures)
        lines = []
        for (name, n_sig, k), (true_w, futures) in jobs.items():
            results = [f.result() for f in futures]
            nll = np.array([r.held_out_nll_ for r in results])
            dev = 2 * (nll - nll.min())
            best = float(args.grid[int(np.argmin(nll))])
            lines.append(
                f"{name:13s} N_sig {n_sig:4d} injection {k} true w {true_w:.4f}: minimum at "
                f"w {best:g}; -2 Delta log L "
                + ", ".join(f"{w:g}: {d:.1f}" for w, d in zip(args.grid, dev, strict=True))
                + f" ({sum(r.fit_seconds_ for r in results):.0f} s of fits)"
            )
            print(lines[-1], flush=True)
    head = (
        f"bench_ranode_profile: dev sample, SR [{sr.lo}, {sr.hi}] TeV, background models "
        f"{args.epochs} epochs (cpu preset), mixture fits at fixed w with {params}; "
        f"wall time {time.perf_counter() - t0:.0f} s",
        *([ideal_line] if ideal_line else []),
    )
    text = "\n".join([*head, "", *lines])
    print(text)
    Path(args.out).write_text(text + "\n")
