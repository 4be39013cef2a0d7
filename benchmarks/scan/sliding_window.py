"""The sliding-window scan on realistic jets: is the background estimate right, and does the
scan find the signal, and only the signal?

On the Pythia dev sample (``../shared/data/pythia-dev``), whose labels give every window and
cut its **true background count**: SIGMA (``sigma-context``, one ``v_data`` training per
scan), windows of 0.4 TeV every 0.1 TeV, cuts at template efficiency 0.1 / 0.01 / 0.001.
Every scan is one Poisson-bootstrap replica of the data (event weights from Poisson(1), its
own seed for the injection, the training and the classifiers), so the data's own
fluctuations are in the spread. One scan over 2.6-5.0 TeV per replica; the range 3.0-4.6 TeV
is the same windows and classifiers with the estimate made from what lies inside that range
only (the windows' seeds depend on the window alone, so a scan over 3.0-4.6 trains exactly
these classifiers).

- ``--part scan --n-sig N --replica R``: one scan, stored in the work folder (run several
  side by side in separate processes);
- ``--part report``: every stored scan, its expectations made by the current code from the
  stored counts (a changed estimate needs no new scan), for both ranges and every
  estimate: pulls of the estimate against the true background count, the median relative
  uncertainty, the scan's Z next to the oracle Z (observed against the true background
  count), the largest Z with signal, the largest |Z| and the global significance without;
  the same for the significance confirmed by a neighbouring window, which the scan reports
  as its largest excess.

Usage: ``python benchmarks/scan/sliding_window.py --part scan --n-sig 0 --replica 1`` (and so
on), then ``python benchmarks/scan/sliding_window.py --part report``. The committed scans
(replicas 1-10 without signal, 1-5 with 450 signal events) are in
``benchmarks/scan/results/raw_scans/``: ``--part report --workdir
benchmarks/scan/results/raw_scans`` remakes the report from them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common.stored_scans import MARGIN, RANGES, STEP, WIDTH, inside, pull, read_scans
from resonant_ad.config import DataConfig, StudyConfig, config_from_dict
from resonant_ad.data.injection import poisson_replica
from resonant_ad.search.background import calibrated_expectations
from resonant_ad.search.counts import CutCount, WindowResult, signed_significance
from resonant_ad.search.inputs import load_inputs
from resonant_ad.search.scan import run_scan, scan_data
from resonant_ad.search.scan_result import confirmed_significances, global_significance


def _config(args: argparse.Namespace, seed: int, m_range: tuple[float, float]) -> StudyConfig:
    return config_from_dict(
        {
            "data": {"events": "unused.h5"},
            "study": {"seed": seed, "device": "cpu"},
            "model": {"preset": args.preset, "epochs": args.epochs},
            "classifier": {"ensemble_size": args.ensemble, "oversampling": args.oversampling},
            "scan": {
                "m_min": m_range[0],
                "m_max": m_range[1],
                "width": WIDTH,
                "step": STEP,
                "margin": MARGIN,
                "efficiencies": [0.1, 0.01, 0.001],
                "n_sig": args.n_sig,
                "counts": args.counts,
            },
        }
    )


DEFAULT_SETTINGS = "cpu preset, 60 epochs, 10 members, oversampling 4, cuts 0.1/0.01/0.001"
"""The scan settings of this benchmark's defaults, as the outputs name them."""


def default_config() -> StudyConfig:
    """The scan of this benchmark at its defaults over the wide range, seed 0 (the scan that
    the sensitivity and injection-test benchmarks run)."""
    defaults = argparse.Namespace(
        preset="cpu", epochs=60, ensemble=10, oversampling=4, counts="ensemble", n_sig=0
    )
    return _config(defaults, 0, RANGES[0])


