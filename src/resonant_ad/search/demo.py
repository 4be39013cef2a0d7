"""The demo: one study in one SR and a short scan that reuses the study's ``v_data``."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from resonant_ad.config import StudyConfig
from resonant_ad.search.inputs import StudyInputs

__all__ = ["run_demo"]

log = logging.getLogger(__name__)


def run_demo(
    config: StudyConfig,
    inputs: StudyInputs,
    out_dir: str | Path,
    *,
    executor: Any = None,
    progress: bool = True,
) -> str:
    """Run the study of ``config`` and a scan of its first injection with the study's
    ``v_data`` (the model of the first all-data method it trained).

    Writes ``report.json``, ``plots/``, ``scan.json``, ``scan.png`` and the trained models to
    ``out_dir``; returns the summary tables.
    """
    from resonant_ad.methods.registry import get
    from resonant_ad.report.outputs import write_scans, write_study
    from resonant_ad.search.scan import run_scans
    from resonant_ad.search.study import run_study, study_injections

    out = Path(out_dir)
    t0 = time.perf_counter()
    result = run_study(config, inputs, out, executor=executor, progress=progress)
    table = write_study(result, out)
    t_study = time.perf_counter() - t0
    # The scan runs on the first injection's data with the study's v_data.
    sr, n_sig = config.signal_regions[0], config.n_sig[0]
    data = study_injections(config, inputs, n_sig, sr)[0].data
    shared = [m for m in config.methods if get(m).trains_on == "all-data"]
    model_file = result.model_files[(shared[0], n_sig, 0, (sr.lo, sr.hi))] if shared else None
    scans = run_scans(
        config,
        data,
        out,
        methods=config.scan.methods,
        model_file=model_file,
        executor=executor,
        progress=progress,
    )
    scan_table = write_scans(scans, out)
    total = time.perf_counter() - t0
    return "\n\n".join(
        [
            table,
            scan_table,
            f"demo: study {t_study:.0f} s, total {total:.0f} s; outputs in {out}/ "
            "(report.json, plots/, scan.json, scan.png, models/)",
        ]
    )
