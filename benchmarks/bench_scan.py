"""The sliding-window scan on realistic jets: does SIGMA find the signal, and only the signal?

On the Pythia dev sample (``../shared/data/pythia-dev``): windows of 0.4 TeV every 0.1 TeV
from 2.8 to 4.8 TeV, cuts down to a template efficiency of 1e-3. Three scans, each its own
part (run parts side by side in separate processes, then ``--part report``):

- ``signal``: SIGMA (``sigma-context``, one ``v_data`` training) on the data with ``N_sig``
  signal events injected; target: the largest Z, >= 5, in a window containing 3.5 TeV;
- ``null``: SIGMA on background only; target: no window with |Z| > 3;
- ``cr`` (optional): the same signal scan with one sideband training per window, for the
  cost of a scan without SIGMA.

Every model trains the same number of epochs (``--epochs``). Each part writes its scan to
the work folder; ``report`` writes the table and the verdicts to ``--out``, with the
expectations calibrated from the stored counts by the current code. Scans with other
``--seed`` values (each its own injection, training and classifiers; ``--workdir`` one
folder per seed) are summarised with ``--extra-signal`` and ``--extra-null``.

Usage: ``python benchmarks/bench_scan.py --part signal`` (and ``null``), then
``python benchmarks/bench_scan.py --part report``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from resonant_ad.config import DataConfig, config_from_dict
from resonant_ad.report.outputs import format_scan_table
from resonant_ad.search.inputs import load_inputs
from resonant_ad.search.scan import (
    ScanResult,
    WindowResult,
    calibrated_expectations,
    run_scan,
    scan_data,
)

PARTS = ("signal", "null", "cr")


def _config(args: argparse.Namespace) -> Any:
    return config_from_dict(
        {
            "data": {"events": "unused.h5"},
            "study": {"seed": args.seed, "device": "cpu"},
            "model": {"preset": args.preset, "epochs": args.epochs},
            "classifier": {"ensemble_size": args.ensemble, "oversampling": 4},
            # the first window's near left sideband (2.6-2.8 TeV) is above the turn-on of
            # the spectrum (its peak is at 2.6 TeV); the last window, 4.4-4.8 TeV, still holds
            # ~6k events, so a 1e-3 cut expects several
            "scan": {
                "m_min": 2.8,
                "m_max": 4.8,
                "width": 0.4,
                "step": 0.1,
                "margin": 0.0,
                "efficiencies": [0.1, 0.01, 0.001],
                "n_sig": args.n_sig,
            },
        }
    )


def compute(part: str, args: argparse.Namespace) -> dict[str, Any]:
    """One scan: its result as a dict, with its wall time and the machine's load."""
    data_dir = Path(args.data_dir)
    inputs = load_inputs(DataConfig(events=data_dir / "events.h5"))
    cfg = _config(args)
    n_sig = 0 if part == "null" else args.n_sig
    data = scan_data(cfg, inputs, n_sig)
    method = "cr" if part == "cr" else "sigma-context"
    t0 = time.perf_counter()
    r = run_scan(cfg, data, Path(args.workdir) / f"nsig{n_sig}", method=method, progress=False)
    return {
        **r.to_dict(),
        "wall_seconds": time.perf_counter() - t0,
        "load_after": os.getloadavg()[0],
        "n_background": len(inputs.background),
    }