def compute(args: argparse.Namespace) -> dict[str, Any]:
    """One scan of one replica over the wide range: the stored windows, wall time, load."""
    inputs = load_inputs(DataConfig(events=Path(args.data_dir) / "events.h5"))
    seed = 1000 * args.n_sig + args.replica
    cfg = _config(args, seed, RANGES[0])
    data = poisson_replica(scan_data(cfg, inputs, args.n_sig), seed)
    t0, cpu0 = time.perf_counter(), time.process_time()
    work = Path(args.workdir) / f"nsig{args.n_sig}_r{args.replica}"
    r = run_scan(cfg, data, work, method="sigma-context", progress=False)
    return {
        **r.to_dict(),
        "replica": args.replica,
        "seed": seed,
        "wall_seconds": time.perf_counter() - t0,
        # one thread: the seconds a free core would take, whatever the machine's load
        "cpu_seconds": time.process_time() - cpu0,
        "load_after": os.getloadavg()[0],
        "n_background": len(inputs.background),
    }


ESTIMATES = ("calibrated", "previous")
"""The estimates compared: the scan's (``calibrated``) and, for reference, the calibration it
replaced (``previous``: a straight line in ``kappa`` over all non-overlapping windows, the
scatter of those around it, and model terms from a parabola and a constant)."""


def estimate(
    windows: list[WindowResult], name: str, m_range: tuple[float, float], cfg: StudyConfig
) -> list[WindowResult]:
    """The windows of the scan over ``m_range`` with expectations by estimate ``name``
    (each made from the windows inside ``m_range`` only)."""
    held = inside(windows, m_range)
    if name == "previous":
        out = previous_calibration(held, cfg.scan.width)
    else:
        out = calibrated_expectations(held, cfg.scan.width)
    return confirmed_significances(out, cfg.scan.width)


def previous_calibration(windows: list[WindowResult], width: float) -> list[WindowResult]:
    """The calibration the scan used before (kept here to compare with): for each window and
    cut, a straight line in the window centre fitted to ``kappa`` of the windows that do not
    overlap it (weights their Poisson variances; a constant for fewer than three),
    ``max(kappa, 1e-6)`` at the window; uncertainty: the fit's, the references' mean squared
    relative scatter around the line beyond Poisson, and the larger difference from a
    parabola (four references or more) and, where extrapolated, a constant; windows with
    ``Z > 3`` dropped from the references until that set no longer changes."""

    def fit(
        x: np.ndarray, k: np.ndarray, t: np.ndarray, degree: int
    ) -> tuple[float, float, np.ndarray]:
        design = np.vander(x, degree + 1)
        w = t / k
        cov = np.linalg.pinv(design.T @ (design * w[:, None]))
        coef = cov @ design.T @ (w * k)
        return max(float(coef[-1]), 1e-6), float(cov[-1, -1]), design @ coef

    def calibrate(excluded: set[int]) -> list[WindowResult]:
        centres = np.array([w.center for w in windows])
        out = []
        for i, w in enumerate(windows):
            ref = [
                int(j)
                for j in np.flatnonzero(np.abs(centres - centres[i]) >= width - 1e-9)
                if int(j) not in excluded
            ]
            if len(ref) < 2:
                out.append(w)
                continue
            counts = []
            for k, c in enumerate(w.counts):
                obs = np.array([windows[j].counts[k].observed for j in ref], dtype=np.float64)
                tmpl = np.array([windows[j].counts[k].expected_template for j in ref])
                kappa = np.maximum(obs, 0.5) / tmpl
                x = centres[ref] - centres[i]
                k0, var, line = fit(x, kappa, tmpl, 1 if len(ref) >= 3 else 0)
                scatter = float(np.mean((kappa / line - 1.0) ** 2 - 1.0 / (tmpl * line)))
                degrees: tuple[int, ...] = (2,) if len(ref) >= 4 else ()
                if len(ref) >= 3 and (x.min() > 0 or x.max() < 0):
                    degrees += (0,)
                model = max((fit(x, kappa, tmpl, d)[0] - k0 for d in degrees), key=abs, default=0.0)
                expected = max(c.expected_template * k0, 1e-9)
                sigma = expected * float(np.sqrt(max(scatter, 0.0) + (var + model**2) / k0**2))
                z = signed_significance(c.observed, expected, sigma)
                counts.append(
                    dataclasses.replace(
                        c, expected=expected, expected_uncertainty=sigma, significance=z
                    )
                )
            out.append(dataclasses.replace(w, counts=tuple(counts)))
        return out

    excluded: set[int] = set()
    out = calibrate(excluded)
    for _ in range(len(windows)):
        excess = {i for i, w in enumerate(out) if max(c.significance for c in w.counts) > 3.0}
        if excess == excluded:
            break
        excluded = excess
        out = calibrate(excluded)
    return out


