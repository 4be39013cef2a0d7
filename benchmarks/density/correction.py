"""How much of the background model's misfit in the SR does the sideband correction take out?

On the Pythia dev sample (SR 3.3-3.7 TeV) the ``v_data`` models of ``ranode.py --study starts``
(read from its ``--workdir``; trained on demand otherwise) give SIGMA's ``sigma-context``
background density in the SR. :class:`~resonant_ad.density.correction.SidebandCorrection`
learns the ratio of the sideband data to the model's samples there (``[density]
correction = "sidebands"`` with its default settings, or those given) and corrects the SR
density with it. Per injection:

- the correction's held-out sideband AUC of data against the model, before and after
  weighting the model's samples by the ratio;
- in the SR, against true background events that neither the model nor the correction saw
  (the half of the extra SR QCD the study leaves out): the AUC of a fresh boosted-tree
  classifier telling them from SIGMA's SR samples (half of the events for training, AUC on
  the other half), the samples unweighted and weighted by the ratio; and the mean gain in
  ``log p_B`` of those true background events from the correction (nats per event: the KL
  divergence to the true background that the correction takes out).

Usage: ``python benchmarks/density/correction.py [--n-sig 0 1000] [--width 0.4]
[--members 3] [--samples 2] [--workdir runs/ranode_starts]``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared code

from _common.dev_sample import ranode_config, sideband_correction, sr_fit_inputs
from resonant_ad.config import DensityConfig
from resonant_ad.density.background import REFERENCE_FACTOR
from resonant_ad.methods.registry import get
from resonant_ad.search.inputs import load_inputs
from resonant_ad.search.study import run_study, study_injections


def sr_auc(truth: np.ndarray, template: np.ndarray, weights: np.ndarray, seed: int) -> float:
    """AUC of a fresh classifier telling ``truth`` from the ``template`` weighted by
    ``weights`` (half of the events for training, AUC on the other half)."""
    rng = np.random.default_rng(seed)
    X = np.concatenate([truth, template])
    y = np.r_[np.ones(len(truth)), np.zeros(len(template))]
    w = np.r_[np.ones(len(truth)), weights * len(truth) / weights.sum()]
    half = rng.random(len(X)) < 0.5
    clf = HistGradientBoostingClassifier(max_iter=200, early_stopping=True, random_state=seed)
    clf.fit(X[half], y[half], sample_weight=w[half])
    score = clf.predict_proba(X[~half])[:, 1]
    return float(roc_auc_score(y[~half], score, sample_weight=w[~half]))


def main() -> None:
    defaults = DensityConfig()
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-dir", default="../shared/data/pythia-dev")
    p.add_argument("--n-sig", type=int, nargs="+", default=[0, 1000])
    p.add_argument("--injections", type=int, default=3)
    p.add_argument("--width", type=float, default=defaults.correction_width)
    p.add_argument("--members", type=int, default=defaults.correction_members)
    p.add_argument("--samples", type=int, default=defaults.correction_samples)
    p.add_argument("--epochs", type=int, default=40, help="training epochs of v_data")
    p.add_argument("--ensemble", type=int, default=10)
    p.add_argument("--workdir", default="runs/ranode_starts")
    p.add_argument("--out", default="benchmarks/density/results/sideband_correction_gain.txt")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)

    t0 = time.perf_counter()
    density = {  # as ranode.py --study starts, with the correction's settings
        "background": "sigma-context",
        "w_init": [0.01, 0.05],
        "correction_width": args.width,
        "correction_members": args.members,
        "correction_samples": args.samples,
    }
    cfg0 = ranode_config(args, n_sig=args.n_sig[0], density=density)
    inputs = load_inputs(cfg0.data)
    assert inputs.extra_background is not None
    sr = cfg0.signal_regions[0]
    extra = inputs.extra_background.select(slice(1, None, 2))  # the half the study leaves out
    truth = extra.select(sr.contains(extra.m))
    method = get("sigma-context")
    lines = [
        f"bench_correction: dev sample, SR [{sr.lo}, {sr.hi}] TeV, v_data {args.epochs} epochs "
        f"(cpu preset), sigma-context; sideband correction: {args.members} MLPs, "
        f"{args.width} TeV sidebands, {args.samples} model samples per sideband event; "
        f"{len(truth)} true SR background events for the SR checks",
        "",
        "N_sig inj | sideband AUC: before, after | SR AUC truth vs SIGMA: before, after | "
        "log p_B gain of the true SR background (nats/event) | correction s",
    ]
    print("\n".join(lines), flush=True)
    for n_sig in args.n_sig:
        cfg = ranode_config(args, n_sig=n_sig, density=density)
        study = run_study(cfg, inputs, args.workdir, progress=False)
        for k, inj in enumerate(study_injections(cfg, inputs, n_sig, sr)):
            model = study.model("sigma-context", n_sig, k)
            region = sr_fit_inputs(inj, cfg)[2]
            correction = sideband_correction(model, inj, cfg)
            reference = method.template(model, region, REFERENCE_FACTOR * len(region.data))
            log_p = method.log_density(model, region, truth)
            (log_p_corrected,), _ = correction.correct([log_p], [truth], reference)
            r_ref = correction.ratio(reference.x, reference.m)
            truth_xm = np.column_stack([truth.m, truth.x])
            ref_xm = np.column_stack([reference.m, reference.x])
            before = sr_auc(truth_xm, ref_xm, np.ones(len(reference)), seed=k)
            after = sr_auc(
                truth_xm, ref_xm, np.minimum(r_ref / r_ref.mean(), correction.max_weight), seed=k
            )
            lines.append(
                f"{n_sig:5d} {k:3d} | {correction.auc_before_:.4f}, {correction.auc_after_:.4f} | "
                f"{before:.4f}, {after:.4f} | {np.mean(log_p_corrected - log_p):+.4f} | "
                f"{correction.fit_seconds_:.0f}"
            )
            print(lines[-1], flush=True)
    lines += ["", f"wall time {time.perf_counter() - t0:.0f} s"]
    text = "\n".join(lines)
    print(lines[-1])
    Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
