"""Which latents make the better cVAE template on realistic jets: the prior or the posterior.

With ``beta = 1e-6`` the cVAE's aggregate posterior is far from its prior ``N(0, 1)``. For
every ``cvae`` model of a ``benchmarks/templates/compare.py`` run (read from its run folder, so
run that first with the same ``--workdir``), decode 4x the SR data's masses (drawn from the
first injection's SR data) with latents from the prior and from the aggregate posterior, and
tell each template from the true SR background (the odd half of the extra SR background)
with the classifier test (3 HGB members; AUC 0.5 = indistinguishable).

Usage: ``python benchmarks/templates/cvae_latents.py [--workdir runs/ranode]``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared code

from _common.dev_sample import dev_config
from resonant_ad.data.events import Events
from resonant_ad.detect.classifier_test import classifier_test
from resonant_ad.detect.hgb import HGBEnsemble
from resonant_ad.methods.registry import get
from resonant_ad.search.inputs import load_inputs
from resonant_ad.search.study import run_study


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-dir", default="../shared/data/pythia-dev")
    p.add_argument("--n-sig", type=int, nargs="+", default=[450, 1000])
    p.add_argument("--injections", type=int, default=3)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--workdir", default="runs/ranode")
    p.add_argument(
        "--out", default="benchmarks/templates/results/cvae_prior_vs_posterior_latents.txt"
    )
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cfg = dev_config(
        args.data_dir,
        n_sig=args.n_sig,
        injections=args.injections,
        methods=["cvae"],
        epochs=args.epochs,
        ensemble=10,
    )
    inputs = load_inputs(cfg.data)
    result = run_study(cfg, inputs, args.workdir, progress=False)
    assert inputs.extra_background is not None
    sr = cfg.signal_regions[0]
    odd = inputs.extra_background.select(slice(1, None, 2))
    truth = odd.select(sr.contains(odd.m))
    lines = [
        f"cVAE templates ({args.epochs} epochs, cpu preset, beta = 1e-6) against {len(truth)} "
        "true SR background events, classifier-test AUC (0.5 = indistinguishable):",
        f"{'N_sig':>6} {'injection':>9} {'prior':>8} {'posterior':>10}",
    ]
    aucs: dict[str, list[float]] = {"prior": [], "posterior": []}
    for (_, n_sig, k, _), path in sorted(result.model_files.items()):
        model = get("cvae").load_model(path, "cpu")
        m_sr = result.examples[((sr.lo, sr.hi), n_sig)]["observed"].m
        m = np.random.default_rng(0).choice(m_sr, 4 * len(m_sr))
        row = []
        for latent in ("prior", "posterior"):
            x = model.sample(m, latent=latent, seed=0)
            template = Events(m, x, np.zeros(len(m), dtype=np.int64), truth.feature_names)
            res = classifier_test(
                template,
                truth,
                classifier=HGBEnsemble(n_estimators=3, random_state=0),
                random_state=0,
            )
            aucs[latent].append(res.auc)
            row.append(res.auc)
        lines.append(f"{n_sig:>6} {k:>9} {row[0]:>8.4f} {row[1]:>10.4f}")
    prior, posterior = np.median(aucs["prior"]), np.median(aucs["posterior"])
    lines.append(f"median: prior {prior:.4f}, posterior {posterior:.4f}")
    text = "\n".join(lines)
    print(text)
    Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
