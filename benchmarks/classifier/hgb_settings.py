"""Time and SIC of the weakly supervised HGB ensemble per signal region at LHCO scale.

SR data = toy SR background + injected toy signal (or, ``--stand-in gauss``, 5-d Gaussians
with an overlapping signal, harder); the template is independent SR background (an
idealized template, so SIC differences come from the classifier alone); the test set is
held-back signal plus more SR background. Settings compared:

* the fast settings (the ``HGBEnsemble`` defaults) and variants around them, 50 members;
* the slow reference: scikit-learn defaults with 200 boosting rounds and no early stopping,
  trained with fewer members; its 50-member time is extrapolated (and labelled so).

Usage: ``python benchmarks/classifier/hgb_settings.py [--quick] [--out FILE] [--configs a,b]``.
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
from resonant_ad.detect.hgb import HGBEnsemble
from resonant_ad.detect.metrics import evaluate
from resonant_ad.detect.weakly_supervised import fit_weakly_supervised

log = logging.getLogger("bench_classifier")


@dataclass(frozen=True)
class Config:
    name: str
    members: int
    params: dict[str, Any]
    extrapolate_to: int | None = None


CONFIGS: dict[str, Config] = {
    "fast-default": Config("fast-default", 50, {}),
    "es-full": Config("es-full", 50, {"subsample": 1.0}),
    "fast-lr0.2": Config("fast-lr0.2", 50, {"learning_rate": 0.2}),
    "es-full-lr0.2": Config("es-full-lr0.2", 50, {"learning_rate": 0.2, "subsample": 1.0}),
    "fast-bins63": Config("fast-bins63", 50, {"max_bins": 63}),
    "fast-20members": Config("fast-20members", 20, {}),
    "fast-2jobs": Config("fast-2jobs", 50, {"n_jobs": 2}),
    "fast-2threads": Config("fast-2threads", 50, {"n_threads": 2}),
    "sklearn-200rounds": Config(
        "sklearn-200rounds",
        5,
        {"max_iter": 200, "early_stopping": False, "subsample": 1.0},
        extrapolate_to=50,
    ),
    "sklearn-200rounds-2threads": Config(
        "sklearn-200rounds-2threads",
        5,
        {"max_iter": 200, "early_stopping": False, "subsample": 1.0, "n_threads": 2},
        extrapolate_to=50,
    ),
}
"""fast-*: the HGBEnsemble defaults (lr 0.1, <= 200 rounds, early stopping with patience 10
on the held-out fold, 255 bins, subsample 0.5, 1 thread) with the named change; es-full:
the same without subsampling; sklearn-200rounds: scikit-learn defaults, 200 rounds, no early
stopping, all of the training folds."""


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


GAUSS_SIGNAL = (0.7, 0.4)
"""Gaussian stand-in: background N(0, 1)^5, signal N(0.7, 0.4^2)^5 (optimal SIC@1e-3 ~ 6)."""


def make_gauss_sets(
    n_data: int, n_sig: int, n_template: int, n_test_bkg: int, n_test_sig: int, seed: int
) -> tuple[Events, Events, Events]:
    rng = np.random.default_rng(seed)
    mu, sd = GAUSS_SIGNAL
    names = tuple(f"x{i}" for i in range(5))

    def ev(x: np.ndarray, label: int) -> Events:
        return Events(np.full(len(x), 3.5), x, np.full(len(x), label), names)

    data = Events.concatenate(
        [ev(rng.normal(size=(n_data, 5)), 0), ev(rng.normal(mu, sd, (n_sig, 5)), 1)]
    )
    template = ev(rng.normal(size=(n_template, 5)), 0)
    test = Events.concatenate(
        [ev(rng.normal(size=(n_test_bkg, 5)), 0), ev(rng.normal(mu, sd, (n_test_sig, 5)), 1)]
    )
    return data, template, test


def optimal_line(test: Events) -> str:
    """The true likelihood ratio of the Gaussian stand-in: the best any classifier can do."""
    mu, sd = GAUSS_SIGNAL
    x = test.x
    llr = np.sum(-0.5 * ((x - mu) / sd) ** 2 - np.log(sd) + 0.5 * x**2, axis=1)
    m = evaluate(llr, test.label)
    return (
        f"{'true-likelihood-ratio':<26} {'-':>3} {'-':>8} {'-':>7} {'-':>8} {'-':>8} {'-':>6} "
        f"{m.sic_at_fpr:9.2f} {m.max_sic:8.2f} {m.auc:7.4f}"
    )


def run(cfg: Config, data: Events, template: Events, test: Events) -> str:
    clf = HGBEnsemble(cfg.members, random_state=1, **cfg.params)
    load0 = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    fit_weakly_supervised(data, template, classifier=clf)
    t_fit, c_fit = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    scores = clf.score(test.x)
    t_pred, c_pred = time.perf_counter() - t0, time.process_time() - c0
    load1 = os.getloadavg()[0]
    m = evaluate(scores, test.label)
    total, cpu = t_fit + t_pred, c_fit + c_pred
    in_children = cfg.params.get("n_jobs", 1) != 1
    cpu_txt = "   (n/a)" if in_children else f"{cpu:8.1f}"
    note = ""
    if cfg.extrapolate_to:
        factor = cfg.extrapolate_to / cfg.members
        note = (
            f"  -> {cfg.extrapolate_to} members EXTRAPOLATED: wall {total * factor:.0f} s, "
            f"cpu {cpu * factor:.0f} s"
        )
    line = (
        f"{cfg.name:<26} {cfg.members:>3} {t_fit:8.1f} {t_pred:7.1f} {total:8.1f} {cpu_txt} "
        f"{int(np.median(clf.n_iter_)):>6} {m.sic_at_fpr:9.2f} {m.max_sic:8.2f} {m.auc:7.4f} "
        f"{load0:5.2f}/{load1:5.2f}{note}"
    )
    log.info("%s", line)
    return line


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a tenth of the sizes (smoke test)")
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--n-sig", type=int, default=700)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--stand-in",
        choices=("toy", "gauss"),
        default="toy",
        help="toy LHCO-like events, or 5-d Gaussians with an overlapping signal (harder)",
    )
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
    maker = make_gauss_sets if args.stand_in == "gauss" else make_sets
    data, template, test = maker(**sizes, seed=args.seed)
    lines = [
        "# bench_classifier: weakly supervised HGB ensemble, one signal region (3.3-3.7 TeV)",
        f"# host: {platform.node()} cpus={os.cpu_count()} "
        f"usable={len(os.sched_getaffinity(0))} python={platform.python_version()}; "
        "threads per member 1 unless the config says otherwise",
        f"# load average at start: {'/'.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"# SR data: {len(data)} events ({data.n_signal} {args.stand_in} signal), template: "
        f"{len(template)} (independent {args.stand_in} SR background, i.e. an idealized "
        f"template), test: "
        f"{test.n_background} background + {test.n_signal} signal; features "
        f"{', '.join(data.feature_names)}",
        f"# {args.stand_in} data generated in {time.perf_counter() - t0:.1f} s; "
        f"seed {args.seed}; one "
        "injection, so SIC differences of ~10-20% between rows are within run-to-run noise",
        "# columns: config, members, fit s, predict s (test set), total wall s per SR, total "
        "CPU s per SR (this process; = wall on an idle core for 1 thread), median boosting "
        "rounds, SIC at FPR 1e-3, max SIC (20% cut), AUC, load avg before/after",
    ]
    for line in lines:
        log.info("%s", line)
    if args.stand_in == "gauss":
        lines.append(optimal_line(test))
        log.info("%s", lines[-1])
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
