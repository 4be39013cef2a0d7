"""Benchmark SIGMA on LHCO-scale toy data: training time, template speed and template quality.

Stages (each writes into ``--workdir`` so they can run as separate processes):

- ``data``: ~1M toy background events over the full mjj range, a signal pool, extra SR
  background (the "true SR background" for the tests), ``N_sig`` injected;
- ``train-data``: ``v_data`` on all data (the model shared by ``data`` and the ``sigma-*``
  templates); ``train-cr``: ``v_CR`` on the sidebands of the SR;
- ``evaluate``: one template of ``--oversample`` x the SR data size per kind, its speed and
  profile, a sampler trade-off sweep, classifier-test AUCs (template vs true background),
  per-feature pulls, and whether the ``data`` template shows the signal.

``--quick`` shrinks everything to a few minutes. Results go to ``--out`` as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from resonant_ad.data.events import Events
from resonant_ad.data.features import compute_features
from resonant_ad.data.injection import Injection, make_injection
from resonant_ad.data.regions import SignalRegion
from resonant_ad.data.toy import toy_background, toy_signal
from resonant_ad.flows.model import FlowMatchingModel
from resonant_ad.flows.ode import ODESolver
from resonant_ad.flows.presets import preset
from resonant_ad.models.flow_matching import sigma_interpolation

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared code

from _common.flow_templates import FLOW_TEMPLATES, flow_template

log = logging.getLogger("bench_sigma")

SR = SignalRegion(3.3, 3.7)


def load() -> dict[str, float]:
    one, five, fifteen = os.getloadavg()
    return {"load1": one, "load5": five, "load15": fifteen, "cpus": float(os.cpu_count() or 0)}


def stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# ---------------------------------------------------------------------------- data
def make_data(args: argparse.Namespace) -> Injection:
    path = Path(args.workdir) / "data.npz"
    if path.exists():
        z = np.load(path)
        names = tuple(str(s) for s in z["names"])

        def ev(key: str) -> Events:
            return Events(z[f"{key}_m"], z[f"{key}_x"], z[f"{key}_label"], names)

        bg, sig, extra = ev("bg"), ev("sig"), ev("extra")
    else:
        rng = np.random.default_rng(args.seed)
        t0 = time.perf_counter()
        bg = compute_features(toy_background(args.n_background, rng))
        sig = compute_features(toy_signal(args.n_signal_pool, rng))
        extra = compute_features(toy_background(args.n_extra, rng, window=SR))
        log.info("toy data generated in %.1f s", time.perf_counter() - t0)
        arrays: dict[str, Any] = {"names": np.array(bg.feature_names)}
        for key, e in (("bg", bg), ("sig", sig), ("extra", extra)):
            arrays.update({f"{key}_m": e.m, f"{key}_x": e.x, f"{key}_label": e.label})
        np.savez(path, **arrays)
    return make_injection(
        bg, sig, args.n_sig, signal_region=SR, seed=args.seed, extra_background=extra
    )


def model_params(args: argparse.Namespace) -> dict[str, Any]:
    params = preset(args.preset)
    for item in args.override:
        key, value = item.split("=", 1)
        params[key] = json.loads(value)
    params.update(random_state=args.seed, device=args.device, progress=False)
    return params


# ---------------------------------------------------------------------------- training
def train_stage(args: argparse.Namespace, inj: Injection, kind: str) -> dict[str, Any]:
    params = model_params(args)
    workdir = Path(args.workdir)
    params["checkpoint_path"] = str(workdir / f"{kind}.ckpt")
    if kind == "data":
        params["nll_monitor_events"] = args.nll_monitor_events
        params["nll_monitor_every"] = args.nll_monitor_every
        train, val = inj.train, inj.val
    else:
        params["mass_embedding"] = "identity"
        train, val = (
            inj.train.select(SR.sideband(inj.train.m)),
            inj.val.select(SR.sideband(inj.val.m)),
        )
    before = load()
    t0 = time.perf_counter()
    model = FlowMatchingModel(**params).fit(train, val)
    seconds = time.perf_counter() - t0
    model.save(workdir / f"{kind}.pt")
    history = model.history_
    result = {
        "model": kind,
        "started": stamp(),
        "train_events": len(train),
        "val_events": len(val),
        "params": {k: v for k, v in params.items() if k != "checkpoint_path"},
        "seconds": seconds,
        "seconds_in_training_loop": model.training_.seconds,
        "epochs": model.training_.epochs,
        "stop_reason": model.training_.stop_reason,
        "seconds_per_epoch": model.training_.seconds / max(1, model.training_.epochs),
        "member_epochs": model.member_epochs_,
        "member_scores": model.member_scores_,
        "load_before": before,
        "load_after": load(),
        "history": history,
    }
    nll = [(h["val_score"], h["val_nll"]) for h in history if "val_nll" in h]
    if len(nll) >= 3:
        from scipy.stats import spearmanr

        a, b = np.array(nll).T
        rho = spearmanr(a, b)
        result["proxy_vs_exact_nll"] = {
            "points": len(nll),
            "spearman": float(rho.statistic),
            "best_proxy_epoch_nll_rank": int(np.argsort(np.argsort(b))[int(np.argmin(a))]),
        }
    return result


# ---------------------------------------------------------------------------- quality
def classifier_test(
    template: Events, truth: Events, seed: int, signal_box: np.ndarray | None = None
) -> dict[str, float]:
    """Held-out AUC of a HistGradientBoosting classifier template (1) vs true background (0)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    n = min(len(template), len(truth))
    t_idx, b_idx = rng.permutation(len(template))[:n], rng.permutation(len(truth))[:n]
    x = np.concatenate([template.x[t_idx], truth.x[b_idx]])
    y = np.concatenate([np.ones(n), np.zeros(n)])
    order = rng.permutation(2 * n)
    x, y = x[order], y[order]
    half = n
    clf = HistGradientBoostingClassifier(max_iter=200, early_stopping=True, random_state=seed)
    clf.fit(x[:half], y[:half])
    p = np.clip(clf.predict_proba(x[half:])[:, 1], 1e-6, 1 - 1e-6)
    out = {"auc": float(roc_auc_score(y[half:], p)), "n_per_class": float(n)}
    if signal_box is not None:
        log_w = np.log(p / (1 - p))
        held_x = x[half:]
        cut = (log_w > 0.1) & (y[half:] == 1)
        box = in_box(held_x, signal_box)
        out["template_frac_logw_gt_0.1"] = float(cut.sum() / max(1, (y[half:] == 1).sum()))
        out["signal_box_frac_after_logw_cut"] = float(box[cut].mean()) if cut.any() else 0.0
        out["signal_box_frac_background"] = float(box[y[half:] == 0].mean())
    return out


