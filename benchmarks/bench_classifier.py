"""Time and SIC of the weakly supervised HGB ensemble per signal region at LHCO scale.

SR data = toy SR background + injected toy signal; the template is independent toy SR
background (an idealized template, so SIC differences come from the classifier alone);
the test set is held-back signal plus more SR background. Settings compared:

* the fast settings (the ``HGBEnsemble`` defaults) and variants around them, 50 members;
* the slow reference: scikit-learn defaults with 200 boosting rounds and no early stopping,
  trained with fewer members; its 50-member time is extrapolated (and labelled so).

Usage: ``python benchmarks/bench_classifier.py [--quick] [--out FILE] [--configs a,b]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from resonant_ad.data.events import Events
from resonant_ad.data.features import compute_features
from resonant_ad.data.regions import DEFAULT_SIGNAL_REGION
from resonant_ad.data.toy import toy_background, toy_signal
from resonant_ad.detect.classifier import HGBEnsemble, fit_weakly_supervised
from resonant_ad.detect.metrics import evaluate

log = logging.getLogger("bench_classifier")


@dataclass(frozen=True)
class Config:
    name: str
    members: int
    params: dict[str, Any]
    extrapolate_to: int | None = None


CONFIGS: dict[str, Config] = {
    "fast-default": Config("fast-default", 50, {}),
    "fast-2jobs": Config("fast-2jobs", 50, {"n_jobs": 2}),
    "fast-2threads": Config("fast-2threads", 50, {"n_threads": 2}),
    "es-subsample0.5": Config("es-subsample0.5", 50, {"subsample": 0.5}),
    "es-lr0.2": Config("es-lr0.2", 50, {"learning_rate": 0.2}),
    "es-bins63": Config("es-bins63", 50, {"max_bins": 63}),
    "es-20members": Config("es-20members", 20, {}),
    "sklearn-200rounds": Config(
        "sklearn-200rounds",
        5,
        {"max_iter": 200, "early_stopping": False},
        extrapolate_to=50,
    ),
    "sklearn-200rounds-2threads": Config(
        "sklearn-200rounds-2threads",
        5,
        {"max_iter": 200, "early_stopping": False, "n_threads": 2},
        extrapolate_to=50,
    ),
}


def make_sets(
    n_data: int, n_sig: int, n_template: int, n_test_bkg: int, n_test_sig: int, seed: int
) -> tuple[Events, Events, Events]:
    rng = np.random.default_rng(seed)
    sr = DEFAULT_SIGNAL_REGION
    bkg = compute_features(toy_background(n_data + n_template + n_test_bkg, rng, window=sr))
    sig_all = compute_features(toy_signal(4 * (n_sig + n_test_sig), rng))
    sig = sig_all.select(sr.contains(sig_all.m))
    if len(sig) < n_sig + n_test_sig:
        raise RuntimeError("not enough toy signal in the SR; raise the pool size")
    data = Events.concatenate(
        [bkg.select(slice(0, n_data)), sig.select(slice(0, n_sig)).with_label(1)]
    )
    template = bkg.select(slice(n_data, n_data + n_template))
    test = Events.concatenate(
        [
            bkg.select(slice(n_data + n_template, None)),
            sig.select(slice(n_sig, n_sig + n_test_sig)).with_label(1),
        ]
    )
    return data, template, test


def run(cfg: Config, data: Events, template: Events, test: Events) -> str:
    clf = HGBEnsemble(cfg.members, random_state=1, **cfg.params)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    fit_weakly_supervised(data, template, classifier=clf)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    scores = clf.score(test.x)
    t_pred = time.perf_counter() - t0
    load1 = os.getloadavg()[0]
    m = evaluate(scores, test.label)
    total = t_fit + t_pred
    note = ""
    if cfg.extrapolate_to:
        factor = cfg.extrapolate_to / cfg.members
        note = f"  -> {cfg.extrapolate_to} members EXTRAPOLATED: {total * factor:7.1f} s"
    line = (
        f"{cfg.name:<26} {cfg.members:>3} {t_fit:8.1f} {t_pred:7.1f} {total:8.1f} "
        f"{int(np.median(clf.n_iter_)):>6} {m.sic_at_fpr:9.2f} {m.max_sic:8.2f} {m.auc:7.4f} "
        f"{load0:5.2f}/{load1:5.2f}{note}"
    )
    log.info("%s", line)
    if cfg.extrapolate_to:
        log.info("%s members, %.1f s per member", cfg.members, total / cfg.members)
    return line


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a tenth of the sizes (smoke test)")
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--n-sig", type=int, default=700)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    scale = 10 if args.quick else 1
    sizes = dict(
        n_data=120_000 // scale,
        n_sig=args.n_sig // scale,
        n_template=480_000 // scale,
        n_test_bkg=200_000 // scale,
        n_test_sig=20_000 // scale,
    )
    t0 = time.perf_counter()
    data, template, test = make_sets(**sizes, seed=args.seed)
    lines = [
        "# bench_classifier: weakly supervised HGB ensemble, one signal region (3.3-3.7 TeV)",
        f"# host: {platform.node()} cpus={os.cpu_count()} "
        f"usable={len(os.sched_getaffinity(0))} python={platform.python_version()}; "
        "threads per member 1 unless the config says otherwise",
        f"# load average at start: {'/'.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"# SR data: {len(data)} events ({data.n_signal} toy signal), template: "
        f"{len(template)} (independent toy SR background, i.e. an idealized template), test: "
        f"{test.n_background} background + {test.n_signal} signal; features "
        f"{', '.join(data.feature_names)}",
        f"# toy data generated in {time.perf_counter() - t0:.1f} s; seed {args.seed}; one "
        "injection, so SIC differences of ~10-20% between rows are within run-to-run noise",
        "# columns: config, members, fit s, predict s (test set), total s per SR, median "
        "boosting rounds, SIC at FPR 1e-3, max SIC (20% cut), AUC, load avg before/after",
    ]
    for line in lines:
        log.info("%s", line)
    for name in args.configs.split(","):
        lines.append(run(CONFIGS[name], data, template, test))
    lines.append(f"# load average at end: {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    log.info("done")


if __name__ == "__main__":
    main()
