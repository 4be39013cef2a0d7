"""``rad-ot`` settings on the Pythia dev sample: where its template fails, and which settings help.

For one injection of ``--n-sig`` signal events into ``../shared/data/pythia-dev`` (SR 3.3-3.7
TeV), each variant (a set of ``[method.rad-ot]`` settings, :class:`OTSettings`) solves its
plan and makes the template (4x the SR data's events), then reports:

- label-free: the validation-window AUC (the same template-making with each window next to
  the SR, 2.9-3.3 and 3.7-4.1 TeV, in the role of the SR, against the data there:
  :func:`~resonant_ad.search.validation.validation_auc`, 5 HGB members), their mean, and the
  plan's mean transport cost (in its own space);
- with the labels, to check: the classifier test of the SR template against true SR
  background (the odd half of the extra SR background; 3 HGB members, as
  ``compare.py``; 0.5: indistinguishable), the same per feature, and each feature's largest
  histogram pull against it (40 bins over the truth's 0.5-99.5% range);
- the seconds of the SR's solve and of its template.

Settings are chosen by the mean validation AUC (lower is better), never by the labelled
columns. ``--sic A B`` then runs the study of ``rad-ot`` with the variants ``A``, ``B`` (and
``cr`` for reference) at N_sig 450 and 1000 and appends its tables (SIC at FPR 1e-3 with
signal). Usage: ``python benchmarks/templates/rad_ot_settings.py [--variants a b ...]
[--sic a b --injections 2]``; ``OMP_NUM_THREADS=1`` on a shared machine. Each variant's
figures and each study's table are kept in ``--workdir`` and reused (``--fresh``: remeasure).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared code

DEV = Path(__file__).resolve().parents[3] / "shared" / "data" / "pythia-dev"
OUT = Path(__file__).resolve().parent / "results" / "rad_ot_settings.txt"

OLD: dict[str, Any] = {
    "events_per_side": 3000,
    "side_width": 0.0,
    "space": "standard",
    "batch": 0,
    "solver": "sinkhorn",
    "reg": 0.05,
}
"""The earlier defaults (sinkhorn over 3000 events per side of the whole sidebands);
every variant changes some of them."""

NEW: dict[str, Any] = {
    **OLD,
    "side_width": 0.4,
    "space": "gauss",
    "events_per_side": 0,
    "solver": "exact",
    "batch": 3000,
}
"""The settings chosen by the validation windows (the defaults); the further variants change
them."""

VARIANTS: dict[str, dict[str, Any]] = {
    "old-default": OLD,
    "exact-3000": {**OLD, "solver": "exact"},
    "sinkhorn-reg0.2": {**OLD, "reg": 0.2},
    "exact-all-b3000": {**OLD, "events_per_side": 0, "solver": "exact", "batch": 3000},
    "side0.2-sinkhorn": {**OLD, "side_width": 0.2},
    "side0.2-exact-all-b3000": {
        **OLD,
        "side_width": 0.2,
        "events_per_side": 0,
        "solver": "exact",
        "batch": 3000,
    },
    "side0.4-exact-all-b3000": {
        **OLD,
        "side_width": 0.4,
        "events_per_side": 0,
        "solver": "exact",
        "batch": 3000,
    },
    "side0.3-exact-all-b3000": {
        **OLD,
        "side_width": 0.3,
        "events_per_side": 0,
        "solver": "exact",
        "batch": 3000,
    },
    "side0.6-exact-all-b3000": {
        **OLD,
        "side_width": 0.6,
        "events_per_side": 0,
        "solver": "exact",
        "batch": 3000,
    },
    "side0.4-exact-all-b1500": {
        **OLD,
        "side_width": 0.4,
        "events_per_side": 0,
        "solver": "exact",
        "batch": 1500,
    },
    "side0.4-gauss-exact-all-b3000": {
        **OLD,
        "side_width": 0.4,
        "space": "gauss",
        "events_per_side": 0,
        "solver": "exact",
        "batch": 3000,
    },
    "side0.2-gauss-exact-all-b3000": {**NEW, "side_width": 0.2},
    "side0.3-gauss-exact-all-b3000": {**NEW, "side_width": 0.3},
    "side0.6-gauss-exact-all-b3000": {**NEW, "side_width": 0.6},
    "side0.4-gauss-exact-all-b1500": {**NEW, "batch": 1500},
    "side0.4-gauss-exact-all-b6000": {**NEW, "batch": 6000},
}


def template_in(window: Any, inj: Any, settings: Any, seed: int) -> tuple[Any, Any, float, float]:
    """The plan of ``window`` (as the SR) from the injection's training and validation
    events, its template of 4x the window's data and the seconds of each."""
    from resonant_ad.models.base import ModelContext, draw_template
    from resonant_ad.models.ot_plan import OTPlan

    t0 = time.perf_counter()
    plan = OTPlan(settings, ModelContext(window)).fit(inj.train, inj.val, random_state=seed)
    t1 = time.perf_counter()
    data = inj.data.select(window.contains(inj.data.m))
    template = draw_template(plan, window, data, 4 * len(data), seed, "rad-ot")
    return plan, template, t1 - t0, time.perf_counter() - t1


