"""Fig. 3 of the SIGMA paper on LHCO-scale data: SIC of every template method vs N_sig.

The study of ``resonant-ad run`` (SR 3.3-3.7 TeV, several injections per N_sig, methods
``data``, ``cr``, ``sigma-linear``, ``sigma-context``, ``sigma-poly`` and ``iad``) on a toy
sample with the LHC Olympics R&D sizes (1M background events over the whole spectrum, a
100k signal pool, and extra SR background for testing), then the paper's targets checked at
N_sig = 1000 and 3000.

The work can be split over processes that share one work folder (every finished piece is
cached under its own key): ``--only-n-sig 1000`` computes the pieces of one N_sig and writes
nothing else; a final run without it reads them all back and writes the report, the plots
and the targets.

Usage: ``python benchmarks/bench_fig3.py [--max-seconds S] [--ensemble E] [--only-n-sig N]``.
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

from resonant_ad.config import config_from_dict
from resonant_ad.data.features import compute_features
from resonant_ad.data.toy import make_toy_sample
from resonant_ad.report.report import load_report
from resonant_ad.search.inputs import StudyInputs
from resonant_ad.search.outputs import run_and_report
from resonant_ad.search.study import StudyRun

METHODS = ["data", "cr", "sigma-linear", "sigma-context", "sigma-poly", "iad"]


def _median(report, n_sig: int, method: str) -> float:
    """Median SIC at FPR 1e-3 of one (N_sig, method) row; NaN if the row is missing."""
    for r in report.results:
        if r.n_sig == n_sig and r.method == method:
            return float(r.sic_at_fpr_1e_3["median"])
    return float("nan")


def targets(report) -> list[str]:
    """The Fig. 3 targets, each as a line with the measured numbers."""
    ctx, cr, iad = (_median(report, 1000, m) for m in ("sigma-context", "cr", "iad"))
    data3, cr3 = _median(report, 3000, "data"), _median(report, 3000, "cr")

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    return [
        f"N_sig=1000: sigma-context / cr median SIC@1e-3 = {ctx:.2f} / {cr:.2f} = "
        f"{ctx / cr:.2f} (target >= 0.9: {verdict(ctx >= 0.9 * cr)})",
        f"N_sig=1000: sigma-context / iad median SIC@1e-3 = {ctx:.2f} / {iad:.2f} = "
        f"{ctx / iad:.2f} (target >= 0.75: {verdict(ctx >= 0.75 * iad)})",
        f"N_sig=3000: data vs cr median SIC@1e-3 = {data3:.2f} vs {cr3:.2f} "
        f"(target data < cr: {verdict(data3 < cr3)})",
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n-background", type=int, default=1_000_000)
    p.add_argument("--n-signal", type=int, default=100_000)
    p.add_argument("--n-extra", type=int, default=400_000, help="extra SR background events")
    p.add_argument("--n-sig", type=int, nargs="+", default=[1000, 3000])
    p.add_argument("--injections", type=int, default=3)
    p.add_argument("--methods", nargs="+", default=METHODS)
    p.add_argument("--preset", default="cpu")
    p.add_argument("--max-seconds", type=float, default=240.0, help="training budget per model")
    p.add_argument("--ensemble", type=int, default=20, help="classifier members")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--only-n-sig", type=int, default=None, help="compute one N_sig's pieces")
    p.add_argument("--workdir", default="/tmp/bench_fig3")
    p.add_argument("--out", default="benchmarks/results/bench_fig3")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("matplotlib").setLevel(logging.ERROR)

    import torch

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    toy = make_toy_sample(args.n_background, args.n_signal, args.n_extra, seed=0)
    inputs = StudyInputs(
        compute_features(toy.background),
        compute_features(toy.signal),
        compute_features(toy.extra_background),
    )
    n_sig = [args.only_n_sig] if args.only_n_sig is not None else args.n_sig
    cfg = config_from_dict(
        {
            "data": {"events": "toy.h5"},
            "study": {
                "signal_regions": [[3.3, 3.7]],
                "n_sig": n_sig,
                "n_injections": args.injections,
                "methods": args.methods,
                "seed": 0,
                "device": "cpu",
            },
            "model": {"preset": args.preset, "max_seconds": args.max_seconds},
            "classifier": {"ensemble_size": args.ensemble, "oversampling": 4},
        }
    )
    if args.only_n_sig is not None:
        for piece in StudyRun(cfg, inputs, args.workdir, progress=False).run():
            print(
                f"N_sig={piece.n_sig} injection {piece.injection} {piece.method}: "
                f"SIC@1e-3 {piece.metrics.sic_at_fpr:.2f}, max SIC {piece.metrics.max_sic:.2f} "
                f"({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
        return

    table = run_and_report(cfg, inputs, args.workdir, progress=False)
    report = load_report(Path(args.workdir) / "report.json")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plots = Path(args.workdir) / "plots"
    for png in sorted([*plots.glob("sic_*.png"), *plots.glob("features_*nsig1000.png")]):
        shutil.copy(png, out / png.name)
    shutil.copy(Path(args.workdir) / "report.json", out / "report.json")
    sr_bkg = int(np.sum((inputs.background.m >= 3.3) & (inputs.background.m <= 3.7)))
    lines = [
        f"bench_fig3: toy data with LHCO R&D sizes: {len(inputs.background)} background "
        f"({sr_bkg} in SR 3.3-3.7 TeV), {len(inputs.signal)} signal pool, "
        f"{len(inputs.extra_background)} extra SR background",
        f"{args.injections} injections per N_sig; preset {args.preset} with "
        f"{args.max_seconds:g} s of training per model; {args.ensemble} classifier members; "
        f"torch threads {args.threads}",
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f} at the end",
        "",
        "median [16%, 84%] over injections:",
        table,
        "",
        *targets(report),
    ]
    text = "\n".join(lines)
    print(text)
    (out / "summary.txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
