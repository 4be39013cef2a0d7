"""``--study variants``: does R-ANODE's fitted w move with the background's mass density or
the feature set?

On the Pythia dev sample at ``--n-sig`` (the injections of ``--study compare``; its run
folder ``--workdir`` holds SIGMA's ``v_data``), ``r-anode`` with the study's ``[density]``
settings over SIGMA's ``sigma-context`` background, with ``p(m)`` in the SR from:

- ``sr-data``: a KDE of all SR data masses (the study's choice; signal included);
- ``sideband-fit``: the dijet function fitted to the data's masses in 2.9-3.3 and 3.7-4.1
  TeV, normalised in the SR (no signal in its shape);
- ``true-background``: a KDE of the SR data's background masses (a yardstick that needs the
  labels; the published R-ANODE study used a histogram of them).

The tilt's reference events are the model's template, resampled to each ``p(m)``. Then
the whole study again with the ``lhco`` feature set (the four of CATHODE, ANODE and
R-ANODE: no ``dR``), its own ``v_data`` in ``--workdir``-lhco.

Run ``--study compare`` first.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from _common.dev_sample import ranode_config, sr_fit_inputs
from resonant_ad.data.events import Events
from resonant_ad.data.spectrum import DijetFit, MassDensity
from resonant_ad.density.background import REFERENCE_FACTOR
from resonant_ad.density.mixture import SignalMixture
from resonant_ad.methods.registry import get
from resonant_ad.report.density import signal_fractions
from resonant_ad.search.engine import open_executor
from resonant_ad.search.inputs import load_inputs
from resonant_ad.search.study import run_study, study_injections

DEFAULTS = {"n_sig": [1000]}
"""The defaults of the shared options of ``ranode.py`` for this study."""
MASS_DENSITIES = ("sr-data", "sideband-fit", "true-background")


def mass_densities(sr_data: Events, data: Events, sr: tuple[float, float]) -> dict[str, Callable]:
    """``log p(m)`` in the SR by each choice of :data:`MASS_DENSITIES`."""
    lo, hi = sr
    kde = MassDensity(lo, hi).fit(sr_data.m)
    truth = MassDensity(lo, hi).fit(sr_data.m[sr_data.label == 0])
    dijet = DijetFit.fit(data.m, ((2.9, lo), (hi, 4.1)))
    log_in_sr = float(np.log(dijet.fraction(lo, hi)))  # normalised in the SR, not the fit's ranges
    return {
        "sr-data": kde.log_prob,
        "sideband-fit": lambda m: dijet.log_pdf(m) - log_in_sr,
        "true-background": truth.log_prob,
    }


def out_name(args: argparse.Namespace) -> str:
    return f"ranode_variants_nsig{args.n_sig}.txt"


def run(args: argparse.Namespace) -> None:
    """The fits with each ``p(m)``, then the study with the ``lhco`` features."""
    cfg = ranode_config(args)
    inputs = load_inputs(cfg.data)
    sr = cfg.signal_regions[0]
    with open_executor(args.workers) as executor:
        study = run_study(cfg, inputs, args.workdir, executor=executor, progress=False)
    lines = [
        f"bench_ranode_variants: dev sample, SR [{sr.lo}, {sr.hi}] TeV, N_sig {args.n_sig}, "
        f"r-anode over sigma-context with [density] {cfg.density.mixture_params()}",
        "p(m) in the SR (features: sigma, the five):",
    ]
    print("\n".join(lines), flush=True)
    method = get("sigma-context")
    ratios: dict[str, list[float]] = {name: [] for name in args.mass_densities}
    for k, inj in enumerate(study_injections(cfg, inputs, args.n_sig, sr)):
        events, sr_data, region = sr_fit_inputs(inj, cfg)
        model = study.model("sigma-context", args.n_sig, k)
        log_px = method.log_density(model, region, events)
        pool = method.template(model, region, 3 * REFERENCE_FACTOR * len(sr_data))
        densities = mass_densities(sr_data, inj.data, (sr.lo, sr.hi))
        true_w = events.n_signal / len(events)
        for name in args.mass_densities:
            log_pm = densities[name]
            # the reference follows this p(m): the template resampled by p(m) / p_data(m)
            weights = np.exp(log_pm(pool.m) - densities["sr-data"](pool.m))
            pick = np.random.default_rng(k).choice(
                len(pool), REFERENCE_FACTOR * len(sr_data), p=weights / weights.sum()
            )
            t0 = time.perf_counter()
            fit = SignalMixture(**cfg.density.mixture_params(), random_state=k).fit(
                events.x,
                events.m,
                log_px + log_pm(events.m),
                (sr.lo, sr.hi),
                reference=(pool.x[pick], pool.m[pick]),
            )
            lo, hi = fit.w_interval_
            ratios[name].append(fit.w_ / true_w)
            lines.append(
                f"  injection {k} {name:15s} true w {true_w:.4f}: w {fit.w_:.4f} "
                f"[{lo:.4f}, {hi:.4f}], {fit.w_ / true_w:.2f} of the truth "
                f"({time.perf_counter() - t0:.0f} s)"
            )
            print(lines[-1], flush=True)
    for name, r in ratios.items():
        lines.append(f"  {name}: median {np.median(r):.2f} of the truth")

    lhco = ranode_config(args, "lhco")
    with open_executor(args.workers) as executor:
        study = run_study(lhco, inputs, f"{args.workdir}-lhco", executor=executor, progress=False)
    lines.append("features lhco (no dR; its own v_data), p(m) from the SR data:")
    rows = signal_fractions(study)
    for r in rows:
        lines.append(
            f"  injection {r.injection} true w {r.true_w:.4f}: w {r.w:.4f} "
            f"[{r.w_lo:.4f}, {r.w_hi:.4f}], {r.w / r.true_w:.2f} of the truth"
        )
    lines.append(f"  median {np.median([r.w / r.true_w for r in rows]):.2f} of the truth")
    text = "\n".join(lines)
    print("\n".join(lines[-len(rows) - 2 :]))
    Path(args.out).write_text(text + "\n")