def measure(name: str, raw: dict[str, Any], inj: Any, truth: Any, seed: int) -> dict[str, Any]:
    from resonant_ad.data.events import Events
    from resonant_ad.detect.classifier_test import classifier_test
    from resonant_ad.detect.hgb import HGBEnsemble
    from resonant_ad.models.ot_plan import OTSettings
    from resonant_ad.search.validation import validation_auc, validation_windows
    from templates.fidelity import pulls

    settings = OTSettings(**raw)
    sr = inj.signal_region
    plan, template, solve_s, template_s = template_in(sr, inj, settings, seed)
    out: dict[str, Any] = {
        "variant": name,
        "settings": raw,
        "solve_s": solve_s,
        "template_s": template_s,
        "events": [len(plan.m_lo_), len(plan.m_hi_)],
        "pairs": len(plan.w_),
        "cost": plan.mean_cost_,
    }
    out["val_auc"] = {}
    for window in validation_windows(sr):
        _, w_template, _, _ = template_in(window, inj, settings, seed)
        w_data = inj.data.select(window.contains(inj.data.m)).with_label(0)
        out["val_auc"][f"{window.lo:g}-{window.hi:g}"] = validation_auc(
            w_data, w_template, seed=seed
        )
    res = classifier_test(
        template, truth, classifier=HGBEnsemble(n_estimators=3, random_state=seed), random_state=0
    )
    out["truth_auc"] = float(res.auc)
    out["feature_auc"], out["max_pull"] = {}, {}
    for j, feat in enumerate(truth.feature_names):
        one = (
            Events(template.m, template.x[:, [j]], template.label, (feat,)),
            Events(truth.m, truth.x[:, [j]], truth.label, (feat,)),
        )
        r = classifier_test(
            *one, classifier=HGBEnsemble(n_estimators=2, random_state=seed), random_state=seed
        )
        out["feature_auc"][feat] = float(r.auc)
        out["max_pull"][feat] = pulls(template.x[:, j], truth.x[:, j])
    return out


def table(results: list[dict[str, Any]], header: str) -> str:
    names = list(results[0]["max_pull"])
    lines = [
        header,
        "",
        "variant | events lo/hi | pairs | val AUC 2.9-3.3 / 3.7-4.1 (mean) | cost | "
        "truth AUC | per-feature AUC "
        + "/".join(names)
        + " | max pull "
        + "/".join(names)
        + " | solve s | template s",
    ]
    for r in results:
        va = list(r["val_auc"].values())
        lines.append(
            f"{r['variant']} | {r['events'][0]}/{r['events'][1]} | {r['pairs']} | "
            f"{va[0]:.3f} / {va[1]:.3f} ({np.mean(va):.3f}) | {r['cost']:.2f} | "
            f"{r['truth_auc']:.3f} | "
            + "/".join(f"{v:.3f}" for v in r["feature_auc"].values())
            + " | "
            + "/".join(f"{v:.1f}" for v in r["max_pull"].values())
            + f" | {r['solve_s']:.1f} | {r['template_s']:.1f}"
        )
    for r in results:
        lines.append(f"  {r['variant']}: {json.dumps(VARIANTS[r['variant']])}")
    best = min(results, key=lambda r: float(np.mean(list(r["val_auc"].values()))))
    lines.append(f"lowest mean validation AUC (the label-free choice): {best['variant']}")
    return "\n".join(lines)