def _pulls(scans: list[list[WindowResult]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pull with the window's Poisson noise, pull of the estimate alone, relative
    uncertainty) over every window and cut."""
    full, alone, rel = [], [], []
    for windows in scans:
        for w in windows:
            for c in w.counts:
                full.append(pull(c))
                alone.append((c.expected - c.true_background) / c.expected_uncertainty)
                rel.append((c.efficiency, c.expected_uncertainty / c.expected))
    return np.array(full), np.array(alone), np.array(rel)


def _best(windows: list[WindowResult]) -> tuple[WindowResult, CutCount]:
    return max(((w, c) for w in windows for c in w.counts), key=lambda wc: wc[1].significance)


def _table(windows: list[WindowResult]) -> list[str]:
    lines = [
        f"    {'window':<12} {'eps':>6} {'obs':>7} {'expected':>16} {'fit/scatter/tmpl':>17} "
        f"{'true B':>7} {'true S':>6} {'Z':>6} {'oracle Z':>8}"
    ]
    for w in windows:
        lo, hi = w.signal_region
        for c in w.counts:
            if c.efficiency != 0.001:  # the cut where the signal shows
                continue
            parts = "/".join(f"{v:.1f}" for v in c.uncertainty_parts.values())
            lines.append(
                f"    [{lo:.1f}, {hi:.1f}] {c.efficiency:>6g} {c.observed:>7.0f} "
                f"{c.expected:>8.1f} +- {c.expected_uncertainty:<5.1f} {parts:>17} "
                f"{c.true_background:>7.0f} {c.true_signal:>6.0f} {c.significance:>+6.2f} "
                f"{c.oracle_significance:>+8.2f}"
            )
    return lines


def report(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """Pulls, precision, the oracle ratio and the targets for every estimate and range."""

    work = Path(args.workdir)
    scans = read_scans(work)
    signal = {k: v for k, v in scans.items() if v["n_sig"] > 0}
    null = {k: v for k, v in scans.items() if v["n_sig"] == 0}
    if not signal or not null:
        raise SystemExit(f"run --part scan with and without signal first (found {sorted(scans)})")
    any_scan = next(iter(scans.values()))
    walls = [v["wall_seconds"] for v in scans.values()]
    cpus = [v["cpu_seconds"] for v in scans.values() if "cpu_seconds" in v]
    trains = [v["train_seconds"] for v in scans.values()]
    cpu = f"; CPU time {min(cpus):.0f}-{max(cpus):.0f} s (one thread)" if cpus else ""
    lines = [
        f"bench_scan: Pythia dev sample {args.data_dir} ({any_scan['n_background']} background "
        f"events); sigma-context, preset {args.preset}, {args.epochs} epochs, {args.ensemble} "
        f"classifier members, oversampling {args.oversampling}, counts {args.counts}; windows "
        "0.4 TeV every 0.1 "
        f"TeV, cuts {any_scan['efficiencies']}",
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, two or more scans at a time; "
        f"per scan wall time {min(walls):.0f}-{max(walls):.0f} s (training "
        f"{min(trains):.0f}-{max(trains):.0f} s){cpu}",
        f"{len(signal)} scans with N_sig = {args.n_sig} injected and {len(null)} without signal, "
        "each a Poisson-bootstrap replica with its own seeds",
        "pull = (expected - true background count) / sqrt(uncertainty^2 + dispersion x "
        "expected): the window's own Poisson noise is in the true count; 'alone' divides by "
        "the estimate's uncertainty only",
        "",
    ]
    summary: dict[str, Any] = {"args": vars(args), "results": {}}
    for m_range in RANGES:
        cfg = _config(args, 0, m_range)
        for name in ESTIMATES:
            est = {k: estimate(v["window_results"], name, m_range, cfg) for k, v in scans.items()}
            full, alone, rel = _pulls(list(est.values()))
            key = f"{name} {m_range[0]}-{m_range[1]}"
            lines.append(f"== {key} TeV ({len(est[next(iter(est))])} windows)")
            lines.append(
                f"  pulls over {len(full)} window-cuts: mean {full.mean():+.2f}, std "
                f"{full.std(ddof=1):.2f}, beyond +-3 {np.mean(np.abs(full) > 3):.1%} "
                f"(target mean within +-0.3, std 0.7-1.3, < 1%: "
                f"{_verdict(_pulls_ok(full))}); "
                f"alone: mean {alone.mean():+.2f}, std {alone.std(ddof=1):.2f}"
            )
            for eff in any_scan["efficiencies"]:
                sel = rel[:, 0] == eff
                lines.append(
                    f"  eps {eff:g}: median relative uncertainty {np.median(rel[sel, 1]):.3f}"
                )
            found, half_oracle = 0, 0
            for k in signal:
                w, c = _best(est[k])
                lo, hi = w.signal_region
                ok = c.significance >= 5 and lo <= 3.5 <= hi
                found += ok
                half_oracle += ok and c.significance >= 0.5 * c.oracle_significance
                g = global_significance(
                    [[w_.significance(e) for w_ in est[k]] for e in any_scan["efficiencies"]]
                )
                lines.append(
                    f"  {k}: largest Z {c.significance:+.2f} in [{lo:.1f}, {hi:.1f}] at eps "
                    f"{c.efficiency:g} (oracle Z there {c.oracle_significance:+.2f}, ratio "
                    f"{_ratio(c.significance, c.oracle_significance)}); global Z {g['global']:.2f}"
                )
            if name == "calibrated":
                lines.append("  " + _signal_share(est, signal))
                lines.append("  " + _ceiling(est, cfg.scan.width))
            lines.append(
                f"  N_sig > 0: Z >= 5 in a window containing 3.5 TeV in {found} of {len(signal)}"
                f", with at least half the oracle Z in {half_oracle} (target 4 of 5: "
                f"{_verdict(found >= 4 and half_oracle >= 4)})"
            )
            worst, small_p = _null_results(est, null, any_scan["efficiencies"], confirmed=False)
            lines.append(
                f"  N_sig = 0: largest |Z| per replica {', '.join(f'{z:+.2f}' for z in worst)}; "
                f"replicas with |Z| > 3.5: {sum(abs(z) > 3.5 for z in worst)} of {len(null)} "
                f"(target none: {_verdict(all(abs(z) <= 3.5 for z in worst))}); global p < 0.1 "
                f"in {small_p} of {len(null)}"
            )
            confirmed = _confirmed(est, signal, null, any_scan["efficiencies"])
            lines += confirmed["lines"]
            summary["results"][key] = {
                "pull_mean": float(full.mean()),
                "pull_std": float(full.std(ddof=1)),
                "pull_beyond_3": float(np.mean(np.abs(full) > 3)),
                "signal_found": found,
                "null_worst": worst,
                "confirmed_signal_found": confirmed["found"],
                "confirmed_null_worst": confirmed["worst"],
            }
            lines.append("")
    lines += _kappa_noise(null, any_scan["efficiencies"])
    lines.append("")
    first_signal, first_null = sorted(signal)[0], sorted(null)[0]
    for k in (first_signal, first_null):
        for m_range in RANGES:
            cfg = _config(args, 0, m_range)
            lines.append(f"{k}, calibrated over {m_range[0]}-{m_range[1]} TeV, window by window:")
            lines += _table(estimate(scans[k]["window_results"], "calibrated", m_range, cfg))
    return "\n".join(lines), summary


def _null_results(
    est: dict[str, list[WindowResult]],
    null: dict[str, Any],
    efficiencies: list[float],
    *,
    confirmed: bool,
) -> tuple[list[float], int]:
    """Each background-only scan's largest ``|Z|`` (``confirmed``: confirmed by a
    neighbouring window) and how many have a global p-value below 0.1."""
    from scipy.stats import norm

    worst, small_p = [], 0
    for k in null:
        worst.append(max((w.significance(confirmed=confirmed) for w in est[k]), key=abs))
        g = global_significance(
            [[w.significance(e, confirmed) for w in est[k]] for e in efficiencies]
        )
        small_p += float(norm.sf(g["global"])) < 0.1
    return worst, small_p


def _confirmed(
    est: dict[str, list[WindowResult]],
    signal: dict[str, Any],
    null: dict[str, Any],
    efficiencies: list[float],
) -> dict[str, Any]:
    """The targets for the significance confirmed by a neighbouring window (what the scan
    reports as its largest excess and corrects for the look-elsewhere effect)."""

    zs, found, half_oracle = [], 0, 0
    for k in signal:
        z, c = max(
            (
                (c.confirmed_significance, c)
                for w in est[k]
                if w.signal_region[0] <= 3.5 <= w.signal_region[1]
                for c in w.counts
            ),
            key=lambda zc: zc[0],
        )
        zs.append(z)
        found += z >= 5
        half_oracle += z >= 5 and z >= 0.5 * c.oracle_significance
    worst, small_p = _null_results(est, null, efficiencies, confirmed=True)
    lines = [
        "  confirmed by a neighbouring window (the scan's largest excess): N_sig > 0: largest Z "
        f"in a window containing 3.5 TeV {', '.join(f'{z:+.2f}' for z in zs)}; >= 5 in "
        f"{found} of {len(signal)}, with at least half the oracle Z in {half_oracle} (target 4 "
        f"of 5: {_verdict(found >= 4 and half_oracle >= 4)})",
        f"  confirmed, N_sig = 0: largest |Z| per replica {', '.join(f'{z:+.2f}' for z in worst)}"
        f"; replicas with |Z| > 3.5: {sum(abs(z) > 3.5 for z in worst)} of {len(null)} (target "
        f"none: {_verdict(all(abs(z) <= 3.5 for z in worst))}); global p < 0.1 in {small_p} of "
        f"{len(null)}",
    ]
    return {"lines": lines, "found": found, "worst": worst}


def _signal_share(est: dict[str, list[WindowResult]], signal: dict[str, Any]) -> str:
    """What the calibration has to work with, from the labels: the share of windows whose
    tightest cut passes signal events (at least a fifth of the true background there), and
    the spread of the true background's ``kappa`` (true background / template count) at the
    tightest cut over the other windows."""
    shares, spreads = [], []
    for k in signal:
        cuts = [w.counts[-1] for w in est[k]]
        held = [c.true_signal >= 0.2 * max(c.true_background, 1.0) for c in cuts]
        shares.append(sum(held) / len(cuts))
        free = [
            np.log(max(c.true_background, 0.5) / c.expected_template)
            for c, h in zip(cuts, held, strict=True)
            if not h
        ]
        spreads.append(float(np.std(free, ddof=1)) if len(free) > 1 else float("nan"))
    return (
        f"windows whose {est[next(iter(est))][0].counts[-1].efficiency:g} cut passes signal "
        f"(>= 20% of the background there): {np.mean(shares):.0%} on average; spread of the "
        f"true background's log kappa over the others: {np.nanmean(spreads):.2f}"
    )


SIGNAL_FREE = 0.05
"""A window's cut counts as free of signal below this true signal over true background."""


