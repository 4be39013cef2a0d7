"""Cost and calibration of the sliding-window scan: SIGMA (one training) vs ``cr`` (one per SR).

One run measures, on the same injected data and with the same model preset and training
budget: a SIGMA scan (one ``v_data`` training + one interpolated template per window) and a
``cr`` scan (one sideband training per window), with the same classifier in every window.
Then SIGMA scans the background-only data (``N_sig = 0``) to check for false discoveries.

Usage: ``python benchmarks/bench_scan.py [--data toy|reference] [--max-seconds S] [--out F]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from resonant_ad.config import config_from_dict
from resonant_ad.data.features import compute_features
from resonant_ad.data.toy import make_toy_sample
from resonant_ad.search.inputs import StudyInputs, load_inputs, reference_data
from resonant_ad.search.outputs import format_scan_table
from resonant_ad.search.scan import run_scan, scan_data


def _inputs(args: argparse.Namespace) -> StudyInputs:
    if args.data == "reference":
        return load_inputs(reference_data())
    toy = make_toy_sample(args.n_background, 20_000, 0, seed=args.seed)
    return StudyInputs(compute_features(toy.background), compute_features(toy.signal), None)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", choices=("toy", "reference"), default="toy")
    p.add_argument("--n-background", type=int, default=200_000, help="toy background events")
    p.add_argument("--n-sig", type=int, default=1000)
    p.add_argument("--preset", default="cpu")
    p.add_argument("--max-seconds", type=float, default=240.0, help="training budget per model")
    p.add_argument("--ensemble", type=int, default=10, help="classifier members per window")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", default="/tmp/bench_scan")
    p.add_argument("--out", default="benchmarks/results/bench_scan.txt")
    args = p.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    inputs = _inputs(args)
    cfg = config_from_dict(
        {
            "data": {"events": "unused.h5"},
            "study": {"seed": args.seed, "device": "cpu"},
            "model": {"preset": args.preset, "max_seconds": args.max_seconds},
            "classifier": {"ensemble_size": args.ensemble, "oversampling": 4},
            # 10 windows of 0.4 TeV every 0.2 TeV between 2.9 and 5.1 TeV (the left sideband
            # of the first window, 2.5-2.9 TeV, stays above the spectrum's turn-on)
            "scan": {
                "m_min": 2.9,
                "m_max": 5.1,
                "width": 0.4,
                "step": 0.2,
                "margin": 0.0,
                "efficiencies": [0.1, 0.01],
                "n_sig": args.n_sig,
            },
        }
    )
    load = os.getloadavg()
    results: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_before": load,
            "torch_threads": args.threads,
        },
        "args": vars(args),
        "n_background": len(inputs.background),
    }
    data = scan_data(cfg, inputs, args.n_sig)
    scans = {}
    for method in ("sigma-context", "cr"):
        t0 = time.perf_counter()
        r = run_scan(
            cfg, data, Path(args.workdir) / f"nsig{args.n_sig}", method=method, progress=False
        )
        scans[method] = {**r.to_dict(), "wall_seconds": time.perf_counter() - t0}
    null = scan_data(cfg, inputs, 0)
    t0 = time.perf_counter()
    r0 = run_scan(cfg, null, Path(args.workdir) / "nsig0", method="sigma-context", progress=False)
    scans["sigma-context (N_sig=0)"] = {**r0.to_dict(), "wall_seconds": time.perf_counter() - t0}
    results["scans"] = scans
    results["load_after"] = os.getloadavg()

    sig, cr = scans["sigma-context"], scans["cr"]
    null = scans["sigma-context (N_sig=0)"]

    def largest(scan: dict[str, Any]) -> dict[str, Any]:
        return max(scan["windows"], key=lambda w: max(c["significance"] for c in w["counts"]))

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    ratio = sig["total_seconds"] / cr["total_seconds"]
    best = {name: largest(scan) for name, scan in (("SIGMA", sig), ("cr", cr))}
    false = [
        w["signal_region"]
        for w in null["windows"]
        if max(abs(c["significance"]) for c in w["counts"]) > 3
    ]
    lines = [
        f"bench_scan: {args.data} data, {len(inputs.background)} background events, "
        f"preset {args.preset} with {args.max_seconds:g} s of training per model, "
        f"{args.ensemble} classifier members, torch threads {args.threads}",
        f"load average before {load[0]:.2f}, after {results['load_after'][0]:.2f} (2 cores)",
        "",
        format_scan_table([sig, cr, null]),
        "",
        f"cost of a {len(sig['windows'])}-window scan: SIGMA {sig['total_seconds']:.0f} s "
        f"(training {sig['train_seconds']:.0f} s), cr {cr['total_seconds']:.0f} s "
        f"(training {cr['train_seconds']:.0f} s); SIGMA / cr = {ratio:.3f} "
        f"(target < 0.2: {verdict(ratio < 0.2)}); SIGMA scan under 30 min: "
        f"{verdict(sig['total_seconds'] < 1800)}",
        *(
            f"N_sig={args.n_sig} ({name}): largest Z = "
            f"{max(c['significance'] for c in w['counts']):+.2f} in window "
            f"{w['signal_region']} (contains 3.5 TeV: "
            f"{verdict(w['signal_region'][0] <= 3.5 <= w['signal_region'][1])})"
            for name, w in best.items()
        ),
        f"N_sig=0 (SIGMA): largest |Z| = {null['max_abs_significance']:.2f}; windows with "
        f"|Z| > 3: {len(false)} {false} (target none: {verdict(not false)})",
    ]
    text = "\n".join(lines)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    out.with_suffix(".json").write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
