"""How far one method's SIC at FPR 1e-3 moves from study seed to study seed on realistic jets.

The study of ``resonant-ad run`` on the Pythia dev sample (SR 3.3-3.7 TeV), one method,
``--injections`` injections of ``--n-sig`` signal events, 40 epochs of the ``cpu`` preset and
10 classifier members (as ``compare.py``), repeated for each study ``--seeds`` value (another
seed draws other injections and trains other models). Prints, per seed, the SIC at FPR 1e-3
of every injection and their median, and the commit of the ``resonant_ad`` that ran
(:func:`_common.provenance.code_version`): run it with ``PYTHONPATH`` set to another
checkout's ``src`` to compare two versions of a method on the same injections.

Usage: ``OMP_NUM_THREADS=1 [PYTHONPATH=CHECKOUT/src] python benchmarks/templates/seed_spread.py
--method transit --n-sig 450 --seeds 1 2 [--append] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared code

from _common.dev_sample import dev_config
from _common.provenance import code_version
from resonant_ad.search.engine import open_executor
from resonant_ad.search.inputs import load_inputs
from resonant_ad.search.study import run_study


def seed_sics(args: argparse.Namespace, seed: int) -> list[float]:
    """SIC at FPR 1e-3 of ``args.method`` for each injection of the study seeded ``seed``."""
    cfg = dev_config(
        args.data_dir,
        n_sig=[args.n_sig],
        injections=args.injections,
        methods=[args.method],
        epochs=args.epochs,
        ensemble=args.ensemble,
        seed=seed,
    )
    inputs = load_inputs(cfg.data)
    workdir = Path(args.workdir) / f"seed-{seed}"
    with open_executor(args.workers) as executor:
        result = run_study(cfg, inputs, workdir, executor=executor, progress=False)
    return sorted(s.metrics.sic_at_fpr for s in result.scores if s.method == args.method)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-dir", default="../shared/data/pythia-dev")
    p.add_argument("--method", default="transit")
    p.add_argument("--n-sig", type=int, default=450)
    p.add_argument("--injections", type=int, default=3)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--ensemble", type=int, default=10)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--workdir", default="runs/seed_spread")
    p.add_argument("--out", default="benchmarks/templates/results/seed_spread.txt")
    p.add_argument("--append", action="store_true", help="add rows to --out, no header")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    lines = [
        f"seed spread on the Pythia dev sample, SR 3.3-3.7 TeV: SIC at FPR 1e-3 of each of "
        f"{args.injections} injections per study seed, cpu preset, {args.epochs} epochs, "
        f"{args.ensemble} classifier members",
        f"{'method':<14} {'N_sig':>5} {'seed':>4}  {'code':<28} {'median':>6}  per injection",
    ]
    if args.append:
        lines = Path(args.out).read_text().splitlines()
    version = code_version()
    for seed in args.seeds:
        sics = seed_sics(args, seed)
        lines.append(
            f"{args.method:<14} {args.n_sig:>5} {seed:>4}  {version:<28} "
            f"{float(np.median(sics)):>6.2f}  " + " ".join(f"{v:.2f}" for v in sics)
        )
        print(lines[-1], flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
