"""What a study or a scan leaves in its output folder: report.json, plots, a summary table."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from resonant_ad import __version__
from resonant_ad.config import StudyConfig
from resonant_ad.data.events import Events
from resonant_ad.search.inputs import StudyInputs

__all__ = [
    "format_scan_table",
    "run_and_report",
    "scan_and_report",
    "scan_and_write",
    "study_plots",
]

log = logging.getLogger(__name__)


def _config_meta(config: StudyConfig) -> dict[str, Any]:
    from dataclasses import asdict

    return json.loads(json.dumps(asdict(config), default=str))


def run_and_report(
    config: StudyConfig, inputs: StudyInputs, out_dir: str | Path, *, progress: bool = True
) -> str:
    """Run a study, write ``report.json`` and the plots to ``out_dir``; return the table."""
    from tqdm.auto import tqdm

    from resonant_ad.report.report import format_summary_table, write_report
    from resonant_ad.search.study import StudyRun, build_report

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    study = StudyRun(config, inputs, out, progress=progress)
    total = (
        len(config.n_sig) * config.n_injections * len(config.signal_regions) * len(config.methods)
    )
    scores = list(tqdm(study.run(), total=total, desc="study", disable=not progress))
    meta = {"version": __version__, "config": _config_meta(config)}
    report = build_report(scores, list(study.train_seconds.values()), meta)
    write_report(out / "report.json", report)
    study_plots(out / "plots", scores, study, report)
    return format_summary_table(report)


def study_plots(out: Path, scores: Sequence[Any], study: Any, report: Any) -> list[Path]:
    """SIC curves per (SR, N_sig), SIC at FPR 1e-3 vs N_sig per SR, feature histograms."""
    from resonant_ad.detect.metrics import sic_curve
    from resonant_ad.report.plots import (
        plot_feature_histograms,
        plot_sic_curves,
        plot_sic_vs_nsig,
    )

    out.mkdir(parents=True, exist_ok=True)
    written = []
    keys = sorted({(s.signal_region, s.n_sig) for s in scores})
    for sr, n_sig in keys:
        curves: dict[str, list[Any]] = {}
        for s in scores:
            if (s.signal_region, s.n_sig) == (sr, n_sig):
                curves.setdefault(s.method, []).append(sic_curve(s.scores, s.labels))
        tag = f"SR{sr[0]:g}-{sr[1]:g}_nsig{n_sig}"
        path = out / f"sic_curves_{tag}.png"
        plot_sic_curves(
            curves, title=f"SR [{sr[0]:g}, {sr[1]:g}] TeV, $N_{{sig}}$={n_sig}", path=path
        )
        written.append(path)
        example = study.examples.get((sr, n_sig), {})
        if example:
            # as in the SIGMA paper's Fig. 2: the background and signal present in the data
            observed = example["observed"]
            signal = observed.select(observed.label == 1)
            templates = {k: v for k, v in example.items() if k != "observed"}
            path = out / f"features_{tag}.png"
            plot_feature_histograms(
                observed.select(observed.label == 0),
                signal if len(signal) else None,
                observed,
                templates,
                path=path,
            )
            written.append(path)
    for sr in sorted({s.signal_region for s in scores}):
        if len({s.n_sig for s in scores if s.signal_region == sr}) > 1:
            path = out / f"sic_vs_nsig_SR{sr[0]:g}-{sr[1]:g}.png"
            plot_sic_vs_nsig(report, signal_region=sr, path=path)
            written.append(path)
    log.info("wrote %d plots to %s", len(written), out)
    return written


def scan_and_report(
    config: StudyConfig,
    inputs: StudyInputs,
    out_dir: str | Path,
    *,
    methods: Sequence[str],
    n_sig: int | None = None,
    progress: bool = True,
) -> str:
    """Inject ``n_sig`` signal events (default ``[scan] n_sig``) and :func:`scan_and_write`."""
    from resonant_ad.search.scan import scan_data

    data = scan_data(config, inputs, n_sig)
    return scan_and_write(config, data, out_dir, methods=methods, progress=progress)


def scan_and_write(
    config: StudyConfig,
    data: Events,
    out_dir: str | Path,
    *,
    methods: Sequence[str],
    model: Any = None,
    progress: bool = True,
) -> str:
    """Scan ``data`` with each method, write ``scan.json`` and ``scan.png``; return a table.

    ``model``: an already trained ``v_data`` for the non-``cr`` methods (else trained here).
    """
    from resonant_ad.report.scan_plot import plot_scan
    from resonant_ad.search.scan import run_scan

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = [
        run_scan(
            config, data, out, method=m, model=model if m != "cr" else None, progress=progress
        ).to_dict()
        for m in methods
    ]
    (out / "scan.json").write_text(
        json.dumps({"version": __version__, "scans": results}, indent=2, default=_json_default)
    )
    plot_scan(results, out / "scan.png", title=f"$N_{{sig}}$ = {data.n_signal}")
    return format_scan_table(results)


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"cannot serialise {type(v).__name__}")


def format_scan_table(results: Sequence[dict[str, Any]]) -> str:
    """Per window: data events, observed vs expected after each cut, Z; then the costs."""
    lines = []
    for r in results:
        lines.append(f"scan with {r['method']} (N_sig = {r['n_sig']}):")
        header = f"  {'window [TeV]':<14} {'N_data':>8} {'true S':>7} "
        header += " ".join(f"{f'obs/exp@{e:g}':>18} {'Z':>6}" for e in r["efficiencies"])
        lines.append(header + f" {'s/window':>9}")
        for w in r["windows"]:
            lo, hi = w["signal_region"]
            row = f"  [{lo:.2f}, {hi:.2f}]   {w['n_data']:>8} {w['n_signal_true']:>7} "
            row += " ".join(
                f"{c['observed']:>8}/{c['expected']:<9.1f} {c['significance']:>+6.2f}"
                for c in w["counts"]
            )
            row += f" {w['template_seconds'] + w['classifier_seconds']:>9.1f}"
            lines.append(row)
        g = r.get("global_significance") or {}
        if g.get("local", float("nan")) > 0:
            lines.append(
                f"  largest excess: local Z = {g['local']:.2f}, global Z = {g['global']:.2f} "
                f"(look-elsewhere: {g['upcrossings']:.0f} up-crossings of Z = 0.5)"
            )
        lines.append(
            f"  largest |Z| = {r['max_abs_significance']:.2f}; training {r['train_seconds']:.0f} s,"
            f" total {r['total_seconds']:.0f} s ({r['seconds_per_window']:.1f} s per window)"
        )
        for s in r["skipped"]:
            lines.append(f"  skipped {s}")
    return "\n".join(lines)
