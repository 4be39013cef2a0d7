"""What the scan's classifier members and template oversampling cost, and what they buy.

Stored scans of ``sliding_window.py`` made with other ``--ensemble`` or ``--oversampling``
(the same replicas, data and ``v_data``): for each folder, over the replicas every folder
holds, and, with the scan's estimate over
2.6-5.0 TeV, the pulls of the estimate against the true background count, the largest Z in
a window holding 3.5 TeV with signal and the largest ``|Z|`` without. The cost comes from a
scan of one replica per setting in ``FOLDER/timing/`` (``--workdir FOLDER/timing`` with the
replica's trained ``v_data`` copied in, so the scan is its windows alone; two such scans
side by side on the 2-core machine): its CPU seconds (one thread) and its windows' own
template and classifier seconds.

Usage: ``python benchmarks/scan/cost_curve.py LABEL=FOLDER ...`` (default: the committed
folders); writes ``scan/results/cost_curve.txt``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common.stored_scans import WIDTH, largest_abs_z, pull, read_scans, signal_z
from resonant_ad.search.background import calibrated_expectations

RESULTS = "benchmarks/scan/results"
DEFAULT = (
    f"10 members, oversampling 4={RESULTS}/raw_scans",
    f"40 members, oversampling 4={RESULTS}/raw_scans_40_members",
    f"10 members, oversampling 2={RESULTS}/raw_scans_oversampling_2",
    f"10 members, oversampling 1={RESULTS}/raw_scans_oversampling_1",
)


def _cost(folder: Path) -> str:
    """The CPU seconds of the timing scan in ``folder`` and its windows' own seconds."""
    timed = read_scans(folder)
    if not timed:
        return "no timing scan"
    name, d = next(iter(timed.items()))
    tmpl = sum(w["template_seconds"] for w in d["windows"])
    clf = sum(w["classifier_seconds"] for w in d["windows"])
    return (
        f"{name} with v_data stored: CPU {d['cpu_seconds']:.0f} s, templates {tmpl:.0f} s, "
        f"classifiers {clf:.0f} s"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folders", nargs="*", default=list(DEFAULT))
    p.add_argument("--out", default=f"{RESULTS}/cost_curve.txt")
    args = p.parse_args()
    folders = dict(f.split("=", 1) for f in args.folders)
    scans = {label: read_scans(Path(folder)) for label, folder in folders.items()}
    common = sorted(set.intersection(*(set(s) for s in scans.values())))
    n_sig = sum(scans[next(iter(scans))][k]["n_sig"] > 0 for k in common)
    lines = [
        f"bench_scan_cost_curve: {len(common)} replicas in every folder ({n_sig} with signal, "
        f"{len(common) - n_sig} without), dev sample, sigma-context, cpu preset, 60 epochs; "
        "estimate over 2.6-5.0 TeV (benchmarks/scan/cost_curve.py)",
        "",
    ]
    for label, by_name in scans.items():
        pulls, found, null = [], [], []
        for k in common:
            d = by_name[k]
            out = calibrated_expectations(d["window_results"], WIDTH)
            pulls += [pull(c) for w in out for c in w.counts]
            if d["n_sig"]:
                found.append(signal_z(out))
            else:
                null.append(largest_abs_z(out))
        pl = np.array(pulls)
        lines.append(
            f"{label}: {_cost(Path(folders[label]) / 'timing')}; pulls mean {pl.mean():+.2f}, "
            f"std {pl.std(ddof=1):.2f}, "
            f"beyond +-3 {100 * np.mean(np.abs(pl) > 3):.1f}%; with signal Z "
            + " ".join(f"{z:+.2f}" for z in found)
            + f" (>= 5 in {sum(z >= 5 for z in found)}); without, largest |Z| "
            + " ".join(f"{z:+.2f}" for z in null)
            + f" (> 3.5 in {sum(abs(z) > 3.5 for z in null)})"
        )
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
