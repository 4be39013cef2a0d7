"""``--study null``: R-ANODE's spurious signal measured in the validation windows next to the
SR, as the systematic of ``w`` and the null distribution of the test of ``w = 0``, on
Poisson-bootstrap replicas of the dev sample.

For each of ``--replicas`` replicas (:func:`~resonant_ad.data.injection.poisson_replica` of
the dev sample's events, expanded: the flows train unweighted) and each ``--n-sig`` (``0``: no
signal injected), the study's ``r-anode`` (or ``--method r-anode-x``, ``p_S`` over ``x``
alone) with the ``[density]`` defaults (over
``--background``) and ``null_windows = --windows`` is fitted in the SR 3.3-3.7 TeV and
repeated in the validation windows of the SR's width next to it, each window in the role of
the SR (``p_B`` from the same background training; its own sideband correction and mass
fit). Each SR fit is calibrated (:meth:`~resonant_ad.density.mixture.SignalMixture.calibrate`;
see :mod:`~resonant_ad.density.null` for the rules) by its own replica's window fits, as the
study's ``signal_fraction.json`` reports it, and by the window fits of every replica at the
same ``N_sig`` pooled (more null fits: a finer p-value, a spread that can be called stable).
Per SR fit: the fitted ``w``, its statistical interval, the spurious signal's correction and
systematic, the total interval, ``q0`` and its p-value from the null fits beside Wilks'. Per
``N_sig``: how often each interval covers the truth, the median fitted and corrected ``w``
against the truth, and with no signal a KS test of the p-values against a uniform
distribution.

``--starts W1 W2 ...`` sets ``[density] w_init``: every fit, in the SR and in the windows, is
made from each start and keeps the one with the best held-out likelihood. Per ``N_sig`` the
study then says, for each start, where the fits made from it ended and how often the
held-out likelihood preferred it: the label-free evidence for the default start.

With ``capture`` (the default) every fit also says what it makes of ``w`` without the
background-like signal (its scan at ``a = 0``, the same ``p_S``:
:attr:`~resonant_ad.density.mixture.SignalMixture.without_capture`), and the study
calibrates both: the fits as the study reports them (the envelope of the scans with and
without the capture, ``[density] capture_penalty``) and the fits without the capture. A
fit stored by an earlier version is rescanned, not retrained (``DensityMethod.refresh``).

What the windows cannot tell: a misfit of ``p_B`` that is in the SR only. With signal
injected, the windows hold its tails, and their sidebands (correction, mass fit) reach into
the SR; the null fits at ``N_sig > 0`` are then not free of signal, which this measures too.

Cost (2 CPUs): per replica and ``N_sig``, the background model, densities and fit of
``r-anode`` in ``1 + 2 --windows`` regions, about 3-4 minutes each (see ``--study
compare``'s costs).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import kstest

from _common.dev_sample import dev_config
from resonant_ad.data.injection import poisson_replica
from resonant_ad.data.regions import SignalRegion
from resonant_ad.density.mixture import SignalMixture
from resonant_ad.density.null import NullFit, SpuriousSignal
from resonant_ad.search.engine import open_executor
from resonant_ad.search.inputs import StudyInputs, load_inputs
from resonant_ad.search.study import run_study

DEFAULTS = {"n_sig": [0, 300, 450, 1000], "injections": 1, "workdir": "runs/ranode_null"}
"""The defaults of the shared options of ``ranode.py`` for this study."""

SR = SignalRegion(3.3, 3.7)

Fit = tuple[SignalMixture, float, list[NullFit]]
"""r-anode's SR fit, the true w there, and its null fits in the validation windows."""
Fits = dict[tuple[int, int, int], Fit]
"""``(replica, N_sig, injection) -> Fit``."""


def replica_fits(args: argparse.Namespace, replica: int, executor: Any) -> Fits:
    """``r-anode`` with ``[density] null_windows = --windows`` on one replica, at every
    ``N_sig``."""
    cfg = dev_config(
        args.data_dir,
        n_sig=args.n_sig,
        injections=args.injections,
        methods=[args.method],
        epochs=args.epochs,
        ensemble=args.ensemble,
        seed=replica,
        density={
            "background": args.background,
            "null_windows": args.windows,
            **({"w_init": list(args.starts)} if args.starts else {}),
            **({"tilt": args.tilt} if args.tilt is not None else {}),
        },
    )
    inputs = load_inputs(cfg.data)
    inputs = StudyInputs(
        poisson_replica(inputs.background, replica).expanded(),
        inputs.signal,
        inputs.extra_background,
        inputs.simulation,
    )
    workdir = Path(args.workdir) / f"replica-{replica}"
    result = run_study(cfg, inputs, workdir, executor=executor, progress=False)
    srt = (SR.lo, SR.hi)
    out: Fits = {}
    for n_sig in args.n_sig:
        for k in range(args.injections):
            where = (n_sig, k, srt)
            nulls = result.null_fits.get((args.method, *where), [])
            out[(replica, n_sig, k)] = (
                result.model(args.method, *where),
                result.signal_fractions[where],
                [dataclasses.replace(f, label=f"replica {replica} {f.label}") for f in nulls],
            )
    return out


