"""The demo: one study in one SR and a short scan that reuses the study's ``v_data``."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from resonant_ad import __version__
from resonant_ad.config import StudyConfig
from resonant_ad.search.inputs import StudyInputs

__all__ = ["run_demo"]

log = logging.getLogger(__name__)


def run_demo(
    config: StudyConfig, inputs: StudyInputs, out_dir: str | Path, *, progress: bool = True
) -> str:
    """Run the study of ``config`` (first SR, first N_sig) and a scan with its ``v_data``.

    Writes ``report.json``, ``plots/``, ``scan.json``, ``scan.png`` and the trained models to
    ``out_dir``; returns the summary tables.
    """
    from resonant_ad.report.scan_plot import plot_scan
    from resonant_ad.search.outputs import format_scan_table, run_and_report
    from resonant_ad.search.scan import run_scan
    from resonant_ad.search.study import StudyRun

    out = Path(out_dir)
    t0 = time.perf_counter()
    table = run_and_report(config, inputs, out, progress=progress)
    t_study = time.perf_counter() - t0
    # The scan runs on the same injected data with the same (cached) v_data model.
    study = StudyRun(config, inputs, out, progress=progress)
    sr, n_sig = config.signal_regions[0], config.n_sig[0]
    injection = study.injections(n_sig, sr)[0]
    model = study.vdata(injection)
    scans = [
        run_scan(
            config,
            injection.data,
            out,
            method=m,
            model=model if m != "cr" else None,
            progress=progress,
        ).to_dict()
        for m in config.scan.methods
    ]
    (out / "scan.json").write_text(json.dumps({"version": __version__, "scans": scans}, indent=2))
    plot_scan(scans, out / "scan.png", title=f"$N_{{sig}}$ = {n_sig}")
    total = time.perf_counter() - t0
    return "\n\n".join(
        [
            table,
            format_scan_table(scans),
            f"demo: study {t_study:.0f} s, total {total:.0f} s; outputs in {out}/ "
            "(report.json, plots/, scan.json, scan.png, models/)",
        ]
    )