def sic_study(args: argparse.Namespace, variant: str) -> str:
    """The study of ``rad-ot`` (with ``variant``'s settings) and ``cr`` at N_sig 450 and
    1000: its summary table (SIC at FPR 1e-3, max SIC, AUC), kept in the workdir."""
    from _common.dev_sample import dev_config
    from resonant_ad.report.outputs import write_study
    from resonant_ad.search.inputs import load_inputs
    from resonant_ad.search.study import run_study

    path = Path(args.workdir) / f"sic-{variant}-inj{args.injections}.txt"
    if path.is_file() and not args.fresh:
        return path.read_text()
    cfg = dev_config(
        args.data_dir,
        n_sig=[450, 1000],
        injections=args.injections,
        methods=["rad-ot", "cr"],
        epochs=40,
        ensemble=10,
        method={"rad-ot": VARIANTS[variant]},
    )
    t0 = time.perf_counter()
    result = run_study(cfg, load_inputs(cfg.data), Path(args.workdir) / "study", progress=False)
    table = write_study(result, Path(args.workdir) / f"report-{variant}")
    text = (
        f"study: rad-ot with {variant} {json.dumps(VARIANTS[variant])} and cr (40 epochs of the "
        f"cpu preset), N_sig 450 and 1000, {args.injections} injections each, 10 classifier "
        f"members, one process ({time.perf_counter() - t0:.0f} s wall, the pieces already in "
        f"the workdir reused: cr's are shared between the studies)\n{table}\n"
    )
    path.write_text(text)
    return text


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-dir", default=str(DEV))
    p.add_argument("--n-sig", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--workdir", default="/tmp/rad_ot_settings", help="one JSON per variant")
    p.add_argument("--fresh", action="store_true", help="remeasure variants already in workdir")
    p.add_argument("--out", default=str(OUT))
    p.add_argument(
        "--sic",
        nargs="*",
        default=[],
        choices=list(VARIANTS),
        help="also run the study of rad-ot with these variants (and cr) and append its table",
    )
    p.add_argument("--injections", type=int, default=3, help="injections of the --sic study")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from _common.dev_sample import dev_config
    from resonant_ad.data.injection import make_injections
    from resonant_ad.search.inputs import load_inputs

    cfg = dev_config(args.data_dir, n_sig=[args.n_sig], injections=1, methods=["rad-ot"])
    inputs = load_inputs(cfg.data)
    assert inputs.extra_background is not None
    sr = cfg.signal_regions[0]
    inj = make_injections(
        inputs.background,
        inputs.signal,
        args.n_sig,
        signal_region=sr,
        n_injections=1,
        seed=args.seed,
        extra_background=inputs.extra_background,
    )[0]
    extra = inputs.extra_background
    truth = extra.select(sr.contains(extra.m)).select(slice(1, None, 2))
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for name in args.variants:
        path = work / f"{name}-nsig{args.n_sig}-seed{args.seed}.json"
        if path.is_file() and not args.fresh:
            results.append(json.loads(path.read_text()))
            continue
        r = measure(name, VARIANTS[name], inj, truth, args.seed)
        path.write_text(json.dumps(r))
        print(table([r], ""), flush=True)
        results.append(r)
    header = (
        f"rad-ot settings on the Pythia dev sample ({args.data_dir}), SR [{sr.lo}, {sr.hi}] TeV, "
        f"one injection of N_sig = {args.n_sig} (seed {args.seed}); templates 4x the data of "
        f"each window; truth: {len(truth)} true SR background events (odd half of "
        f"extra_sr_background.h5); {platform.machine()} CPU, OMP_NUM_THREADS=1, with other "
        "jobs on the machine.\nChosen by the mean validation AUC (label-free); truth AUC, "
        "per-feature AUC and pulls only check the choice."
    )
    text = table(results, header)
    for variant in args.sic:
        text += "\n\n" + sic_study(args, variant)
    print(text)
    Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
