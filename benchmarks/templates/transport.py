"""Templates by transport on realistic jets: FETA (and SALAD, CURTAINs-F4F where registered)
against the sideband and SIGMA templates, and how far FETA's transport closes the
sim-vs-data gap.

The study of ``resonant-ad run`` on the Pythia dev sample (``../shared/data/pythia-dev``) as
data, with the reference simulation (``make simulation``: ``runs/simulation/qcd_sim.h5``,
``--tune sim``) as ``[data] simulation``; SR 3.3-3.7 TeV, ``--injections`` injections at each
N_sig, every network at the same number of epochs (``[model] epochs``). Then:

- detection: SIC at FPR 1e-3 (median and 16-84% over injections), max SIC and AUC of every
  method (``summary.txt``, SIC plots in ``plots/``);
- fidelity: the classifier test of each template of the first injection against true SR
  background (the odd half of the extra SR background);
- sim-vs-data pulls before and after FETA's transport, in the sidebands (against the dev
  sample's sideband QCD) and in the SR (against the true SR background): per feature the
  shift of the mean in units of the data's standard deviation and the largest histogram
  pull (:func:`templates.fidelity.pulls`), and the classifier-test AUC. "Before" is the
  simulation itself and ``sim-nf`` (its flow, FETA's base); "after" is ``feta`` of the
  first injection at the smallest N_sig, sampled at the data's masses;
- cost on this CPU: seconds of training (``sim-nf`` once per study; the others per SR, or
  once for ``v_data``) and per SR, and a 10-SR scan's cost.

Usage: ``python benchmarks/templates/transport.py [--epochs E] [--workers W] [--methods ...]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared code

from _common.dev_sample import dev_config
from resonant_ad.data.events import Events
from resonant_ad.detect.classifier_test import classifier_test
from resonant_ad.detect.hgb import HGBEnsemble
from resonant_ad.methods.registry import names as registered
from resonant_ad.report.outputs import write_study
from resonant_ad.search.engine import open_executor
from resonant_ad.search.inputs import load_inputs
from resonant_ad.search.study import run_study
from templates.compare import SCAN_SRS, template_fidelity, timing_table
from templates.fidelity import pulls

TRANSPORT = ["sim-nf", "feta", "salad", "curtains-f4f"]
"""The transport methods of this benchmark (those registered are run)."""
REFERENCE = ["cr", "sigma-context"]
ONCE = {"sim-nf", "sigma-context"}


def mismatch(sample: Events, data: Events, seed: int = 0) -> list[str]:
    """Per feature: mean shift (data std) and largest pull; then the classifier-test AUC."""
    cells = []
    for j, feature in enumerate(data.feature_names):
        shift = (np.mean(sample.x[:, j]) - np.mean(data.x[:, j])) / np.std(data.x[:, j])
        cells.append(f"{feature} {shift:+.3f}/{pulls(sample.x[:, j], data.x[:, j]):.1f}")
    auc = classifier_test(
        sample.with_label(0),
        data.with_label(0),
        classifier=HGBEnsemble(n_estimators=3, random_state=seed),
        random_state=seed,
    ).auc
    return [*cells, f"AUC {auc:.4f}"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-dir", default="../shared/data/pythia-dev")
    p.add_argument("--simulation", default="runs/simulation/qcd_sim.h5")
    p.add_argument("--n-sig", type=int, nargs="+", default=[450, 1000])
    p.add_argument("--injections", type=int, default=3)
    p.add_argument("--epochs", type=int, default=40, help="training epochs of every model")
    p.add_argument("--ensemble", type=int, default=10, help="classifier members")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--methods", nargs="+", default=None)
    p.add_argument("--workdir", default="runs/ranode")
    p.add_argument("--out", default="benchmarks/templates/results/transport_vs_sideband_and_sigma")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    available = set(registered())
    methods = args.methods or [m for m in [*TRANSPORT, *REFERENCE] if m in available] + ["iad"]

    t0 = time.perf_counter()
    cfg = dev_config(
        args.data_dir,
        n_sig=args.n_sig,
        injections=args.injections,
        methods=methods,
        epochs=args.epochs,
        ensemble=args.ensemble,
        data={"simulation": str(Path(args.simulation).resolve())},
    )
    inputs = load_inputs(cfg.data)
    with open_executor(args.workers) as executor:
        result = run_study(cfg, inputs, args.workdir, executor=executor, progress=False)
    study_seconds = time.perf_counter() - t0
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    table = write_study(result, out)
    sr = cfg.signal_regions[0]
    assert inputs.extra_background is not None and inputs.simulation is not None
    odd = inputs.extra_background.select(slice(1, None, 2))
    truth = odd.select(sr.contains(odd.m))
    templates = [m for m in methods if m != "iad"]

    lines = [
        f"bench_transport: Pythia dev sample {args.data_dir} as data, simulation "
        f"{args.simulation} ({len(inputs.simulation)} events); features "
        f"{inputs.background.feature_names}; SR [{sr.lo}, {sr.hi}] TeV; {args.injections} "
        f"injections per N_sig; every model: preset cpu, {args.epochs} epochs; classifier: "
        f"{args.ensemble} members",
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs; {args.workers} Dask workers "
        f"(1 torch thread each); study wall time {study_seconds:.0f} s (models cached from "
        f"earlier runs in {args.workdir} are reused, with their recorded training seconds)",
        "",
        table,
        "",
        f"template fidelity: classifier test (3 HGB members) of the first injection's template "
        f"against {len(truth)} true SR background events (AUC; 0.5 = indistinguishable):",
    ]
    fid = template_fidelity(result, truth, names=templates)
    lines.append(f"  {'N_sig':>6} " + " ".join(f"{m:>14}" for m in templates))
    for n_sig in args.n_sig:
        row = " ".join(f"{fid.get((n_sig, m), float('nan')):>14.4f}" for m in templates)
        lines.append(f"  {n_sig:>6} {row}")

    if "feta" in methods:
        qcd = inputs.background
        sim = inputs.simulation
        feta = result.model("feta", n_sig=args.n_sig[0])
        sim_nf = result.model("sim-nf", n_sig=args.n_sig[0]) if "sim-nf" in methods else None
        lines += [
            "",
            "sim-vs-data mismatch before and after FETA's transport: per feature the mean shift "
            "(data std) / largest |pull| of the normalised histograms, and the classifier-test "
            "AUC (3 HGB members; 0.5 = indistinguishable); feta and sim-nf of injection 0 at "
            f"N_sig {args.n_sig[0]}, sampled at the data's masses:",
        ]
        for region, pick, data in (
            ("sidebands", lambda m: ~sr.contains(m), None),
            ("SR", sr.contains, truth),
        ):
            if data is None:
                data = qcd.select(pick(qcd.m))
            rows = [("simulation", sim.select(pick(sim.m)))]
            for name, model in (("sim-nf", sim_nf), ("feta", feta)):
                if model is not None:
                    x = model.sample(data.m, seed=1)
                    rows.append((name, Events(data.m, x, np.zeros(len(data)), data.feature_names)))
            lines.append(f"  {region} ({len(data)} data events):")
            for name, sample in rows:
                lines.append(f"    {name:<11} " + "  ".join(mismatch(sample, data)))

    lines += [
        "",
        "cost on this CPU, mean over the study's models (classifier time left out); cost per "
        "SR = template (+ training, for the methods trained per SR); a "
        f"{SCAN_SRS}-SR scan = {SCAN_SRS} x cost per SR (+ the one training of v_data or "
        "sim-nf). feta's cost per SR excludes its base, sim-nf, trained once per study:",
    ]
    timing, _ = timing_table(result, templates, once=ONCE)
    lines += [f"  {line}" for line in timing]
    text = "\n".join(lines)
    print(text)
    (out / "summary.txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
