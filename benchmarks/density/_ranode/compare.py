"""``--study compare``: R-ANODE (``p_S`` over ``(x, m)``, and over ``x`` alone), R-ANODE
with the true w, and ANODE over SIGMA's exact background density, on realistic jets, against
the weakly supervised classifier with the same background model.

The study of ``resonant-ad run`` on the Pythia dev sample (``../shared/data/pythia-dev``),
SR 3.3-3.7 TeV, ``--injections`` injections at each N_sig, methods ``sigma-context`` (the
classifier against SIGMA's template), ``r-anode``, ``r-anode-x``, ``r-anode-ideal``,
``anode`` and ``iad``, all over the same ``v_data`` (``[model] epochs`` fixed). Then:

- the targets: R-ANODE's median SIC at FPR 1e-3 at the lowest N_sig against
  ``sigma-context``'s, for ``r-anode-x`` (the like-for-like comparison: its score, like the
  classifier's, sees ``m`` only through the background) and ``r-anode``; ``r-anode``'s
  fitted w against the true w at the highest N_sig (median within 30%, the 68% interval
  covering the truth in at least 2 of 3 injections);
- the costs per SR: the background log-densities, the p_S fits, and the log-densities of
  100k SR events timed alone;
- the accuracy of the fixed-step solvers of the log-density against dopri5;
- the spurious signal: ``r-anode`` on ``--null-injections`` SRs with no signal injected
  (the fitted ``w`` should be 0 within its interval; what it finds there is background
  misfit that ``p_S`` took in).

``--background cr`` runs the same with ``v_CR`` (trained on each SR's sidebands only) as
the background of the density methods and of the classifier. Writes the study's report,
plots and ``summary.txt`` into the folder ``--out``.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import time
from pathlib import Path

import numpy as np

from _common.dev_sample import dev_config
from resonant_ad.report.density import signal_fractions
from resonant_ad.report.outputs import write_study
from resonant_ad.search.engine import open_executor
from resonant_ad.search.inputs import load_inputs
from resonant_ad.search.study import run_study

METHODS = ["sigma-context", "r-anode", "r-anode-x", "r-anode-ideal", "anode", "iad"]
DENSITY_METHODS = ("r-anode", "r-anode-x", "r-anode-ideal", "anode")
DEFAULTS = {"n_sig": [300, 450, 1000]}
"""The defaults of the shared options of ``ranode.py`` for this study."""


def _median_sic(report, n_sig: int, method: str) -> float:
    for r in report.results:
        if r.n_sig == n_sig and r.method == method:
            return float(r.sic_at_fpr_1e_3["median"])
    return float("nan")


def _sics(result, n_sig: int, method: str) -> list[float]:
    """The SIC at FPR 1e-3 of each injection, in the order of the injections."""
    rows = sorted(
        (s.injection, s.metrics.sic_at_fpr)
        for s in result.scores
        if s.n_sig == n_sig and s.method == method
    )
    return [float(sic) for _, sic in rows]


def solver_accuracy(result, inputs, sr, n: int, threads: int) -> list[str]:
    """log p_B of SR events with each fixed-step solver against dopri5, and the time of the
    default solver on 100k events."""
    import torch

    from resonant_ad.data.events import Events
    from resonant_ad.flows.ode import ODESolver
    from resonant_ad.models.flow_matching import FieldInSR, sigma_interpolation

    torch.set_num_threads(threads)
    cfg = result.config
    n_sig = max(cfg.n_sig)
    model = result.model("sigma-context", n_sig, 0, (sr.lo, sr.hi))
    offset = cfg.model.interpolation_offset
    masses = sr.interpolation_masses(offset)
    interpolation = sigma_interpolation(model, "context", sr, masses)

    def log_prob(events: Events, solver: ODESolver) -> np.ndarray:
        return FieldInSR(model, interpolation, solver).log_prob(events.x, events.m)

    extra = inputs.extra_background
    background = inputs.background.select(sr.contains(inputs.background.m))
    signal = inputs.signal.select(sr.contains(inputs.signal.m))
    pool = Events.concatenate([extra, background, signal])
    rng = np.random.default_rng(0)
    big = pool.select(rng.permutation(len(pool))[:100_000])
    small = big.select(slice(0, n))
    lines = [f"log p_B(x | m) of {n} SR events, sigma-context, {len(model.fields_)} members:"]
    t0 = time.perf_counter()
    ref = log_prob(small, ODESolver("dopri5", atol=1e-5, rtol=1e-5))
    lines.append(f"  dopri5 (atol = rtol = 1e-5): {time.perf_counter() - t0:.1f} s (reference)")
    for method, steps in (
        ("euler", 8),
        ("midpoint", 4),
        ("rk4", 2),
        ("rk4", 3),
        ("rk4", 4),
        ("rk4", 8),
    ):
        t0 = time.perf_counter()
        lp = log_prob(small, ODESolver(method, steps))
        dt = time.perf_counter() - t0
        err = np.abs(lp - ref)
        lines.append(
            f"  {method:<8} {steps} steps: |delta log p| mean {err.mean():.4f}, "
            f"99% {np.percentile(err, 99):.4f}, max {err.max():.4f} nats; {dt:.1f} s"
        )
    d = cfg.density
    timed = [(d.solver, d.solver_steps)]
    timed += [s for s in (("rk4", 4), ("rk4", 3), ("rk4", 2)) if s not in timed]
    for method, steps in timed:
        t0 = time.perf_counter()
        log_prob(big, ODESolver(method, steps))
        dt = time.perf_counter() - t0
        default = " (the default)" if (method, steps) == (d.solver, d.solver_steps) else ""
        lines.append(
            f"log p_B of {len(big)} SR events, {method} {steps} steps{default}, {threads} torch "
            f"threads: {dt:.1f} s (target <= 60 s: {'met' if dt <= 60 else 'MISSED'})"
        )
    return lines


def out_name(args: argparse.Namespace) -> str:
    """``ranode_compare_BACKGROUND``, with ``_nsigN`` where ``--n-sig`` is not the default."""
    n_sig = "" if args.n_sig == DEFAULTS["n_sig"] else "_nsig" + "-".join(map(str, args.n_sig))
    return f"ranode_compare_{args.background}{n_sig}"


def run(args: argparse.Namespace) -> None:
    """The study, its report and plots in ``--out``, and the summary."""
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("matplotlib").setLevel(logging.ERROR)

    t0 = time.perf_counter()

    def config(n_sig: list[int], injections: int, methods: list[str]):
        return dev_config(
            args.data_dir,
            n_sig=n_sig,
            injections=injections,
            methods=methods,
            epochs=args.epochs,
            ensemble=args.ensemble,
            density={"background": args.background},
        )

    cfg = config(args.n_sig, args.injections, [args.background, *(args.methods or METHODS[1:])])
    inputs = load_inputs(cfg.data)
    with open_executor(args.workers) as executor:
        result = run_study(cfg, inputs, args.workdir, executor=executor, progress=False)
        null = None
        if args.null_injections > 0:
            null_cfg = config([0], args.null_injections, ["r-anode"])
            null = run_study(null_cfg, inputs, args.workdir, executor=executor, progress=False)
    study_seconds = time.perf_counter() - t0
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    table = write_study(result, out)
    report = result.report()
    sr = cfg.signal_regions[0]

    lines = [
        f"bench_ranode: Pythia dev sample {args.data_dir}; SR [{sr.lo}, {sr.hi}] TeV; "
        f"{args.injections} injections per N_sig; v_data: preset cpu, {args.epochs} epochs; "
        f"classifier: {args.ensemble} members; density: {cfg.density}",
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs; {args.workers} Dask workers; "
        f"study wall time {study_seconds:.0f} s",
        "",
        table,
        "",
    ]
    # costs
    densities = sorted(Path(args.workdir).glob("densities/*.npz"))
    dens_s = [float(np.load(f)["seconds"]) for f in densities]
    dens_n = [sum(len(np.load(f)[k]) for k in ("train", "val", "test")) for f in densities]
    from resonant_ad.methods.registry import get

    bg_id = get(args.background).shared_model_id
    bg_train = [s for name, s in result.train_seconds.items() if name.startswith(f"{bg_id}-")]
    fits: dict[str, list[float]] = {}
    for (method, *_), path in result.model_files.items():
        if method in DENSITY_METHODS:
            fits.setdefault(method, []).append(result.train_seconds.get(path.name, float("nan")))
    lines.append("costs on this CPU (1 torch thread per worker):")
    lines.append(
        f"  {bg_id} training (the background model): {np.mean(bg_train):.0f} s per training "
        f"({len(bg_train)} trainings, one per injection)"
    )
    if dens_s:
        lines.append(
            f"  background log-densities per SR: {np.mean(dens_s):.0f} s for "
            f"{np.mean(dens_n):.0f} events (SR train + val + test), "
            f"{1e5 * np.sum(dens_s) / np.sum(dens_n):.0f} s per 100k events"
        )
    for method, secs in fits.items():
        lines.append(f"  {method} fit of p_S per SR: {np.mean(secs):.0f} s (mean of {len(secs)})")
    lines.append("")
    # targets
    low, high = min(args.n_sig), max(args.n_sig)
    bg = args.background
    sc = _median_sic(report, low, bg)
    for method in ("r-anode-x", "r-anode"):
        ra = _median_sic(report, low, method)
        if np.isnan(ra):
            continue
        above = sum(
            a >= b for a, b in zip(_sics(result, low, method), _sics(result, low, bg), strict=True)
        )
        lines.append(
            f"N_sig={low}: {method} / {bg} median SIC@1e-3 = {ra:.2f} / {sc:.2f} "
            f"(target {method} >= {bg}: {'met' if ra >= sc else 'MISSED'}); "
            f"{method} >= {bg} in {above} of {args.injections} injections"
        )
    rows = [r for r in signal_fractions(result) if r.n_sig == high and r.method == "r-anode"]
    if rows:
        ratio = float(np.median([r.w / r.true_w for r in rows]))
        covered = sum(r.covers for r in rows)
        lines.append(
            f"N_sig={high}: fitted / true w, median over injections = {ratio:.2f} "
            f"(target within 30%: {'met' if abs(ratio - 1) <= 0.3 else 'MISSED'}); "
            f"68% interval covers the true w in {covered} of {len(rows)} injections "
            f"(target >= 2 of 3: {'met' if covered >= min(2, len(rows)) else 'MISSED'})"
        )
    if null is not None:
        rows = signal_fractions(null)
        lines.append("")
        lines.append(
            f"no signal injected ({len(rows)} injections; the spurious signal that p_S takes "
            "from the background's misfit):"
        )
        for r in rows:
            starts = ", ".join(f"{w0:g} -> {w:.4f} ({d:+.1f})" for w0, w, d in r.starts)
            lines.append(
                f"  injection {r.injection}: w = {r.w:.4f} [{r.w_lo:.4f}, {r.w_hi:.4f}], "
                f"interval covers 0: {'yes' if r.w_lo <= 0 else 'no'}; per start: {starts}"
            )
    if not args.skip_accuracy and bg == "sigma-context":
        lines.append("")
        lines += solver_accuracy(result, inputs, sr, args.accuracy_events, threads=2)
    text = "\n".join(lines)
    print(text)
    (out / "summary.txt").write_text(text + "\n")
