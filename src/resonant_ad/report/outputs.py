"""What a study or a scan leaves in its output folder: report.json, plots, a summary table.

:func:`write_study` writes a :class:`~resonant_ad.search.results.StudyResult`;
:func:`write_scans` the results of :func:`~resonant_ad.search.scan.run_scans`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from resonant_ad import __version__
from resonant_ad.config import StudyConfig

__all__ = ["format_scan_table", "study_plots", "write_scans", "write_study"]

log = logging.getLogger(__name__)


def _config_meta(config: StudyConfig) -> dict[str, Any]:
    from dataclasses import asdict

    return json.loads(json.dumps(asdict(config), default=str))


def write_study(result: Any, out_dir: str | Path) -> str:
    """Write ``report.json`` and the plots of a study's result to ``out_dir``; return the
    summary table."""
    from resonant_ad.report.report import format_summary_table, write_report

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"version": __version__, "config": _config_meta(result.config)}
    report = result.report(meta)
    write_report(out / "report.json", report)
    study_plots(out / "plots", result.scores, result.examples, report)
    from resonant_ad.report.density import write_density_outputs

    table = format_summary_table(report)
    fractions = write_density_outputs(result, out)
    return f"{table}\n\nsignal fraction w:\n{fractions}" if fractions else table


def study_plots(
    out: Path, scores: Sequence[Any], examples: dict[Any, dict[str, Any]], report: Any
) -> list[Path]:
    """SIC curves per (SR, N_sig), SIC at FPR 1e-3 vs N_sig per SR, feature histograms."""
    from resonant_ad.detect.metrics import sic_curve
    from resonant_ad.report.histograms import plot_feature_histograms
    from resonant_ad.report.sic_plots import plot_sic_curves, plot_sic_vs_nsig

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
        example = examples.get((sr, n_sig), {})
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


def write_scans(results: Sequence[Any], out_dir: str | Path) -> str:
    """Write ``scan.json`` and ``scan.png`` of the scans ``results`` (one per method) to
    ``out_dir``; return the table."""
    from resonant_ad.report.scan_plot import plot_scan

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dicts = [r.to_dict() for r in results]
    (out / "scan.json").write_text(
        json.dumps(
            _no_nan({"version": __version__, "scans": dicts}),
            indent=2,
            default=_json_default,
            allow_nan=False,
        )
    )
    n_sig = dicts[0]["n_sig"] if dicts else 0
    plot_scan(dicts, out / "scan.png", title=f"$N_{{sig}}$ = {n_sig}")
    return format_scan_table(dicts)


def _no_nan(v: Any) -> Any:
    """``v`` with every non-finite number made ``None`` (JSON has no NaN).

    >>> _no_nan({"a": [1.0, float("nan")], "b": (float("inf"),)})
    {'a': [1.0, None], 'b': [None]}
    """
    if isinstance(v, dict):
        return {k: _no_nan(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_no_nan(x) for x in v]
    if isinstance(v, float | np.floating) and not np.isfinite(v):
        return None
    return v


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
                f"{c['observed']:>8.0f}/{c['expected']:<9.1f} {c['significance']:>+6.2f}"
                for c in w["counts"]
            )
            row += f" {w['template_seconds'] + w['classifier_seconds']:>9.1f}"
            lines.append(row)
        g = r.get("global_significance") or {}
        if g.get("local", float("nan")) > 0:
            lines.append(
                f"  largest excess confirmed by a neighbouring window: local Z = "
                f"{g['local']:.2f}, global Z = {g['global']:.2f} "
                f"(look-elsewhere: {g['upcrossings']:.0f} up-crossings of Z = 0.5)"
            )
        confirmed = r.get("max_abs_confirmed_significance")
        lines.append(
            f"  largest |Z| = {r['max_abs_significance']:.2f}"
            + ("" if confirmed is None else f" ({confirmed:.2f} confirmed)")
            + f"; training {r['train_seconds']:.0f} s, total {r['total_seconds']:.0f} s "
            f"({r['seconds_per_window']:.1f} s per window)"
        )
        for s in r["skipped"]:
            lines.append(f"  skipped {s}")
    return "\n".join(lines)
