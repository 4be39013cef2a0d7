"""Template fidelity on the realistic Pythia dev sample: how well each template imitates the SR
background.

For one injection of ``N_sig`` signal events into ``../shared/data/pythia-dev`` (SR 3.3-3.7
TeV), train ``v_CR`` (sidebands) and ``v_data`` (all data) with the same settings and the same
number of epochs, make the ``cr`` and ``sigma-context`` templates (4x the SR data), then
measure per template:

- the classifier test: an HGB ensemble template vs *true* SR background (the IAD half of the
  extra SR background), AUC on held-out events (0.5 = indistinguishable), and the same with
  one feature at a time (which features the classifier uses);
- the largest per-bin pull of each feature's histogram against the true background;
- the weakly supervised SIC at FPR 1e-3 (SR data vs template, tested on held-back signal and
  the test half of the extra background), and the IAD's on the same injection.

One JSON per variant (a named set of model settings) goes to ``--out``; training curves are
kept in it. ``--variants`` runs several variants one after another; run processes side by side
with ``OMP_NUM_THREADS=1`` for speed.

Usage: ``python benchmarks/templates/fidelity.py --variant gauss --preprocessing gaussianize``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared code

DEV = Path(__file__).resolve().parents[3] / "shared" / "data" / "pythia-dev"


def pulls(template: np.ndarray, truth: np.ndarray, bins: int = 40) -> float:
    """Largest |pull| of a feature's normalised histogram (bins: truth's 0.5-99.5% range)."""
    lo, hi = np.percentile(truth, [0.5, 99.5])
    edges = np.linspace(lo, hi, bins + 1)
    from resonant_ad.report.histograms import poisson_pulls

    t, _ = np.histogram(template, edges)
    b, _ = np.histogram(truth, edges)
    st, sb = t.sum(), b.sum()
    return float(np.max(np.abs(poisson_pulls(t / st, t / st**2, b / sb, b / sb**2))))


def fidelity(template: Any, truth: Any, seed: int) -> dict[str, Any]:
    from resonant_ad.data.events import Events
    from resonant_ad.detect.classifier_test import classifier_test
    from resonant_ad.detect.hgb import HGBEnsemble

    res = classifier_test(
        template,
        truth,
        classifier=HGBEnsemble(n_estimators=5, random_state=seed),
        random_state=seed,
    )
    out: dict[str, Any] = {"auc": res.auc, "feature_auc": {}, "max_pull": {}}
    for j, name in enumerate(truth.feature_names):
        one = (
            Events(template.m, template.x[:, [j]], template.label, (name,)),
            Events(truth.m, truth.x[:, [j]], truth.label, (name,)),
        )
        r = classifier_test(
            *one, classifier=HGBEnsemble(n_estimators=2, random_state=seed), random_state=seed
        )
        out["feature_auc"][name] = r.auc
        out["max_pull"][name] = pulls(template.x[:, j], truth.x[:, j])
    return out


def summary(folder: Path) -> str:
    """One line per (variant, template): settings, AUC vs truth, SIC, pulls, training time."""
    lines = [
        "variant | N_sig/inj | template | epochs | train s | AUC vs truth | dR AUC | "
        "max pull mj1/dmj/t21a/t21b/dR | SIC@1e-3 (iad)",
    ]
    for path in sorted(folder.glob("*.json")):
        r = json.loads(path.read_text())
        settings = {k: v for k, v in r["params"].items() if k not in ("early_stopping_patience",)}
        for name, e in r["models"].items():
            f = e["fidelity"]
            pulls = "/".join(f"{v:.1f}" for v in f["max_pull"].values())
            stop = f" ({e['stop_reason']})" if e.get("stop_reason") else ""
            lines.append(
                f"{r['variant']} | {r['n_sig']}/{r['injection']} | {name} | {e['epochs']}{stop} | "
                f"{e['train_seconds']:.0f} | {f['auc']:.3f} | "
                f"{f['feature_auc']['delta_r']:.3f} | {pulls} | "
                f"{e['weak']['sic_1e-3']:.2f} ({r['iad']['sic_1e-3']:.2f})"
            )
        host = r.get("host", {})
        where = host.get("gpu") or f"{host.get('cpus', '?')}-CPU host"
        lines.append(f"  {r['variant']} settings: preset {r['preset']}, {settings}; on {where}")
    return "\n".join(lines)


def _trained(
    path: Path,
    kind: str,
    inj: Any,
    sr: Any,
    preset: str,
    params: dict[str, Any],
    seed: int,
    device: str = "cpu",
) -> tuple[Any, float]:
    """``v_data`` (the ``data`` method's model, on all data) or ``v_CR`` (the ``cr`` method's,
    on the sidebands of ``sr``) of the preset with free hyper-parameters, stored at ``path``
    (read back if there, resumed from its checkpoint if interrupted)."""
    from resonant_ad.flows.model import FlowMatchingModel
    from resonant_ad.flows.presets import preset as preset_params
    from resonant_ad.methods import get
    from resonant_ad.models.base import ModelContext

    record = path.with_suffix(".json")
    if path.is_file() and record.is_file():
        seconds = float(json.loads(record.read_text())["train_seconds"])
        return FlowMatchingModel.load(path, device=device), seconds
    path.parent.mkdir(parents=True, exist_ok=True)
    region = sr if kind == "cr" else None
    context = ModelContext(region, device, str(path.with_suffix(".ckpt")), progress=False)
    method = get("cr" if kind == "cr" else "data")
    model = method.build({**preset_params(preset), **params}, context)
    train, val = inj.train, inj.val
    if kind == "cr":
        train, val = train.select(sr.sideband(train.m)), val.select(sr.sideband(val.m))
    t0 = time.perf_counter()
    model.fit(train, val, random_state=seed)
    seconds = time.perf_counter() - t0
    model.save(path)
    record.write_text(json.dumps({"train_seconds": seconds}))
    return model, seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--variant", help="name of this set of settings")
    p.add_argument(
        "--summary", action="store_true", help="tabulate every JSON in --out into summary.txt"
    )
    p.add_argument("--preset", default="cpu")
    p.add_argument("--preprocessing", default=None)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument(
        "--converge",
        action="store_true",
        help="train to the preset's early stopping (at most its max_epochs) instead of --epochs",
    )
    p.add_argument("--max-seconds", type=float, default=None, help="cap on each training")
    p.add_argument("--device", default="cpu", help="training and sampling device (cpu, cuda)")
    p.add_argument("--data-dir", default=str(DEV))
    p.add_argument("--width", type=int, default=None)
    p.add_argument("--blocks", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--n-best", type=int, default=None)
    p.add_argument("--selection", choices=("loss", "nll"), default=None)
    p.add_argument("--selection-events", type=int, default=None)
    p.add_argument(
        "--nll-monitor", type=int, default=0, help="record the exact NLL of this many val events"
    )
    p.add_argument(
        "--sample-solver",
        default=None,
        help="sampling solver instead of the model's: 'dopri5' or e.g. 'rk4:16' (method:steps)",
    )
    p.add_argument("--models-from", default=None, help="reuse the trained models of a variant")
    p.add_argument("--n-sig", type=int, default=1000)
    p.add_argument("--injection", type=int, default=0)
    p.add_argument("--ensemble", type=int, default=10, help="weakly supervised members")
    p.add_argument("--models", nargs="+", default=["cr", "vdata"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--workdir", default="/tmp/templates_fidelity")
    p.add_argument("--out", default="benchmarks/templates/results/fidelity_variants")
    args = p.parse_args()
    if args.summary:
        text = summary(Path(args.out))
        print(text)
        (Path(args.out) / "summary.txt").write_text(text + "\n")
        return
    if not args.variant:
        p.error("--variant is required")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    torch.set_num_threads(args.threads)

    from _common.dev_sample import dev_inputs, held_out_injection
    from _common.flow_templates import flow_template
    from resonant_ad.data.events import Events
    from resonant_ad.data.regions import SignalRegion
    from resonant_ad.detect.hgb import HGBEnsemble
    from resonant_ad.detect.metrics import evaluate
    from resonant_ad.detect.weakly_supervised import weakly_supervised_scores
    from resonant_ad.search.seeds import Stream, stream_seed

    sr = SignalRegion(3.3, 3.7)
    inj, truth = held_out_injection(dev_inputs(args.data_dir), args.n_sig, sr, args.injection)
    sr_data = inj.data.select(sr.contains(inj.data.m))
    params: dict[str, Any] = {"max_epochs": args.epochs, "max_seconds": args.max_seconds}
    for key, value in (
        ("preprocessing", args.preprocessing),
        ("width", args.width),
        ("blocks", args.blocks),
        ("learning_rate", args.lr),
        ("batch_size", args.batch_size),
        ("n_best", args.n_best),
        ("selection", args.selection),
        ("selection_events", args.selection_events),
    ):
        if value is not None:
            params[key] = value
    if args.nll_monitor:
        params["nll_monitor_events"] = args.nll_monitor
    # patience longer than the run: every variant trains exactly --epochs epochs
    if args.converge:  # the preset's own schedule: early stopping, at most its max_epochs
        del params["max_epochs"]
    else:
        params["early_stopping_patience"] = args.epochs + 1
    work = (
        Path(args.workdir)
        / (args.models_from or args.variant)
        / f"nsig{args.n_sig}-inj{args.injection}"
    )
    solver = None
    if args.sample_solver:
        from resonant_ad.flows.ode import ODESolver

        method, _, steps = args.sample_solver.partition(":")
        solver = ODESolver(method, int(steps or 20), 1e-5, 1e-5)
    report: dict[str, Any] = {
        "variant": args.variant,
        "preset": args.preset,
        "params": params,
        "n_sig": args.n_sig,
        "injection": args.injection,
        "sr_signal": inj.sr_signal,
        "sr_background": inj.sr_background,
        "models": {},
    }
    seed = stream_seed(inj.seed, Stream.CLASSIFIER)

    def sic(template: Events) -> dict[str, float]:
        t0 = time.perf_counter()
        s = weakly_supervised_scores(
            sr_data,
            template,
            inj.test,
            classifier=HGBEnsemble(n_estimators=args.ensemble, random_state=seed),
            random_state=seed,
        )
        m = evaluate(s, inj.test.label)
        return {
            "sic_1e-3": m.sic_at_fpr,
            "max_sic": m.max_sic,
            "auc": m.auc,
            "seconds": time.perf_counter() - t0,
        }

    report["iad"] = sic(truth)
    for kind in args.models:
        model_seed = stream_seed(inj.seed, Stream.MODEL)
        model, seconds = _trained(
            work / f"{kind}.pt", kind, inj, sr, args.preset, params, model_seed, args.device
        )
        method = "cr" if kind == "cr" else "sigma-context"
        t0 = time.perf_counter()
        template = flow_template(model, method, sr, sr_data, 4 * len(sr_data), seed, solver)
        entry = {
            "train_seconds": seconds,
            "epochs": len(model.history_),
            "stop_reason": getattr(getattr(model, "training_", None), "stop_reason", ""),
            "template_seconds": time.perf_counter() - t0,
            "member_epochs": model.member_epochs_,
            "history": [
                {
                    k: r[k]
                    for k in (
                        "epoch",
                        "train_loss",
                        "val_score",
                        "val_nll",
                        "val_loss",
                        "lr",
                        "seconds",
                    )
                    if k in r
                }
                for r in model.history_
            ],
            "fidelity": fidelity(template, truth, seed),
            "weak": sic(template),
        }
        report["models"][method] = entry
        f = entry["fidelity"]
        logging.info(
            "%s %s: AUC vs truth %.3f, SIC %.2f (iad %.2f); feature AUCs %s; pulls %s",
            args.variant,
            method,
            f["auc"],
            entry["weak"]["sic_1e-3"],
            report["iad"]["sic_1e-3"],
            {k: round(v, 3) for k, v in f["feature_auc"].items()},
            {k: round(v, 1) for k, v in f["max_pull"].items()},
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{args.variant}-nsig{args.n_sig}-inj{args.injection}.json"
    report["host"] = {"cpus": os.cpu_count(), "threads": args.threads, "device": args.device}
    if args.device != "cpu":
        import torch

        report["host"]["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else ""
    path.write_text(json.dumps(report, indent=1))
    from resonant_ad.report.training_plots import plot_training_curves

    plot_training_curves(
        {("v_CR" if m == "cr" else "v_data"): e["history"] for m, e in report["models"].items()},
        title=f"{args.variant}, N_sig={args.n_sig}",
        path=path.with_suffix(".png"),
    )
    print(path)


if __name__ == "__main__":
    main()