def calibrated_lines(fits: Fits, n_sig: int, pooled: bool, plain: bool = False) -> list[str]:
    """Each SR fit at ``n_sig`` calibrated by its own replica's window fits (as the study
    reports it) or, ``pooled``, by the window fits of every replica at ``n_sig``; and the
    summary of the lot. ``plain``: the same fits without the capture (every fit's scan at
    ``a = 0``)."""
    rows = [(key, v) for key, v in sorted(fits.items()) if key[1] == n_sig]

    def variant(f: NullFit) -> NullFit:
        if not plain:
            return f
        assert f.without_capture is not None, "a fit without its scan at a = 0"
        return f.without_capture

    every = [variant(f) for _, (_, _, nulls) in rows for f in nulls]
    lines, stat_cover, total_cover, p_values, ratios, corrected = [], 0, 0, [], [], []
    for (r, _, k), (fit, true_w, nulls) in rows:
        as_null = fit.null_fit("SR")
        sr = variant(as_null)
        spurious = SpuriousSignal(tuple(every if pooled else [variant(f) for f in nulls]))
        out = spurious.summary(sr.w, sr.interval, sr.q0)
        lo, hi = out["total_interval"]
        s_lo, s_hi = out["statistical_interval"]
        stat_cover += s_lo <= true_w <= s_hi
        total_cover += lo <= true_w <= hi
        p_values.append(out["p_value"])
        if true_w > 0:
            ratios.append(sr.w / true_w)
            corrected.append(out["w"] / true_w)
        lines.append(
            f"N_sig {n_sig:4d} replica {r} inj {k}: true w {true_w:.5f}, w {sr.w:.5f} "
            f"[{s_lo:.5f}, {s_hi:.5f}], spurious {out['mean']:.5f} +- {out['spread']:.5f} "
            f"({'stable' if out['stable'] else 'not measured above 0'}; subtracted, "
            f"systematic {out['systematic']:.5f}), "
            f"w {out['w']:.5f} total [{lo:.5f}, {hi:.5f}]; q0 {out['q0']:.2f}, "
            f"p {out['p_value']:.3f} ({out['n']} null fits), Wilks {out['p_value_wilks']:.2g}"
            + ("" if plain else _capture_text(as_null) + _starts_text(as_null.starts))
        )
    n = len(rows)
    how = "pooled over replicas" if pooled else "own replica's windows"
    how += ", without capture" if plain else ""
    lines.append(
        f"N_sig {n_sig} ({how}): the statistical interval covers the truth in {stat_cover} "
        f"of {n}, the total in {total_cover} of {n}; window fits' w: "
        + ", ".join(f"{f.w:.5f}{_capture_text(f)}" for f in every)
    )
    if ratios:
        lines.append(
            f"N_sig {n_sig}: median fitted w {np.median(ratios):.2f} of the truth, "
            f"corrected {np.median(corrected):.2f}"
        )
    else:
        ks = kstest(p_values, "uniform") if len(p_values) > 1 else None
        lines.append(
            f"N_sig 0: p-values {', '.join(f'{p:.3f}' for p in p_values)}"
            + ("" if ks is None else f"; KS test against uniform: p = {ks.pvalue:.3f}")
        )
    return lines


