"""How different the reference simulation is from the data: the sim-vs-data mismatch FETA and
SALAD must correct.

The QCD of the Pythia dev sample (``../shared/data/pythia-dev``, "data") against the reference
simulation (``make simulation``: ``runs/simulation/qcd_sim.h5``, ``--tune sim``), in the
sidebands of the SR 3.3-3.7 TeV and in the SR (where the truth is known here). Per feature:
the shift of the mean in units of the data's standard deviation and the largest per-bin
pull of the normalised histograms (40 bins over the data's 0.5-99.5% range); per region: the
AUC of a classifier telling simulation from data (3 HGB members, held-out events; 0.5 =
indistinguishable).

Usage: ``python benchmarks/templates/sim_vs_data.py [--simulation FILE]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared code

from resonant_ad.data.features import compute_features
from resonant_ad.data.lhco import read_lhco, split_by_label
from resonant_ad.data.regions import SignalRegion
from resonant_ad.detect.classifier_test import classifier_test
from resonant_ad.detect.hgb import HGBEnsemble
from templates.fidelity import pulls


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-dir", default="../shared/data/pythia-dev")
    p.add_argument("--simulation", default="runs/simulation/qcd_sim.h5")
    p.add_argument("--out", default="benchmarks/templates/results/sim_vs_data_mismatch.txt")
    args = p.parse_args()
    data, _ = split_by_label(read_lhco(Path(args.data_dir) / "events.h5"))
    data_ev = compute_features(data)
    sim_ev = compute_features(read_lhco(args.simulation, label=0))
    sr = SignalRegion(3.3, 3.7)
    lines = [
        f"data: {len(data_ev)} QCD events of {args.data_dir}; simulation: {len(sim_ev)} events "
        f"of {args.simulation}",
        f"mjj: data {np.mean(data_ev.m):.3f} +- {np.std(data_ev.m):.3f} TeV, simulation "
        f"{np.mean(sim_ev.m):.3f} +- {np.std(sim_ev.m):.3f} TeV; fraction in the SR: data "
        f"{np.mean(sr.contains(data_ev.m)):.4f}, simulation {np.mean(sr.contains(sim_ev.m)):.4f}",
    ]
    for name, pick in (("sidebands", lambda m: ~sr.contains(m)), ("SR", sr.contains)):
        d = data_ev.select(pick(data_ev.m))
        s = sim_ev.select(pick(sim_ev.m))
        lines.append(f"{name}: {len(d)} data, {len(s)} simulated events")
        for j, feature in enumerate(data_ev.feature_names):
            shift = (np.mean(s.x[:, j]) - np.mean(d.x[:, j])) / np.std(d.x[:, j])
            pull = pulls(s.x[:, j], d.x[:, j])
            lines.append(f"  {feature:<10} mean shift {shift:+.3f} std, largest |pull| {pull:.1f}")
        res = classifier_test(
            s, d, classifier=HGBEnsemble(n_estimators=3, random_state=0), random_state=0
        )
        lines.append(f"  classifier test, simulation vs data: AUC {res.auc:.4f}")
    text = "\n".join(lines)
    print(text)
    Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
