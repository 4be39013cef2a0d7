"""The study's classifier per signal region on realistic jets: its seconds and the SIC they buy.

On the Pythia dev sample (SR 3.3-3.7 TeV, ``../shared/data/pythia-dev``) the idealized
classifier (``iad``: the SR data against true SR background from
``extra_sr_background.h5``) is trained as a study trains it, with the default classifier
(50 boosted-tree members, out-of-fold scores) for ``--n-sig`` injections: the template
needs no training, so what is timed is the classifier alone. Printed per N_sig: SIC at a
background efficiency of 1e-3 and the maximum SIC of every injection, and the classifier's
seconds per SR (wall) and the whole study's CPU seconds (one thread, so what a free core
would take whatever the machine's load; the iad has no model to train, so this is the
classifiers' training and scoring, and reading the data).

Run it once per code version to compare (e.g. the code before a change through
``PYTHONPATH=/path/to/old/src``) and give each run a ``--label``; ``--append`` adds the run
to the output instead of replacing it, so runs made side by side share one file.

Usage: ``python benchmarks/classifier/study_cost.py --label NAME [--append]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common.dev_sample import dev_config
from _common.provenance import code_version
from resonant_ad.search.inputs import load_inputs
from resonant_ad.search.study import run_study


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default="../shared/data/pythia-dev")
    p.add_argument("--n-sig", type=int, nargs="+", default=[450, 1000])
    p.add_argument("--injections", type=int, default=3)
    p.add_argument("--ensemble", type=int, default=None, help="members (default: config's)")
    p.add_argument("--label", required=True, help="name of this run in the output")
    p.add_argument("--append", action="store_true")
    p.add_argument("--out", default="benchmarks/classifier/results/study_cost.txt")
    args = p.parse_args()

    cfg = dev_config(
        args.data_dir,
        n_sig=args.n_sig,
        injections=args.injections,
        methods=["iad"],
        ensemble=args.ensemble,
    )
    inputs = load_inputs(cfg.data)
    load = os.getloadavg()[0]
    t0, cpu0 = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as work:
        result = run_study(cfg, inputs, work, progress=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    lines = [
        f"## {args.label}: resonant_ad from {code_version()}; "
        f"{cfg.classifier.ensemble_size} members; "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load:.1f} at the start "
        f"and {os.getloadavg()[0]:.1f} at the end; study wall time {wall:.0f} s, CPU time "
        f"{cpu:.0f} s (one thread: what a free core takes, whatever the load)",
        "N_sig  injection  SIC@1e-3  max SIC  classifier s/SR",
    ]
    for n in args.n_sig:
        rows = sorted((s for s in result.scores if s.n_sig == n), key=lambda s: s.injection)
        for s in rows:
            lines.append(
                f"{n:5d}  {s.injection:9d}  {s.metrics.sic_at_fpr:8.2f}  "
                f"{s.metrics.max_sic:7.2f}  {s.classifier_seconds:15.1f}"
            )
        sic = [s.metrics.sic_at_fpr for s in rows]
        secs = [s.classifier_seconds for s in rows]
        lines.append(
            f"{n:5d}  median     {np.median(sic):8.2f}  {'':7s}  {np.mean(secs):15.1f} (mean)"
        )
    text = "\n".join(lines) + "\n"
    out = Path(args.out)
    header = (
        "bench_study_classifier: the study's classifier per SR (iad, dev sample, SR 3.3-3.7 "
        "TeV): seconds and SIC; one block per run (benchmarks/classifier/study_cost.py)\n"
    )
    if args.append and out.exists():
        text = out.read_text() + "\n" + text
    else:
        text = header + "\n" + text
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