def _ceiling(est: dict[str, list[WindowResult]], width: float) -> str:
    """What no estimate from other windows can beat, from the labels: each window's true
    background ``log kappa`` predicted from the signal-free windows that do not overlap it
    (a constant, a line, or between them a parabola, fitted to their true ``log kappa``),
    the root mean square of the prediction error per cut over every window of every scan
    (the window's own Poisson noise included), for the best of the three shapes."""
    errors: dict[tuple[float, int], list[float]] = {}
    for windows in est.values():
        centres = np.array([w.center for w in windows])
        for k in range(len(windows[0].counts)):
            cuts = [w.counts[k] for w in windows]
            y = np.array([np.log(max(c.true_background, 0.5) / c.expected_template) for c in cuts])
            free = np.array(
                [c.true_signal < SIGNAL_FREE * max(c.true_background, 1.0) for c in cuts]
            )
            for i in range(len(windows)):
                ref = np.flatnonzero((np.abs(centres - centres[i]) >= width - 1e-9) & free)
                for degree in (0, 1, 2):
                    if len(ref) <= degree or (
                        degree == 2 and not centres[ref].min() < centres[i] < centres[ref].max()
                    ):
                        continue
                    fit = np.polyval(np.polyfit(centres[ref], y[ref], degree), centres[i])
                    errors.setdefault((cuts[0].efficiency, degree), []).append(y[i] - fit)
    parts = []
    for eff in sorted({e for e, _ in errors}, reverse=True):
        rms = {d: float(np.sqrt(np.mean(np.square(v)))) for (e, d), v in errors.items() if e == eff}
        best = min(rms, key=rms.__getitem__)
        shape = ("constant", "line", "parabola")[best]
        parts.append(f"eps {eff:g} {rms[best]:.2f} ({shape})")
    return (
        "the ceiling (labels): rms error of the true background's log kappa predicted from "
        "the signal-free non-overlapping windows: " + ", ".join(parts)
    )