def pulls(template: Events, truth: Events, bins: int = 40) -> dict[str, float]:
    """chi2/ndf per feature: histograms of template (scaled to the truth count) vs truth."""
    out = {}
    scale = len(truth) / len(template)
    for j, name in enumerate(truth.feature_names):
        lo, hi = np.percentile(truth.x[:, j], [0.5, 99.5])
        hb, edges = np.histogram(truth.x[:, j], bins=bins, range=(lo, hi))
        ht, _ = np.histogram(template.x[:, j], bins=edges)
        var = hb + scale**2 * ht
        ok = var > 0
        chi2 = float((((scale * ht - hb) ** 2)[ok] / var[ok]).sum())
        out[name] = chi2 / int(ok.sum())
    return out


def in_box(x: np.ndarray, box: np.ndarray) -> np.ndarray:
    return np.all((x >= box[0]) & (x <= box[1]), axis=1)


def signal_box(inj: Injection) -> np.ndarray:
    """Central 80% of injected SR signal in each feature except dR (where signal is broad)."""
    sig = inj.data.select((inj.data.label == 1) & SR.contains(inj.data.m))
    lo, hi = np.percentile(sig.x, 10, axis=0), np.percentile(sig.x, 90, axis=0)
    lo[-1], hi[-1] = -np.inf, np.inf
    return np.stack([lo, hi])