def _read_scan(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    """A stored scan with the expectations calibrated by the current code (from each
    window's stored counts: a changed calibration needs no new scan)."""
    d = json.loads(path.read_text())
    windows = [WindowResult.from_dict(w) for w in d["windows"]]
    result = ScanResult(
        d["method"],
        d["n_sig"],
        tuple(d["efficiencies"]),
        tuple(calibrated_expectations(windows, _config(args).scan.width)),
        tuple(d["skipped"]),
        d["train_seconds"],
        d["total_seconds"],
    )
    return {**d, **result.to_dict()}


def report(args: argparse.Namespace) -> tuple[str, dict[str, dict[str, Any]]]:
    """The table of every computed part and the verdicts on the targets, and the parts'
    scans as calibrated for it."""
    work = Path(args.workdir)
    scans = {
        p: _read_scan(work / f"{p}.json", args) for p in PARTS if (work / f"{p}.json").is_file()
    }
    if "signal" not in scans or "null" not in scans:
        raise SystemExit(f"run --part signal and --part null first (found: {sorted(scans)})")
    sig, null = scans["signal"], scans["null"]

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    def z(w: dict[str, Any]) -> float:
        return max(c["significance"] for c in w["counts"])

    def sideband_z(scan: dict[str, Any]) -> float:
        return max(abs(c["sideband_significance"]) for w in scan["windows"] for c in w["counts"])

    best = max(sig["windows"], key=z)
    lo, hi = best["signal_region"]
    false = [
        w["signal_region"]
        for w in null["windows"]
        if max(abs(c["significance"]) for c in w["counts"]) > 3
    ]
    lines = [
        f"bench_scan: Pythia dev sample {args.data_dir} ({sig['n_background']} background "
        f"events); preset {args.preset}, {args.epochs} epochs per model; {args.ensemble} "
        f"classifier members per window; torch threads {args.threads}",
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs; load average after each scan: "
        + ", ".join(f"{p} {s['load_after']:.2f}" for p, s in scans.items()),
        "",
        format_scan_table(list(scans.values())),
        "",
        f"N_sig={sig['n_sig']}: largest Z = {z(best):+.2f} in window [{lo:.2f}, {hi:.2f}] "
        f"(target Z >= 5 in a window containing 3.5 TeV: "
        f"{verdict(z(best) >= 5 and lo <= 3.5 <= hi)})",
        f"N_sig={sig['n_sig']}: global Z of the largest excess = "
        f"{sig['global_significance']['global']:.2f} (look-elsewhere effect, "
        f"{sig['global_significance']['upcrossings']:.0f} up-crossings of Z = 0.5)",
        f"N_sig=0: largest |Z| = {null['max_abs_significance']:.2f}; windows with |Z| > 3: "
        f"{len(false)} {false} (target none: {verdict(not false)})",
        "the sideband estimate of the background (diagnostic): largest |Z| "
        f"{sideband_z(sig):.2f} at N_sig={sig['n_sig']}, {sideband_z(null):.2f} at N_sig=0",
        f"SIGMA scan cost: {sig['total_seconds']:.0f} s for {len(sig['windows'])} windows "
        f"(training {sig['train_seconds']:.0f} s)",
    ]
    signals = {f"seed {args.seed}": sig}
    for folder in args.extra_signal:
        signals[Path(folder).name] = _read_scan(Path(folder) / "signal.json", args)
    if len(signals) > 1:
        lines.append(f"signal scans (N_sig = {sig['n_sig']}) with {len(signals)} seeds:")
        found = 0
        for name, scan in signals.items():
            top = max(scan["windows"], key=z)
            lo, hi = top["signal_region"]
            ok = z(top) >= 5 and lo <= 3.5 <= hi
            found += ok
            lines.append(
                f"  {name}: largest Z {z(top):+.2f} in [{lo:.2f}, {hi:.2f}] "
                f"(global {scan['global_significance']['global']:.2f}; "
                f"training {scan['train_seconds']:.0f} s)"
            )
        lines.append(f"  Z >= 5 in a window containing 3.5 TeV in {found} of {len(signals)}")
    nulls = {f"seed {args.seed}": null}
    for folder in args.extra_null:
        nulls[Path(folder).name] = _read_scan(Path(folder) / "null.json", args)
    if len(nulls) > 1:
        lines.append(f"background-only scans with {len(nulls)} seeds (training and classifiers):")
        pooled = []
        clean = 0
        for name, scan in nulls.items():
            zs = [c["significance"] for w in scan["windows"] for c in w["counts"]]
            pooled += zs
            clean += bool(np.max(np.abs(zs)) <= 3)
            lines.append(
                f"  {name}: mean Z {np.mean(zs):+.2f}, std {np.std(zs, ddof=1):.2f}, "
                f"largest |Z| {np.max(np.abs(zs)):.2f}, largest Z {np.max(zs):+.2f}"
            )
        lines.append(
            f"  pooled over {len(pooled)} window-cuts: mean Z {np.mean(pooled):+.2f}, std "
            f"{np.std(pooled, ddof=1):.2f}, |Z| > 3 in {int(np.sum(np.abs(pooled) > 3))}; "
            f"scans with no |Z| > 3: {clean} of {len(nulls)}"
        )
    if "cr" in scans:
        cr = scans["cr"]
        lines.append(
            f"cr scan cost: {cr['total_seconds']:.0f} s (training {cr['train_seconds']:.0f} s); "
            f"SIGMA / cr = {sig['total_seconds'] / cr['total_seconds']:.3f}"
        )
    return "\n".join(lines), scans


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--part", choices=(*PARTS, "report", "all"), default="all")
    p.add_argument("--data-dir", default="../shared/data/pythia-dev")
    p.add_argument("--n-sig", type=int, default=450)
    p.add_argument("--preset", default="cpu")
    p.add_argument("--epochs", type=int, default=100, help="training epochs of every model")
    p.add_argument("--ensemble", type=int, default=10, help="classifier members per window")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", default="/tmp/bench_scan")
    p.add_argument("--out", default="benchmarks/results/bench_scan.txt")
    p.add_argument(
        "--extra-signal",
        nargs="*",
        default=[],
        help="work folders of signal scans with other --seed values, summarised in the report",
    )
    p.add_argument(
        "--extra-null",
        nargs="*",
        default=[],
        help="work folders of background-only scans with other --seed values, pooled in the report",
    )
    args = p.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    for part in ("signal", "null") if args.part == "all" else (args.part,):
        if part == "report":
            continue
        result = compute(part, args)
        (work / f"{part}.json").write_text(json.dumps(result, indent=1, default=str))
        print(f"{part}: largest |Z| {result['max_abs_significance']:.2f}", flush=True)
    if args.part in ("report", "all"):
        text, scans = report(args)
        print(text)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
        out.with_suffix(".json").write_text(
            json.dumps({"args": vars(args), "scans": scans}, indent=1)
        )


if __name__ == "__main__":
    main()
