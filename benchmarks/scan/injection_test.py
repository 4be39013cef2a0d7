"""The injection test of data without labels on the dev sample: an artificial bump added to
QCD alone, and whether each template learns it and the scan recovers it
(``resonant-ad injection-test``'s library calls).

Pythia dev sample, its QCD events only as the "data" (no signal, as real data that hold
none), the scan of ``sliding_window.py`` (2.6-5.0 TeV, windows of 0.4 TeV every 0.1 TeV,
cuts at template efficiency 0.1 / 0.01 / 0.001, ``cpu`` preset, 60 epochs, 10 classifier
members, templates of 4 times the data) with ``data``, ``sigma-context`` and ``sigma-poly``
(one ``v_data`` training per bump). For each bump of ``--bumps`` (``MASS:S[:SPREAD]`` for a
bump at ``MASS`` TeV with ``S / sqrt(B)`` of ``S`` within two widths; width 4% of the mass,
feature centres at the 0.3 quantile, spreads ``SPREAD`` (default 0.1) times the features'
standard deviation: a compact cluster, or a broader one a template can learn): each
template's uptake of the bump in its core, the scan's excess in the bump's window against
the bump events passing each cut, with its pull, and each method's largest confirmed
excess.

Usage: ``python benchmarks/scan/injection_test.py --workers 2`` (a run folder ``--workdir``
keeps every scan: an interrupted run resumes).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common.stored_scans import RANGES
from resonant_ad.config import DataConfig
from resonant_ad.data.bump import artificial_bump
from resonant_ad.search.engine import open_executor
from resonant_ad.search.injection_test import run_injection_test
from resonant_ad.search.inputs import load_inputs
from scan.sliding_window import DEFAULT_SETTINGS, default_config


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-dir", default="../shared/data/pythia-dev")
    p.add_argument("--methods", nargs="+", default=["data", "sigma-context", "sigma-poly"])
    p.add_argument(
        "--bumps", nargs="+", default=["3.5:3", "3.5:6", "4.0:4", "3.5:6:0.3", "3.5:6:0.6"]
    )
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--workdir", default="/tmp/scan_injection_test")
    p.add_argument("--out", default="benchmarks/scan/results/injection_test")
    args = p.parse_args()

    config = default_config()
    data = load_inputs(DataConfig(events=Path(args.data_dir) / "events.h5")).background
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        f"bench_injection_test: an artificial bump in the Pythia dev sample's QCD alone "
        f"({len(data)} events), the scan of sliding_window.py over {RANGES[0][0]}-{RANGES[0][1]} "
        f"TeV ({DEFAULT_SETTINGS}) "
        f"(benchmarks/scan/injection_test.py)",
    ]
    results = {}
    t_all = time.perf_counter()
    with open_executor(args.workers) as executor:
        for spec in args.bumps:
            mass, significance, spread = (float(v) for v in [*spec.split(":"), "0.1"][:3])
            bump = artificial_bump(data, mass, significance=significance, relative_spread=spread)
            t0 = time.perf_counter()
            result = run_injection_test(
                config,
                data,
                bump,
                Path(args.workdir) / spec.replace(":", "_s", 1).replace(":", "_spread"),
                methods=args.methods,
                executor=executor,
                progress=False,
            )
            lines.append("")
            lines.append(
                f"## bump {spec}: S/sqrt(B) {significance:g} at {mass:g} TeV, spreads {spread:g} "
                "of the features' standard deviations "
                f"({time.perf_counter() - t0:.0f} s)"
            )
            lines.append(result.table())
            results[spec] = result.to_dict()
    lines.insert(
        1,
        f"machine: {platform.machine()}, {args.workers} worker(s); wall time "
        f"{time.perf_counter() - t_all:.0f} s",
    )
    text = "\n".join(lines)
    print(text)
    (out / "summary.txt").write_text(text + "\n")
    (out / "injection_test.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