def profile_sampling(model: FlowMatchingModel, sr_data: Events, n: int) -> dict[str, Any]:
    """The costliest operations of drawing ``n`` events of the ``sigma-context`` template."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        flow_template(model, "sigma-context", SR, sr_data, n, 123)
    rows = []
    total = sum(e.self_cpu_time_total for e in prof.key_averages())
    for e in sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:12]:
        rows.append(
            {
                "op": e.key,
                "self_cpu_s": e.self_cpu_time_total / 1e6,
                "share": e.self_cpu_time_total / total,
                "calls": e.count,
            }
        )
    return {"n": n, "top_ops": rows}


def module_costs(model: FlowMatchingModel, n: int) -> dict[str, float]:
    """Seconds of each network stage on ``n`` events (one evaluation, no gradients)."""
    net = model.fields_[0]
    dev = model.device_
    x = torch.randn(n, model.n_features_in_, generator=torch.Generator().manual_seed(0)).to(dev)
    m = torch.full((n,), 3.5, device=dev)
    t = torch.tensor(0.5, device=dev)
    out: dict[str, float] = {}
    with torch.no_grad():
        for name, fn in (
            ("context_one_row", lambda: net.context(t.reshape(1), m[:1])),
            ("input", lambda: net.input(t, x, m)),
            ("head", lambda: net.head(net.input(t, x, m), net.context(t.reshape(1), m[:1]))),
            ("full_forward", lambda: net(t, x, m)),
        ):
            fn()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(3):
                fn()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            out[name] = (time.perf_counter() - t0) / 3
    out["head_only"] = out["head"] - out["input"] - out["context_one_row"]
    return out


def sampler_sweep(model: FlowMatchingModel, m: np.ndarray, solvers: list[ODESolver]) -> list[dict]:
    """Discretisation error of each solver vs a tight dopri5, same noise, sigma-context."""
    interp = sigma_interpolation(model, "context", SR)
    ref_solver = ODESolver("dopri5", atol=1e-6, rtol=1e-6)
    ref = model.sample(m, seed=7, interpolation=interp, solver=ref_solver)
    ref_stats = dict(model.sampling_stats_)
    std = ref.std(axis=0)
    rows = [{"solver": "dopri5 atol=rtol=1e-6 (reference)", **ref_stats}]
    for solver in solvers:
        x = model.sample(m, seed=7, interpolation=interp, solver=solver)
        stats = dict(model.sampling_stats_)
        err = np.sqrt((((x - ref) / std) ** 2).mean(axis=0))
        label = (
            f"dopri5 atol=rtol={solver.atol:g}"
            if solver.method == "dopri5"
            else f"{solver.method} {solver.steps} steps"
        )
        rows.append({"solver": label, **stats, "rms_error_per_feature_in_std": err.tolist()})
    return rows


def evaluate_stage(args: argparse.Namespace, inj: Injection) -> dict[str, Any]:
    workdir = Path(args.workdir)
    v_data = FlowMatchingModel.load(workdir / "data.pt", device=args.device)
    cr_path = workdir / "cr.pt"
    v_cr = FlowMatchingModel.load(cr_path, device=args.device) if cr_path.exists() else None
    sr_data = inj.data.select(SR.contains(inj.data.m))
    truth = inj.test.select(inj.test.label == 0)
    n_template = args.oversample * len(sr_data)
    box = signal_box(inj)
    result: dict[str, Any] = {
        "started": stamp(),
        "sr_data_events": len(sr_data),
        "sr_signal_events": int(sr_data.label.sum()),
        "true_background_events": len(truth),
        "template_events": n_template,
        "load_before": load(),
        "signal_box": box.tolist(),
        "templates": {},
    }
    f_bg = float(in_box(truth.x, box).mean())
    f_data = float(in_box(sr_data.x, box).mean())
    result["signal_box_fraction"] = {"true_background": f_bg, "sr_data": f_data}
    result["classifier_test_sr_data_vs_background"] = classifier_test(
        sr_data, truth, args.seed, box
    )
    for name in args.templates:
        model = v_cr if name == "cr" else v_data
        if model is None:
            log.warning("no cr model in %s: skipping the cr template", workdir)
            continue
        t0 = time.perf_counter()
        events = flow_template(model, name, SR, sr_data, n_template, args.seed)
        seconds = time.perf_counter() - t0
        stats = model.sampling_stats_
        f_t = float(in_box(events.x, box).mean())
        row = {
            "seconds": seconds,
            "samples_per_second": n_template / seconds,
            "ode_evaluations_per_batch": stats["evaluations_per_batch"],
            "solver": {"method": model.solver, "steps": model.solver_steps, "atol": model.atol},
            "classifier_test": classifier_test(events, truth, args.seed, box),
            "chi2_per_ndf": pulls(events, truth),
            "signal_box_fraction": f_t,
            "signal_box_excess_over_background": (f_t - f_bg) / f_bg,
        }
        log.info(
            "%s: %s", name, json.dumps({k: row[k] for k in ("seconds", "signal_box_fraction")})
        )
        log.info("%s: AUC %.4f", name, row["classifier_test"]["auc"])
        result["templates"][name] = row
    result["signal_box_excess_sr_data"] = (f_data - f_bg) / f_bg
    result["profile_sigma_context"] = profile_sampling(v_data, sr_data, min(n_template, 60_000))
    result["module_seconds_120k"] = module_costs(v_data, 120_000)
    if args.sampler_sweep:
        m_sweep = np.random.default_rng(1).choice(sr_data.m, args.sweep_events)
        solvers = [ODESolver("dopri5", atol=tol, rtol=tol) for tol in (1e-3, 1e-4, 1e-5)]
        solvers += [ODESolver("euler", s) for s in (8, 16)]
        solvers += [ODESolver("midpoint", s) for s in (3, 4, 6, 8, 12)]
        solvers += [ODESolver("rk4", s) for s in (2, 3, 4, 6)]
        result["sampler_sweep"] = {
            "events": args.sweep_events,
            "rows": sampler_sweep(v_data, m_sweep, solvers),
        }
    result["load_after"] = load()
    return result


def timing_stage(args: argparse.Namespace, inj: Injection) -> dict[str, Any]:
    """Wall and process CPU time of one SR template and of training steps (contention-aware).

    Process CPU time counts only this process's own cycles, so with one thread it is what
    the wall time would be on an otherwise idle core.
    """
    from resonant_ad.flows.matching import OTPath, draw_path_variables, flow_matching_loss
    from resonant_ad.flows.velocity import ResNetField

    v_data = FlowMatchingModel.load(Path(args.workdir) / "data.pt", device=args.device)
    sr_data = inj.data.select(SR.contains(inj.data.m))
    n = args.oversample * len(sr_data)
    rows = []
    solvers = [
        None,
        ODESolver("rk4", 4),
        ODESolver("midpoint", 6),
        ODESolver("dopri5", atol=1e-3, rtol=1e-3),
    ]
    for solver in solvers:
        before = load()
        w0, c0 = time.perf_counter(), time.process_time()
        flow_template(v_data, "sigma-context", SR, sr_data, n, 5, solver)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        label = (
            "preset"
            if solver is None
            else f"{solver.method} {solver.steps if solver.method != 'dopri5' else solver.atol}"
        )
        rows.append(
            {
                "solver": label,
                "events": n,
                "wall_s": wall,
                "process_cpu_s": cpu,
                "evaluations_per_batch": v_data.sampling_stats_["evaluations_per_batch"],
                "load_before": before,
                "load_after": load(),
            }
        )
        log.info("template timing %s: wall %.1f s, cpu %.1f s", label, wall, cpu)
    steps = []
    params = preset(args.preset)
    for width, blocks in ((params["width"], params["blocks"]), (256, 4)):
        with torch.random.fork_rng():
            torch.manual_seed(0)
            net = ResNetField(5, width=width, blocks=blocks, dropout=0.1, mass_range=(2.0, 9.0))
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(0)
        z, m = torch.randn(4096, 5, generator=g), 2 + 7 * torch.rand(4096, generator=g)
        for i in range(13):
            if i == 3:
                w0, c0 = time.perf_counter(), time.process_time()
            t, x1, eps = draw_path_variables(z, generator=g)
            loss = flow_matching_loss(net, OTPath(), z, m, t, x1, eps)
            opt.zero_grad()
            loss.backward()
            opt.step()
        wall, cpu = (time.perf_counter() - w0) / 10, (time.process_time() - c0) / 10
        per_epoch = len(inj.train) / 4096
        steps.append(
            {
                "width": width,
                "blocks": blocks,
                "step_wall_s": wall,
                "step_cpu_s": cpu,
                "epoch_cpu_s_estimate": cpu * per_epoch,
                "load": load(),
            }
        )
        log.info("training step %dx%d: wall %.3f s, cpu %.3f s", width, blocks, wall, cpu)
    return {"threads": torch.get_num_threads(), "template": rows, "training_steps": steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--stage",
        default="all",
        choices=["data", "train-data", "train-cr", "evaluate", "timing", "all"],
    )
    parser.add_argument("--quick", action="store_true", help="small data and short training")
    parser.add_argument("--preset", default="cpu")
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        help="preset override KEY=JSON, e.g. max_seconds=600",
    )
    parser.add_argument("--n-background", type=int, default=1_000_000)
    parser.add_argument("--n-signal-pool", type=int, default=20_000)
    parser.add_argument("--n-extra", type=int, default=200_000)
    parser.add_argument("--n-sig", type=int, default=3000)
    parser.add_argument("--oversample", type=int, default=4)
    parser.add_argument("--templates", nargs="+", default=list(FLOW_TEMPLATES))
    parser.add_argument("--nll-monitor-events", type=int, default=4000)
    parser.add_argument("--nll-monitor-every", type=int, default=5)
    parser.add_argument("--sampler-sweep", action="store_true")
    parser.add_argument("--sweep-events", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workdir", default="/tmp/templates_sigma_toy")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.quick:
        args.n_background, args.n_signal_pool, args.n_extra = 120_000, 5000, 30_000
        args.n_sig = 1000
        args.nll_monitor_events = 1000
        args.sweep_events = 10_000
        args.override = ["max_epochs=6", *args.override]
        if args.preset == "cpu":
            args.override.append("max_seconds=120")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(args.threads)
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    inj = make_data(args)
    log.info("%s", inj.summary())
    report: dict[str, Any] = {
        "benchmark": "bench_sigma",
        "stage": args.stage,
        "quick": args.quick,
        "args": vars(args),
        "machine": {
            "platform": platform.platform(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "device": args.device,
        },
        "injection": inj.summary(),
    }
    if args.device.startswith("cuda"):
        report["machine"]["gpu"] = torch.cuda.get_device_name(0)
    if args.stage in ("train-data", "all"):
        report["train_data"] = train_stage(args, inj, "data")
    if args.stage in ("train-cr", "all") and "cr" in args.templates:
        report["train_cr"] = train_stage(args, inj, "cr")
    if args.stage in ("evaluate", "all"):
        report["evaluate"] = evaluate_stage(args, inj)
    if args.stage == "timing":
        report["timing"] = timing_stage(args, inj)
    name = f"{args.preset}-preset_{args.device}_{args.stage}{'_quick' if args.quick else ''}"
    out = Path(args.out or f"benchmarks/templates/results/sigma_toy/{name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=float))
    log.info("wrote %s", out)


if __name__ == "__main__":
    main()