def _kappa_noise(null: dict[str, Any], efficiencies: list[float]) -> list[str]:
    """Where the background's ``kappa`` varies, from the labels of the background-only
    replicas: the variance of the true background's ``log kappa`` of one window across the
    replicas (new data, training and classifiers each), against the variance between the
    windows of their replica means (a mismodelling that stays with a window), and the
    Poisson part."""
    lines = [
        "the true background's log kappa (true background / template count), over the "
        f"{len(null)} background-only replicas:"
    ]
    for k, eps in enumerate(efficiencies):
        y = np.array(
            [
                [
                    np.log(max(w.counts[k].true_background, 0.5) / w.counts[k].expected_template)
                    for w in scan["window_results"]
                ]
                for scan in null.values()
            ]
        )
        t = np.array(
            [
                [w.counts[k].expected_template for w in scan["window_results"]]
                for scan in null.values()
            ]
        )
        within = float(np.mean(np.var(y, axis=0, ddof=1)))
        between = float(np.var(y.mean(axis=0), ddof=1))
        poisson = float(np.mean(1.0 / (t * np.exp(y))))
        lines.append(
            f"  eps {eps:g}: variance of one window across replicas {within:.3f} (Poisson "
            f"{poisson:.3f}); between the windows' means {between:.3f} (noise alone would give "
            f"{within / len(null):.3f})"
        )
    return lines


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b > 0 else "n/a"


