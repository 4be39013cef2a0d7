"""``--study starts``: where does R-ANODE's fitted w end, started low and started high, and
which does the held-out likelihood prefer?

On the Pythia dev sample (SR 3.3-3.7 TeV), ``r-anode`` over SIGMA's ``sigma-context``
background (or ``--background``: another interpolation of ``v_data``, or ``cr``) with the
study defaults but ``[density] w_init = --starts`` (the whole fit from each start: see
:class:`~resonant_ad.density.mixture.SignalMixture`), at each ``--n-sig`` (``0``: SRs with
no signal injected) with ``--injections`` injections. For every fit: the ``w`` each start
ends at and its held-out ``-2 Delta log L`` against the best start, and the median SIC at
FPR 1e-3 of the score of the preferred start.

If the likelihood identified the signal fraction, the starts would end at the same ``w``
(or the preferred one near the truth, and near 0 with no signal).

``--background sr-trained`` fits the same mixtures over the flow-matching model trained on
the true background in the SR (as in ``--study capture``; no interpolation, a
yardstick that needs background-only SR events) instead of SIGMA's, on the same
injections: whether the high-``w`` optimum comes from the interpolated background or from
any learned one. The SIC is not computed there. ``--sr-events N`` trains that model with
only ``N`` of the extra SR events (the data have 28,515 in the SR): whether it is the
interpolation or the number of SR events that makes the difference; ``--members K`` uses
the mean density of K such models trained with other seeds (is the misfit the training's
noise?).

``--correction sidebands`` corrects SIGMA's background density by the ratio of data to
``v_data`` learned in the sidebands (``[density] correction``; see
:class:`~resonant_ad.density.correction.SidebandCorrection`). ``--mass sidebands`` takes the
background's ``p(m)`` from the dijet fit of the sidebands instead of the SR data's masses,
and ``--capture`` profiles ``w`` over the background-like fraction of the signal
(``[density] mass``, ``capture``; see :class:`~resonant_ad.density.mixture.SignalMixture`).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from _common.dev_sample import (
    background_inputs,
    fit_mixture,
    ranode_config,
    sr_fit_inputs,
    sr_trained_background,
)
from resonant_ad.methods.registry import get
from resonant_ad.report.density import format_signal_fractions, signal_fractions
from resonant_ad.search.engine import open_executor
from resonant_ad.search.inputs import load_inputs
from resonant_ad.search.study import run_study, study_injections

DEFAULTS = {"n_sig": [1000, 300, 0], "workdir": "runs/ranode_starts", "starts": [0.01, 0.05]}
"""The defaults of the shared options of ``ranode.py`` for this study."""


Fit = tuple[int, float, list[tuple[float, float, float]]]
"""``(N_sig, true w, [(w_init, w, held-out -2 Delta log L) per start])``"""


def over_sigma(args: argparse.Namespace, density: dict[str, Any]) -> tuple[list[Fit], list[str]]:
    """The study's ``r-anode`` over ``density["background"]`` (fits cached in ``--workdir``)."""
    fits: list[Fit] = []
    lines: list[str] = []
    sics: list[str] = []
    fit_seconds = 0.0
    with open_executor(args.workers) as executor:
        for n_sig in args.n_sig:
            cfg = ranode_config(args, n_sig=n_sig, density=density)
            result = run_study(
                cfg, load_inputs(cfg.data), args.workdir, executor=executor, progress=False
            )
            rows = signal_fractions(result)
            fits += [(n_sig, r.true_w, list(r.starts)) for r in rows]
            fit_seconds += sum(r.fit_seconds for r in rows)
            lines += format_signal_fractions(rows).splitlines()[(1 if lines else 0) :]
            if n_sig > 0:
                ratio = np.median([r.w / r.true_w for r in rows])
                sics.append(
                    f"N_sig {n_sig}: fitted w median {ratio:.2f} of the truth, 68% interval "
                    f"covers it in {sum(r.covers for r in rows)} of {len(rows)}"
                )
                sic = [r.sic_at_fpr_1e_3["median"] for r in result.report().results]
                sics.append(f"N_sig {n_sig}: r-anode median SIC@1e-3 {float(sic[0]):.2f}")
    head = f"background {density['background']}; r-anode fits {fit_seconds:.0f} s in all"
    return fits, [head, "", *lines, "", *summary(fits, args), *sics]


