"""Where a scan window's seconds go: the template, the classifier's fits (their binning), the
scoring.

On the Pythia dev sample (``../shared/data/pythia-dev``, 450 signal events injected, one
Poisson-bootstrap replica), SIGMA (``sigma-context``) is trained once (``--epochs``; the
epochs change the training's cost, not a window's) and the 9 windows of 0.4 TeV every
0.1 TeV over 2.9-4.5 TeV are scanned under :mod:`cProfile` with the scan's classifier
(``--ensemble`` members, 5 folds, the template oversampled 4 times). The profile's
cumulative CPU seconds (one thread: what a free core would take, whatever the machine's
load) are printed by part:

- ``template``: the template's sampling (SIGMA's interpolated ODE);
- ``classifier fit``: the boosted-tree members' training;
- ``binning``: the features' binning, in the fits and in the scoring (scikit-learn's bin
  mapper and the ensemble's own ``bin_edges``/``to_bins``);
- ``scoring``: the members' predictions (out-of-fold and sidebands);
- ``rest``: everything else in the windows (selection, counting, caching).

Run it once per code version to compare (e.g. the code before a change through
``PYTHONPATH=/path/to/old/src``), each with its ``--label``; ``--append`` adds the run to the
output.

Usage: ``python benchmarks/scan/window_cost.py --label NAME [--append]``.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common.provenance import code_version
from resonant_ad.config import DataConfig, config_from_dict
from resonant_ad.data.injection import poisson_replica
from resonant_ad.search.inputs import load_inputs
from resonant_ad.search.scan import run_scan, scan_data

PARTS = {
    "template": [("flows/ensemble.py", "sample")],
    "classifier fit": [("detect/hgb.py", "_fit_hgb_member")],
    "binning (fits, scoring)": [
        ("_hist_gradient_boosting/binning.py", "fit"),
        ("detect/hgb.py", "bin_edges"),
        ("detect/hgb.py", "to_bins"),
    ],
    "scoring": [("detect/hgb.py", "_member_proba")],
    "windows in all": [("search/scan_window.py", "scan_window")],
}


def _cumulative(stats: pstats.Stats, where: list[tuple[str, str]]) -> float:
    """Cumulative seconds of the functions ``(file suffix, name)``; a call from one listed
    function to another is counted once."""

    def listed(key: tuple[str, int, str]) -> bool:
        return any(key[0].endswith(p) and key[2] == n for p, n in where)

    table = stats.stats  # type: ignore[attr-defined]
    total = 0.0
    for key, (_, _, _, cum, callers) in table.items():
        if listed(key):
            # the share of the calls made from a listed function is inside that one already
            outside = sum(v[3] for c, v in callers.items() if not listed(c))
            total += outside if callers else cum
    return total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default="../shared/data/pythia-dev")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--ensemble", type=int, default=10)
    p.add_argument("--label", required=True)
    p.add_argument("--append", action="store_true")
    p.add_argument("--out", default="benchmarks/scan/results/window_cost.txt")
    args = p.parse_args()
    torch.set_num_threads(1)

    cfg = config_from_dict(
        {
            "data": {"events": "unused.h5"},
            "study": {"seed": 7, "device": "cpu"},
            "model": {"preset": "cpu", "epochs": args.epochs},
            "classifier": {"ensemble_size": args.ensemble, "oversampling": 4},
            "scan": {
                "m_min": 2.9,
                "m_max": 4.5,
                "width": 0.4,
                "step": 0.1,
                "margin": 0.2,
                "efficiencies": [0.1, 0.01, 0.001],
                "n_sig": 450,
            },
        }
    )
    inputs = load_inputs(DataConfig(events=Path(args.data_dir) / "events.h5"))
    data = poisson_replica(scan_data(cfg, inputs, 450), 7)
    load = os.getloadavg()[0]
    # CPU seconds (one thread): what a free core takes, whatever the machine's load
    profile = cProfile.Profile(time.process_time)
    with tempfile.TemporaryDirectory() as work:
        t0 = time.perf_counter()
        profile.enable()
        result = run_scan(cfg, data, work, method="sigma-context", progress=False)
        profile.disable()
        wall = time.perf_counter() - t0
    stats = pstats.Stats(profile)
    lines = [
        f"## {args.label}: resonant_ad at {code_version()}; {args.ensemble} members; "
        f"{len(result.windows)} windows; {platform.machine()}, {os.cpu_count()} CPUs, load "
        f"average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; wall {wall:.0f} s "
        f"(training {result.train_seconds:.0f} s, under the profiler)",
        f"{'part':22s} {'seconds':>8s} {'per window':>11s}",
    ]
    n = len(result.windows)
    for part, where in PARTS.items():
        s = _cumulative(stats, where)
        lines.append(f"{part:22s} {s:8.1f} {s / n:11.2f}")
    text = "\n".join(lines) + "\n"
    out = Path(args.out)
    header = (
        "bench_window_cost: where a scan window's seconds go (dev sample, sigma-context, "
        "9 windows of 2.9-4.5 TeV, cProfile cumulative CPU seconds; benchmarks/scan/window_cost.py)"
        "\n"
    )
    text = (out.read_text() + "\n" + text) if args.append and out.exists() else header + "\n" + text
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
