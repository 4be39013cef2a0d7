"""The demo: one study in one SR and a short scan that reuses the study's ``v_data``."""

from __future__ import annotations

import logging
import time
from pathlib import Path

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
    from resonant_ad.search.outputs import run_and_report, scan_and_write
    from resonant_ad.search.study import StudyRun

    out = Path(out_dir)
    t0 = time.perf_counter()
    table = run_and_report(config, inputs, out, progress=progress)
    t_study = time.perf_counter() - t0
    # The scan runs on the same injected data with the same (cached) v_data model.
    study = StudyRun(config, inputs, out, progress=progress)
    injection = study.injections(config.n_sig[0], config.signal_regions[0])[0]
    scan_table = scan_and_write(
        config,
        injection.data,
        out,
        methods=config.scan.methods,
        model=study.vdata(injection),
        progress=progress,
    )
    total = time.perf_counter() - t0
    return "\n\n".join(
        [
            table,
            scan_table,
            f"demo: study {t_study:.0f} s, total {total:.0f} s; outputs in {out}/ "
            "(report.json, plots/, scan.json, scan.png, models/)",
        ]
    )
