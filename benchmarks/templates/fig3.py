"""Fig. 3 of the SIGMA paper on realistic jets: SIC of every template method vs N_sig.

The study of ``resonant-ad run`` (SR 3.3-3.7 TeV, several injections per N_sig, methods
``data``, ``cr``, ``sigma-linear``, ``sigma-context``, ``sigma-poly`` and ``iad``) on the
Pythia dev sample (``../shared/data/pythia-dev``: 207k QCD, 30k signal, 50k extra SR QCD;
N_sig = 450 there is as hard as N_sig = 1000 in the LHCO R&D data). ``v_data`` and ``v_CR``
train for the same number of epochs. Then the targets: ``sigma-context`` >= 0.9 x ``cr`` and
``cr`` >= 0.8 x ``iad`` in median SIC at FPR 1e-3.

The work can be split over processes that share one work folder (every finished piece is
cached under its own key): ``--only-n-sig 450`` computes the pieces of one N_sig and writes
nothing else; a final run without it reads them all back and writes the report, the plots
and the targets.

With ``--template-events yardstick`` every template is capped at the size of the ``iad``'s
true-background sample, so the idealized classifier and the templates see as many
background-like events (``[classifier] template_events``).

Usage: ``python benchmarks/templates/fig3.py [--epochs E] [--ensemble K] [--only-n-sig N]
[--template-events oversampling|yardstick] [--out DIR]``.
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

from resonant_ad.config import DataConfig, config_from_dict
from resonant_ad.report.outputs import write_study
from resonant_ad.report.report import load_report
from resonant_ad.search.inputs import load_inputs
from resonant_ad.search.study import run_study

METHODS = ["data", "cr", "sigma-linear", "sigma-context", "sigma-poly", "iad"]


def _median(report, n_sig: int, method: str) -> float:
    """Median SIC at FPR 1e-3 of one (N_sig, method) row; NaN if the row is missing."""
    for r in report.results:
        if r.n_sig == n_sig and r.method == method:
            return float(r.sic_at_fpr_1e_3["median"])
    return float("nan")


def targets(report, n_sigs: list[int]) -> list[str]:
    """The targets, each as a line with the measured numbers."""

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    lines = []
    for n in n_sigs:
        ctx, cr, iad = (_median(report, n, m) for m in ("sigma-context", "cr", "iad"))
        lines += [
            f"N_sig={n}: sigma-context / cr median SIC@1e-3 = {ctx:.2f} / {cr:.2f} = "
            f"{ctx / cr:.2f} (target >= 0.9: {verdict(ctx >= 0.9 * cr)})",
            f"N_sig={n}: cr / iad median SIC@1e-3 = {cr:.2f} / {iad:.2f} = "
            f"{cr / iad:.2f} (target >= 0.8: {verdict(cr >= 0.8 * iad)})",
        ]
    return lines


def validation_ranking(report, n_sigs: list[int]) -> list[str]:
    """Per N_sig: the templates ranked by validation-window AUC (no labels) and by SIC."""
    from resonant_ad.search.validation import rank_agreement

    lines = []
    for n in n_sigs:
        rows = [
            r for r in report.results if r.n_sig == n and r.extra.get("validation_auc") is not None
        ]
        if not rows:
            continue
        val = {r.method: float(r.extra["validation_auc"]["median"]) for r in rows}
        sic = {r.method: _median(report, n, r.method) for r in rows}
        interpolating = [m for m in val if m != "data"]
        by_val = sorted(interpolating, key=lambda m: val[m])
        by_sic = sorted(interpolating, key=lambda m: -sic[m])
        tau = rank_agreement({m: val[m] for m in interpolating}, sic)
        lines += [
            f"N_sig={n}: validation-window AUC (median): "
            + ", ".join(f"{m} {val[m]:.3f}" for m in val),
            f"  ranking by validation AUC: {' > '.join(by_val)}; by SIC@1e-3: "
            f"{' > '.join(by_sic)}; Kendall tau = {tau:+.2f}",
        ]
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-dir", default="../shared/data/pythia-dev")
    p.add_argument("--n-sig", type=int, nargs="+", default=[450, 1000])
    p.add_argument("--injections", type=int, default=3)
    p.add_argument("--methods", nargs="+", default=METHODS)
    p.add_argument("--preset", default="cpu")
    p.add_argument("--epochs", type=int, default=100, help="training epochs of every model")
    p.add_argument("--ensemble", type=int, default=20, help="classifier members")
    p.add_argument(
        "--validation-windows", type=int, default=1, help="label-free check windows per side"
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument(
        "--template-events",
        default="oversampling",
        choices=["oversampling", "yardstick"],
        help="[classifier] template_events: 4x the SR data, or capped at the iad's size",
    )
    p.add_argument("--only-n-sig", type=int, default=None, help="compute one N_sig's pieces")
    p.add_argument("--workdir", default="/tmp/templates_fig3")
    p.add_argument("--out", default="benchmarks/templates/results/fig3_sic_vs_nsig")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("matplotlib").setLevel(logging.ERROR)

    import torch

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    data_dir = Path(args.data_dir)
    data = DataConfig(
        events=data_dir / "events.h5", extra_background=data_dir / "extra_sr_background.h5"
    )
    inputs = load_inputs(data)
    n_sig = [args.only_n_sig] if args.only_n_sig is not None else args.n_sig
    cfg = config_from_dict(
        {
            "data": {"events": str(data.events)},
            "study": {
                "signal_regions": [[3.3, 3.7]],
                "n_sig": n_sig,
                "n_injections": args.injections,
                "methods": args.methods,
                "seed": 0,
                "device": "cpu",
                "validation_windows": args.validation_windows,
            },
            "model": {"preset": args.preset, "epochs": args.epochs},
            "classifier": {
                "ensemble_size": args.ensemble,
                "oversampling": 4,
                "template_events": args.template_events,
            },
        }
    )
    if args.only_n_sig is not None:
        for piece in run_study(cfg, inputs, args.workdir, progress=False).scores:
            print(
                f"N_sig={piece.n_sig} injection {piece.injection} {piece.method}: "
                f"SIC@1e-3 {piece.metrics.sic_at_fpr:.2f}, max SIC {piece.metrics.max_sic:.2f} "
                f"({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
        return

    table = write_study(run_study(cfg, inputs, args.workdir, progress=False), args.workdir)
    report = load_report(Path(args.workdir) / "report.json")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plots = Path(args.workdir) / "plots"
    for png in sorted([*plots.glob("sic_*.png"), *plots.glob("features_*.png")]):
        shutil.copy(png, out / png.name)
    shutil.copy(Path(args.workdir) / "report.json", out / "report.json")
    sr_bkg = int(np.sum((inputs.background.m >= 3.3) & (inputs.background.m <= 3.7)))
    lines = [
        f"bench_fig3: Pythia dev sample {data_dir}: {len(inputs.background)} background "
        f"({sr_bkg} in SR 3.3-3.7 TeV), {len(inputs.signal)} signal pool, "
        f"{len(inputs.extra_background)} extra SR background",
        f"{args.injections} injections per N_sig; preset {args.preset}, {args.epochs} epochs "
        f"for every model ({report.timings.train_seconds:.0f} s per training on average); "
        f"{args.ensemble} classifier members; template_events {args.template_events!r}; "
        f"torch threads {args.threads}",
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f} at the end",
        "",
        "median [16%, 84%] over injections:",
        table,
        "",
        *targets(report, args.n_sig),
        *validation_ranking(report, args.n_sig),
    ]
    text = "\n".join(lines)
    print(text)
    (out / "summary.txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
