"""``--study capture``: how much of the SR signal does R-ANODE's learned p_S take in, and
how much background?

On the Pythia dev sample, for each injection of ``--study compare`` at ``--n-sig`` (its run
folder ``--workdir`` holds the study: ``v_data`` is read from there), ``r-anode`` is fitted
(the study's ``[density]`` settings) over two background densities:

- ``sigma-context``: SIGMA's ``v_data`` interpolated into the SR, as in the study;
- ``sr-trained``: the same flow-matching model (the study's ``[model]`` settings) trained on
  the true background *in* the SR: the dev sample's QCD outside the SR plus the extra SR
  QCD (``extra_sr_background.h5``, independent of the data), evaluated at the SR masses with
  no interpolation. A yardstick for the background model: it needs background-only SR events.

Both are evaluated as the study's densities task does (``log_density`` and ``template`` of
the registered method, ``data`` for the model read at the SR masses): ``p(m)`` from the SR
data's masses and, for the tilt, a reference sample of twice as many events as the SR data
drawn from the model. From each fit, the posterior probability
``r = w p_S / (w p_S + (1 - w) p_B)`` of every SR event gives the fraction of the injected
signal the fit takes in (the mean ``r`` of the signal events) and the spurious signal
fraction (the sum of ``r`` over background events over all events); the fitted ``w`` is
about their sum. The signal events with ``r < 0.1`` (missed) and ``r > 0.5`` (found) are
compared by the medians of their features.

Last, the count the mjj sidebands predict in the SR: the dijet function fitted to the
background alone in ``--sidebands`` and integrated over the SR, against the SR count.

Run ``--study compare`` first (or point ``--workdir`` at a run of the same config).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import scipy.special as sps

from _common.dev_sample import (
    background_inputs,
    ranode_config,
    sr_fit_inputs,
    sr_trained_background,
)
from resonant_ad.data.events import Events
from resonant_ad.data.spectrum import DijetFit
from resonant_ad.density.mixture import SignalMixture
from resonant_ad.methods.registry import get
from resonant_ad.search.inputs import load_inputs
from resonant_ad.search.study import run_study, study_injections

DEFAULTS = {"n_sig": [1000]}
"""The defaults of the shared options of ``ranode.py`` for this study."""


def capture_lines(name: str, fit: SignalMixture, events: Events, score: np.ndarray) -> list[str]:
    """The fitted ``w``, the signal taken in and the spurious fraction, from the posteriors."""
    r = sps.expit(np.log(fit.w_) - np.log1p(-fit.w_) + score)
    sig = events.label == 1
    true_w = sig.mean()
    lo, hi = fit.w_interval_
    head = (
        f"  {name:14s} w = {fit.w_:.4f} [{lo:.4f}, {hi:.4f}]"
        + (f" ({fit.w_ / true_w:.2f} of the truth)" if true_w > 0 else "")
        + f"; spurious {r[~sig].sum() / len(events):.4f}"
    )
    if not sig.any():
        return [head]
    found, missed = sig & (r > 0.5), sig & (r < 0.1)
    lines = [head + f"; signal taken in {r[sig].mean():.3f} (mean r over the signal)"]
    for label, mask in (("found r>0.5", found), ("missed r<0.1", missed), ("background", ~sig)):
        med = ", ".join(
            f"{n} {v:.3f}"
            for n, v in zip(events.feature_names, np.median(events.x[mask], 0), strict=True)
        )
        lines.append(f"    {label:13s} {mask.sum():6d} events, medians: {med}")
    return lines


def out_name(args: argparse.Namespace) -> str:
    return f"ranode_capture_nsig{args.n_sig}.txt"


def run(args: argparse.Namespace) -> None:
    """The fits over both backgrounds per injection and the sidebands' SR count."""
    out = Path(args.out)
    cfg = ranode_config(args)
    inputs = load_inputs(cfg.data)
    assert inputs.extra_background is not None
    sr = cfg.signal_regions[0]
    study = run_study(cfg, inputs, args.workdir, progress=False)

    ideal, ideal_line = sr_trained_background(cfg, inputs)
    lines = [
        f"bench_ranode_capture: dev sample, SR [{sr.lo}, {sr.hi}] TeV, N_sig {args.n_sig}, "
        f"r-anode with [density] {cfg.density.mixture_params()}",
        ideal_line,
    ]
    print("\n".join(lines), flush=True)
    for k, inj in enumerate(study_injections(cfg, inputs, args.n_sig, sr)):
        events, _, region = sr_fit_inputs(inj, cfg)
        lines.append(
            f"injection {k}: {len(events)} SR events, {events.n_signal} signal, "
            f"true w {events.n_signal / len(events):.4f}"
        )
        print(lines[-1], flush=True)
        backgrounds = {  # name: (the method that reads the model, the model)
            "sigma-context": (get("sigma-context"), study.model("sigma-context", args.n_sig, k)),
            "sr-trained": (get("data"), ideal),  # read at the SR masses, no interpolation
        }
        for name, (method, model) in backgrounds.items():
            t0 = time.perf_counter()
            log_bg, reference = background_inputs([(method, model)], region, events)
            fit = SignalMixture(**cfg.density.mixture_params(), random_state=k)
            fit.fit(events.x, events.m, log_bg, (sr.lo, sr.hi), reference=reference)
            score = fit.score(events.x, events.m, log_bg)
            block = capture_lines(name, fit, events, score)
            block[0] += f" ({time.perf_counter() - t0:.0f} s)"
            lines += block
            print("\n".join(block), flush=True)

    lo1, hi1, lo2, hi2 = args.sidebands
    m = inputs.background.m
    dijet = DijetFit.fit(m, ((lo1, hi1), (lo2, hi2)))
    predicted = dijet.fraction(sr.lo, sr.hi) * dijet.n_events  # n_events: in the sidebands
    n_sr = int(np.sum(sr.contains(m)))
    lines.append(
        f"mjj count, background alone: the dijet fit to [{lo1}, {hi1}] + [{lo2}, {hi2}] TeV "
        f"predicts {predicted:.0f} SR events, there are {n_sr} ({n_sr - predicted:+.0f}, "
        f"{(n_sr - predicted) / n_sr:+.4f} in units of w; Poisson sd {np.sqrt(n_sr):.0f})"
    )
    text = "\n".join(lines)
    print(lines[-1])
    out.write_text(text + "\n")