def _pulls_ok(pulls: np.ndarray) -> bool:
    return bool(
        abs(pulls.mean()) <= 0.3
        and 0.7 <= pulls.std(ddof=1) <= 1.3
        and np.mean(np.abs(pulls) > 3) < 0.01
    )


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--part", choices=("scan", "report"), default="report")
    p.add_argument("--data-dir", default="../shared/data/pythia-dev")
    p.add_argument("--n-sig", type=int, default=450)
    p.add_argument("--replica", type=int, default=0)
    p.add_argument("--preset", default="cpu")
    p.add_argument("--epochs", type=int, default=60, help="training epochs of every model")
    p.add_argument("--ensemble", type=int, default=10, help="classifier members per window")
    p.add_argument("--oversampling", type=int, default=4, help="template events per data event")
    p.add_argument(
        "--counts",
        choices=("ensemble", "rounds"),
        default="ensemble",
        help="[scan] counts: one cut on the ensemble's score, or each k-fold round's averaged",
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--workdir", default="/tmp/scan_sliding_window")
    p.add_argument("--out", default="benchmarks/scan/results/estimate_pulls_and_z.txt")
    args = p.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    if args.part == "scan":
        result = compute(args)
        path = work / f"scan_nsig{args.n_sig}_r{args.replica}.json"
        path.write_text(json.dumps(result, indent=1, default=str))
        print(f"{path}: {result['wall_seconds']:.0f} s", flush=True)
        return
    text, summary = report(args)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    out.with_suffix(".json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