def over_sr_trained(
    args: argparse.Namespace, density: dict[str, Any]
) -> tuple[list[Fit], list[str]]:
    """The same mixtures over the model trained on the true SR background."""
    cfg = ranode_config(args, n_sig=args.n_sig[0], density=density)
    inputs = load_inputs(cfg.data)
    sr, method = cfg.signal_regions[0], get("data")  # the model read at the SR masses
    members = [sr_trained_background(cfg, inputs, args.sr_events, i) for i in range(args.members)]
    model_line = members[0][1] + (
        "" if args.members == 1 else f"; an ensemble of {args.members} (other training seeds)"
    )
    print(model_line, flush=True)
    models = [(method, model) for model, _ in members]
    params, window = cfg.density.mixture_params(), (sr.lo, sr.hi)
    jobs = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.workers, mp_context=context) as pool:
        for n_sig in args.n_sig:
            for k, inj in enumerate(study_injections(cfg, inputs, n_sig, sr)):
                events, _, region = sr_fit_inputs(inj, cfg)
                log_bg, reference = background_inputs(models, region, events)
                job = pool.submit(
                    fit_mixture, events.x, events.m, log_bg, window, reference, params, k
                )
                jobs.append((n_sig, k, events.n_signal / len(events), job))
        lines, fits = [], []
        for n_sig, k, true_w, job in jobs:
            fit = job.result()
            starts, seconds = fit.starts_, fit.fit_seconds_
            fits.append((n_sig, true_w, [(s["w_init"], s["w"], s["deviance"]) for s in starts]))
            lines.append(
                f"N_sig {n_sig:4d} injection {k} true w {true_w:.4f}: "
                + ", ".join(
                    f"{s['w_init']:g} -> {s['w']:.4f} [{s['interval'][0]:.4f}, "
                    f"{s['interval'][1]:.4f}] ({s['deviance']:+.1f})"
                    for s in starts
                )
                + f"; {seconds:.0f} s"
            )
            print(lines[-1], flush=True)
    head = "background sr-trained; per start: w_init -> w [68% interval] (held-out -2 Delta log L)"
    return fits, [head, model_line, "", *lines, "", *summary(fits, args)]


def summary(fits: list[Fit], args: argparse.Namespace) -> list[str]:
    """Where each start ends and how often the held-out likelihood prefers it, per N_sig."""
    out = []
    for k, w0 in enumerate(args.starts):
        for n_sig in args.n_sig:
            mine = [f for f in fits if f[0] == n_sig]
            ends = ", ".join(f"{f[2][k][1]:.4f}" for f in mine)
            best = sum(f[2][k][2] == 0.0 for f in mine)
            true_w = np.mean([f[1] for f in mine])
            out.append(
                f"start {w0:g}, N_sig {n_sig} (true w {true_w:.4f}): ends at {ends}; "
                f"preferred by the held-out likelihood in {best} of {len(mine)}"
            )
    return out


def out_name(args: argparse.Namespace) -> str:
    """``ranode_starts_BACKGROUND`` and the options that change the fit, e.g.
    ``ranode_starts_sr-trained_sr-events-28515_members-3.txt``."""
    name = f"ranode_starts_{args.background}"
    name += "" if args.tilt is None else f"_tilt{args.tilt}"
    name += "" if args.correction == "none" else f"_correction-{args.correction}"
    name += "" if args.mass == "data" else f"_mass-{args.mass}"
    name += "_capture" if args.capture else ""
    name += "" if args.sr_events is None else f"_sr-events-{args.sr_events}"
    name += "" if args.members == 1 else f"_members-{args.members}"
    return name + ".txt"


def run(args: argparse.Namespace) -> None:
    """The fits from every start over the background, and where each start ends."""
    logging.basicConfig(level=logging.WARNING)
    for name in ("distributed", "tornado"):
        logging.getLogger(name).setLevel(logging.WARNING)

    t0 = time.perf_counter()
    background = "sigma-context" if args.background == "sr-trained" else args.background
    density = {"background": background, "w_init": list(args.starts)}
    if args.tilt is not None:
        density["tilt"] = args.tilt
    density.update(correction=args.correction, mass=args.mass, capture=args.capture)
    if args.background != "sr-trained":
        _, lines = over_sigma(args, density)
    else:
        _, lines = over_sr_trained(args, density)
    cfg = ranode_config(args, n_sig=args.n_sig[0], density=density)
    sr = cfg.signal_regions[0]
    settings = cfg.density if args.background != "sr-trained" else cfg.density.mixture_params()
    head = (
        f"bench_ranode_starts: dev sample, SR [{sr.lo}, {sr.hi}] TeV, background model "
        f"{args.epochs} epochs (cpu preset), [density] {settings}; wall time "
        f"{time.perf_counter() - t0:.0f} s (cached fits are read, not refitted)"
    )
    text = "\n".join([head, *lines])
    print(text)
    Path(args.out).write_text(text + "\n")
