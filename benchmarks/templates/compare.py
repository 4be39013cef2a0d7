"""Every background template side by side on realistic jets: detection, fidelity and cost.

The study of ``resonant-ad run`` on the Pythia dev sample (``../shared/data/pythia-dev``), SR
3.3-3.7 TeV, ``--injections`` injections at each N_sig, with every template method
(``cathode-nf``, ``cr``, ``cvae``, ``rad-ot``, ``transit``, ``curtains-f4f``, ``cwola``
(the sidebands' data as they are), and ``data``, ``sigma-linear``, ``sigma-context``,
``sigma-poly`` from the one ``v_data``) and the idealized ``iad``, every trained model at the
same number of epochs (``[model] epochs``). Then:

- detection: SIC at FPR 1e-3 (median and 16-84% over injections), max SIC and the weakly
  supervised classifier's AUC, in one table and one SIC plot (``plots/``);
- fidelity: the classifier test of each template of the first injection against true SR
  background (the odd half of the extra SR background, which no method trains on): AUC of
  an HGB ensemble telling them apart (0.5: indistinguishable);
- cost, measured in the same run on this machine: seconds of training (per SR for the
  sideband methods, once for SIGMA's ``v_data``) and of making the template per SR, and the
  cost of a 10-SR scan computed from them (training once or per SR, plus 10 templates).

``--simulation FILE`` (``make simulation``: ``runs/simulation/qcd_sim.h5``) adds the methods
that also need a simulated background (``sim-nf``, ``feta``, ``salad``).
``--features cvae`` uses the six features of the cVAE study (jet masses, tau21 and tau32),
``--signal FILE`` another signal pool (the 3-prong study: ``--signal`` a file from
``resonant-ad simulate --process signal --prongs-x 3``).

Usage: ``python benchmarks/templates/compare.py [--epochs E] [--workers W] [--features F]``.
On a GPU, the talks' timing table: ``--device cuda --preset paper --epochs E --workers 1
--injections 1 --n-sig 1000 --methods sigma-context cr cathode-nf curtains-f4f rad-ot`` (the
header names the GPU).
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
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared code

from _common.dev_sample import dev_config
from resonant_ad.report.outputs import write_study
from resonant_ad.search.engine import open_executor
from resonant_ad.search.inputs import load_inputs
from resonant_ad.search.study import run_study

TEMPLATES = [
    "cathode-nf",
    "cr",
    "cvae",
    "rad-ot",
    "transit",
    "curtains-f4f",
    "cwola",
    "data",
    "sigma-linear",
    "sigma-context",
    "sigma-poly",
]
SIMULATION = ["sim-nf", "feta", "salad"]
"""The methods that also need a simulated background (``--simulation``); with it they join
:data:`TEMPLATES` by default."""
ONCE = {"data", "sigma-linear", "sigma-context", "sigma-poly", "sim-nf"}
"""Methods whose model trains once for every SR (``v_data`` on all data, ``sim-nf`` on the
simulation); the others train per SR (``feta`` per SR on top of the one ``sim-nf``)."""
SCAN_SRS = 10


def template_fidelity(
    result: Any, truth: Any, seed: int = 0, names: list[str] | None = None
) -> dict[tuple[int, str], float]:
    """Classifier-test AUC of each template (of ``names``, default :data:`TEMPLATES`) of the
    first injection against ``truth``."""
    from resonant_ad.detect.classifier_test import classifier_test
    from resonant_ad.detect.hgb import HGBEnsemble

    out = {}
    for (_, n_sig), templates in sorted(result.examples.items()):
        for name, events in templates.items():
            if name not in (TEMPLATES + SIMULATION if names is None else names):
                continue
            res = classifier_test(
                events,
                truth,
                classifier=HGBEnsemble(n_estimators=3, random_state=seed),
                random_state=seed,
            )
            out[(n_sig, name)] = float(res.auc)
    return out


def _gpu(device: str) -> str:
    """``, on <the GPU's name>`` for a CUDA device, else nothing."""
    if not device.startswith("cuda"):
        return ""
    import torch

    return f", on {torch.cuda.get_device_name(torch.device(device))}"