def capture_lines(fits: Fits, n_sig: int) -> list[str]:
    """What the capture does to the fits at ``n_sig``, told without the truth: the spurious
    ``w`` of the window fits (where there is no signal) with and without it, and what it
    adds to the held-out ``2 log L`` beyond its penalty in the SR fits and in the window
    fits."""
    rows = [v for key, v in sorted(fits.items()) if key[1] == n_sig]
    sr = [fit.null_fit("SR") for fit, _, _ in rows]
    windows = [f for _, _, nulls in rows for f in nulls]

    def plain(f: NullFit) -> NullFit:
        assert f.without_capture is not None
        return f.without_capture

    def gains(group: list[NullFit]) -> str:
        return ", ".join(f"{f.q0 - plain(f).q0:.1f}" for f in group)

    def rms(group: list[NullFit]) -> float:
        return float(np.sqrt(np.mean([f.w**2 for f in group])))

    return [
        f"N_sig {n_sig}, capture: window fits' w rms {rms(windows):.5f} with it, "
        f"{rms([plain(f) for f in windows]):.5f} without; SR fits' w "
        + ", ".join(f"{f.w:.5f}/{plain(f).w:.5f}" for f in sr)
        + " (with/without)",
        f"N_sig {n_sig}, capture: what it adds to the held-out 2 log L beyond its penalty "
        f"(0: the fit without it is the better): SR fits {gains(sr)}; window fits "
        f"{gains(windows)}",
    ]


def _capture_text(fit: NullFit) -> str:
    """`` (a A)``: the fit's background-like fraction of the signal (with ``capture``)."""
    return "" if fit.capture is None else f" (a {fit.capture:.2f})"


def _starts_text(starts: tuple[tuple[float, float, float], ...]) -> str:
    """``; starts 0.01 -> w (+dev), ...`` where there are several starts, else nothing."""
    if not starts:
        return ""
    return "; starts " + ", ".join(f"{w0:g} -> {w:.5f} (+{d:.1f})" for w0, w, d in starts)


def start_lines(fits: Fits, n_sig: int) -> list[str]:
    """With several starts: for each, where the SR fits and the window fits made from it
    ended at ``n_sig`` and in how many of each the held-out likelihood preferred it."""
    rows = [v for key, v in sorted(fits.items()) if key[1] == n_sig]
    # (start, w, -2 Delta log L) of each start, as a null fit records them (none for one start)
    sr = [fit.null_fit("SR").starts for fit, _, _ in rows]
    windows = [f.starts for _, _, nulls in rows for f in nulls]
    if not sr or not sr[0]:
        return []
    lines = []
    for k, w0 in enumerate(s[0] for s in sr[0]):
        parts = []
        for name, group in (("SR", sr), ("window", windows)):
            ws = np.array([starts[k][1] for starts in group])
            preferred = sum(starts[k][2] == 0.0 for starts in group)
            parts.append(
                f"{name} fits end at {', '.join(f'{w:.5f}' for w in ws)} (mean {ws.mean():.5f}), "
                f"preferred in {preferred} of {len(group)}"
            )
        lines.append(f"N_sig {n_sig}, start {w0:g}: " + "; ".join(parts))
    return lines


def out_name(args: argparse.Namespace) -> str:
    """``ranode_null_BACKGROUND_replicas-R.txt`` (``ranode-x_null_...`` for ``r-anode-x``)."""
    name = args.method.replace("r-anode", "ranode")
    starts = "_starts-" + "-".join(f"{w:g}" for w in args.starts) if args.starts else ""
    tilt = "" if args.tilt is None else f"_tilt-{args.tilt}"
    return f"{name}_null_{args.background}_replicas-{args.replicas}{starts}{tilt}.txt"


def run(args: argparse.Namespace) -> None:
    """The fits in the SR and its windows on every replica, calibrated and summarised."""
    logging.basicConfig(level=logging.WARNING)
    t0 = time.perf_counter()
    fits: Fits = {}
    with open_executor(args.workers) as executor:
        for replica in range(args.replicas):
            fits.update(replica_fits(args, replica, executor))
            print(f"replica {replica} done, {time.perf_counter() - t0:.0f} s", flush=True)
    lines = [line for n_sig in args.n_sig for line in start_lines(fits, n_sig)]
    lines += [""] if lines else []
    with_capture = any(fit.without_capture is not None for fit, _, _ in fits.values())
    for plain in (False, True) if with_capture else (False,):
        for pooled in (False, True):
            for n_sig in args.n_sig:
                lines += calibrated_lines(fits, n_sig, pooled, plain)
            lines.append("")
    if with_capture:
        lines += [line for n_sig in args.n_sig for line in capture_lines(fits, n_sig)]
        lines.append("")
    head = (
        f"bench_ranode_null: dev sample, SR [{SR.lo}, {SR.hi}] TeV and {args.windows} "
        f"validation window(s) per side, {args.replicas} Poisson-bootstrap replicas, "
        f"{args.injections} injection(s) per N_sig, background {args.background} "
        f"({args.epochs} epochs), method {args.method}, [density] defaults; "
        f"wall time {time.perf_counter() - t0:.0f} s"
    )
    text = "\n".join([head, "", *lines])
    print(text)
    Path(args.out).write_text(text + "\n")