def timing_table(
    result: Any, methods: list[str], once: set[str] = ONCE
) -> tuple[list[str], dict[str, float]]:
    """Training and per-SR template seconds of each method, and a 10-SR scan's cost
    (``once``: the methods whose model trains once for every SR)."""
    from resonant_ad.methods.registry import get

    lines = [
        f"{'method':<14} {'trainings':>9} {'train s':>9} {'template s/SR':>14} "
        f"{'cost s/SR':>10} {f'{SCAN_SRS}-SR scan s':>14}  budget s/SR (docstring)",
    ]
    per_sr: dict[str, float] = {}
    for method in methods:
        files = {p.name for (m, *_), p in result.model_files.items() if m == method}
        train = [result.train_seconds[f] for f in files if f in result.train_seconds]
        tmpl = [s.template_seconds for s in result.scores if s.method == method]
        t_train = float(np.mean(train)) if train else 0.0
        t_tmpl = float(np.mean(tmpl)) if tmpl else 0.0
        trained_once = method in once
        per_sr[method] = t_tmpl if trained_once else t_train + t_tmpl
        scan = (t_train if trained_once else 0.0) + SCAN_SRS * per_sr[method]
        budget = get(method).cpu_budget
        verdict = (
            "none stated"
            if budget is None
            else f"{budget:.0f}: {'met' if per_sr[method] <= budget else 'MISSED'}"
        )
        lines.append(
            f"{method:<14} {len(train):>9} {t_train:>9.1f} {t_tmpl:>14.1f} "
            f"{per_sr[method]:>10.1f} {scan:>14.0f}  {verdict}"
        )
    return lines, per_sr


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-dir", default="../shared/data/pythia-dev")
    p.add_argument("--signal", default=None, help="signal pool file instead of the events'")
    p.add_argument("--features", default="sigma", help="feature set: sigma (5) or cvae (6)")
    p.add_argument("--n-sig", type=int, nargs="+", default=[450, 1000])
    p.add_argument("--injections", type=int, default=3)
    p.add_argument("--epochs", type=int, default=40, help="training epochs of every model")
    p.add_argument("--preset", default="cpu", help="[model] preset of every model")
    p.add_argument("--device", default="cpu", help="torch device: cpu or cuda")
    p.add_argument("--ensemble", type=int, default=10, help="classifier members")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument(
        "--simulation",
        default=None,
        help="simulated background (make simulation: runs/simulation/qcd_sim.h5); adds the "
        "methods that need one",
    )
    p.add_argument("--methods", nargs="+", default=None, help="default: every template, iad")
    p.add_argument("--workdir", default="runs/templates")
    p.add_argument(
        "--out",
        default=None,
        help="default: benchmarks/templates/results/compare_FEATURES-features[_SIGNAL]",
    )
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("matplotlib").setLevel(logging.ERROR)

    t0 = time.perf_counter()
    data: dict[str, Any] = {"features": args.features}
    if args.signal:
        data["signal"] = str(Path(args.signal).resolve())
    if args.simulation:
        data["simulation"] = str(Path(args.simulation).resolve())
    if args.methods is None:
        args.methods = [*TEMPLATES, *(SIMULATION if args.simulation else []), "iad"]
    cfg = dev_config(
        args.data_dir,
        n_sig=args.n_sig,
        injections=args.injections,
        methods=args.methods,
        epochs=args.epochs,
        ensemble=args.ensemble,
        preset=args.preset,
        device=args.device,
        data=data,
    )
    inputs = load_inputs(cfg.data)
    with open_executor(args.workers) as executor:
        result = run_study(cfg, inputs, args.workdir, executor=executor, progress=False)
    study_seconds = time.perf_counter() - t0
    signal = f"_{Path(args.signal).stem}" if args.signal else ""
    out = Path(args.out or f"benchmarks/templates/results/compare_{args.features}-features{signal}")
    shutil.rmtree(out, ignore_errors=True)
    table = write_study(result, out)
    sr = cfg.signal_regions[0]
    assert inputs.extra_background is not None
    odd = inputs.extra_background.select(slice(1, None, 2))
    truth = odd.select(sr.contains(odd.m))

    lines = [
        f"bench_templates: Pythia dev sample {args.data_dir}"
        + (f", signal pool {Path(args.signal).name}" if args.signal else "")
        + (
            f", simulation {args.simulation} ({len(inputs.simulation)} events)"
            if inputs.simulation is not None
            else ""
        )
        + f"; features {args.features} {inputs.background.feature_names}; SR [{sr.lo}, "
        f"{sr.hi}] TeV; {args.injections} injections per N_sig; every model: preset "
        f"{args.preset}, {args.epochs} epochs; classifier: {args.ensemble} members",
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs{_gpu(args.device)}; "
        f"{args.workers} Dask workers (1 torch thread each); study wall time "
        f"{study_seconds:.0f} s",
        "",
        table,
        "",
        f"template fidelity: classifier test (3 HGB members) of the first injection's template "
        f"against {len(truth)} true SR background events (AUC; 0.5 = indistinguishable):",
    ]
    templates = [m for m in args.methods if m in TEMPLATES + SIMULATION]
    fid = template_fidelity(result, truth)
    lines.append(f"  {'N_sig':>6} " + " ".join(f"{m:>14}" for m in templates))
    for n_sig in args.n_sig:
        row = " ".join(f"{fid.get((n_sig, m), float('nan')):>14.4f}" for m in templates)
        lines.append(f"  {n_sig:>6} {row}")
    lines += [
        "",
        "cost on this CPU, mean over the study's models (classifier time, the same for every "
        "method, left out); cost per SR = template (+ training, for the methods trained per "
        f"SR); a {SCAN_SRS}-SR scan = {SCAN_SRS} x cost per SR (+ the one v_data training "
        "for data and sigma-*, or sim-nf's; feta's cost per SR leaves out its base, sim-nf):",
    ]
    timing, per_sr = timing_table(result, templates)
    lines += [f"  {line}" for line in timing]
    if args.device != "cpu":  # the talks' table has the classifier's seconds per SR too
        lines.append("  the weakly supervised classifier per SR (s, mean over the study):")
        for m in templates:
            clf = [s.classifier_seconds for s in result.scores if s.method == m]
            lines.append(f"    {m:<14} {np.mean(clf) if clf else float('nan'):>8.1f}")
    if "cathode-nf" in per_sr:
        slower = [m for m in templates if per_sr[m] > per_sr["cathode-nf"]]
        lines.append(
            "  target, no method slower per SR than cathode-nf: "
            + ("met" if not slower else f"MISSED ({', '.join(slower)})")
        )
    if "transit" in per_sr and "cr" in per_sr:
        lines.append(
            "  target, transit cheaper per SR than cr: "
            + ("met" if per_sr["transit"] < per_sr["cr"] else "MISSED")
            + f" ({per_sr['transit']:.1f} s against {per_sr['cr']:.1f} s)"
        )
    text = "\n".join(lines)
    print(text)
    (out / "summary.txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
