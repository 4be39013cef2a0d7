"""``report.json``: typed result rows (SIC/AUC summaries over injections), timings, validation."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from resonant_ad.detect.metrics import DetectionMetrics, summarize
from resonant_ad.errors import InputError

__all__ = [
    "SIC_KEY",
    "Report",
    "ResultRow",
    "Summary",
    "Timings",
    "format_summary_table",
    "load_report",
    "report_from_json",
    "result_row",
    "write_report",
]

SIC_KEY = "sic_at_fpr_1e-3"
"""JSON key of the headline number, SIC at a background efficiency of 1e-3."""

_SUMMARY_KEYS = ("median", "p16", "p84")
_TIMING_KEYS = ("train_seconds", "template_seconds_per_sr", "classifier_seconds_per_sr")


class Summary(TypedDict):
    """Median and 16/84 percentiles of one number over signal injections."""

    median: float
    p16: float
    p84: float


@dataclass(frozen=True)
class ResultRow:
    """One (signal region, N_sig, method) result, summarised over ``n_injections``."""

    signal_region: tuple[float, float]
    n_sig: int
    method: str
    n_injections: int
    sic_at_fpr_1e_3: Summary
    max_sic: Summary
    auc: Summary
    seconds_per_sr: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from resonant_ad.methods.registry import names

        if self.method not in names():
            raise InputError(f"unknown method {self.method!r}; known: {', '.join(names())}")
        lo, hi = self.signal_region
        if not hi > lo:
            raise InputError(f"signal region {self.signal_region}: need lo < hi")
        if self.n_sig < 0 or self.n_injections < 1:
            raise InputError(f"n_sig {self.n_sig} / n_injections {self.n_injections} invalid")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "signal_region": [float(self.signal_region[0]), float(self.signal_region[1])],
            "n_sig": int(self.n_sig),
            "method": self.method,
            "n_injections": int(self.n_injections),
            SIC_KEY: _summary_to_json(self.sic_at_fpr_1e_3),
            "max_sic": _summary_to_json(self.max_sic),
            "auc": _summary_to_json(self.auc),
        }
        if self.seconds_per_sr is not None:
            out["seconds_per_sr"] = float(self.seconds_per_sr)
        out.update(self.extra)
        return out

    @staticmethod
    def from_json(obj: Mapping[str, Any], where: str = "result") -> ResultRow:
        if not isinstance(obj, Mapping):
            raise InputError(f"{where}: expected an object, got {type(obj).__name__}")
        known = {"signal_region", "n_sig", "method", "n_injections", SIC_KEY, "max_sic", "auc"}
        missing = sorted(known - set(obj))
        if missing:
            raise InputError(f"{where}: missing key(s) {', '.join(missing)}")
        sr = obj["signal_region"]
        if not (isinstance(sr, Sequence) and len(sr) == 2 and all(_is_number(v) for v in sr)):
            raise InputError(f"{where}.signal_region: expected [lo, hi] in TeV, got {sr!r}")
        for key in ("n_sig", "n_injections"):
            if not isinstance(obj[key], int) or isinstance(obj[key], bool):
                raise InputError(f"{where}.{key}: expected an integer, got {obj[key]!r}")
        if not isinstance(obj["method"], str):
            raise InputError(f"{where}.method: expected a string, got {obj['method']!r}")
        secs = obj.get("seconds_per_sr")
        if secs is not None and not _is_number(secs):
            raise InputError(f"{where}.seconds_per_sr: expected a number, got {secs!r}")
        extra = {k: v for k, v in obj.items() if k not in known | {"seconds_per_sr"}}
        return ResultRow(
            signal_region=(float(sr[0]), float(sr[1])),
            n_sig=obj["n_sig"],
            method=obj["method"],
            n_injections=obj["n_injections"],
            sic_at_fpr_1e_3=_summary_from_json(obj[SIC_KEY], f"{where}.{SIC_KEY}"),
            max_sic=_summary_from_json(obj["max_sic"], f"{where}.max_sic"),
            auc=_summary_from_json(obj["auc"], f"{where}.auc"),
            seconds_per_sr=None if secs is None else float(secs),
            extra=extra,
        )


@dataclass(frozen=True)
class Timings:
    """Wall-clock seconds: generative-model training, template per SR, classifier per SR."""

    train_seconds: float = math.nan
    template_seconds_per_sr: float = math.nan
    classifier_seconds_per_sr: float = math.nan
    extra: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "train_seconds": _num_to_json(self.train_seconds),
            "template_seconds_per_sr": _num_to_json(self.template_seconds_per_sr),
            "classifier_seconds_per_sr": _num_to_json(self.classifier_seconds_per_sr),
        }
        out.update({k: _num_to_json(v) for k, v in self.extra.items()})
        return out

    @staticmethod
    def from_json(obj: Mapping[str, Any]) -> Timings:
        if not isinstance(obj, Mapping):
            raise InputError(f"timings: expected an object, got {type(obj).__name__}")
        missing = [k for k in _TIMING_KEYS if k not in obj]
        if missing:
            raise InputError(f"timings: missing key(s) {', '.join(missing)}")
        vals = {k: _num_from_json(obj[k], f"timings.{k}") for k in _TIMING_KEYS}
        extra = {
            k: _num_from_json(v, f"timings.{k}") for k, v in obj.items() if k not in _TIMING_KEYS
        }
        return Timings(**vals, extra=extra)


@dataclass(frozen=True)
class Report:
    """Everything ``report.json`` holds: result rows, timings and free-form metadata."""

    results: list[ResultRow]
    timings: Timings = field(default_factory=Timings)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "results": [r.to_json() for r in self.results],
            "timings": self.timings.to_json(),
        }
        if self.meta:
            out["meta"] = self.meta
        return out


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _num_to_json(v: float) -> float | None:
    """NaN (e.g. SIC beyond the statistical cut) is written as JSON ``null``."""
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _num_from_json(v: Any, where: str) -> float:
    if v is None:
        return math.nan
    if not _is_number(v):
        raise InputError(f"{where}: expected a number or null, got {v!r}")
    return float(v)


def _summary_to_json(s: Summary) -> dict[str, float | None]:
    return {
        "median": _num_to_json(s["median"]),
        "p16": _num_to_json(s["p16"]),
        "p84": _num_to_json(s["p84"]),
    }


def _summary(values: Sequence[float]) -> Summary:
    s = summarize(values)
    return Summary(median=s["median"], p16=s["p16"], p84=s["p84"])


def _summary_from_json(obj: Any, where: str) -> Summary:
    if not isinstance(obj, Mapping):
        raise InputError(f"{where}: expected {{median, p16, p84}}, got {obj!r}")
    missing = [k for k in _SUMMARY_KEYS if k not in obj]
    if missing:
        raise InputError(f"{where}: missing key(s) {', '.join(missing)}")
    return Summary(
        median=_num_from_json(obj["median"], f"{where}.median"),
        p16=_num_from_json(obj["p16"], f"{where}.p16"),
        p84=_num_from_json(obj["p84"], f"{where}.p84"),
    )


def result_row(
    signal_region: tuple[float, float],
    n_sig: int,
    method: str,
    metrics: Sequence[DetectionMetrics],
    *,
    seconds_per_sr: float | None = None,
    **extra: Any,
) -> ResultRow:
    """A result row from the per-injection metrics of one method (median and 16/84%)."""
    if not metrics:
        raise InputError(f"no injections to summarise for {method} at N_sig = {n_sig}")
    return ResultRow(
        signal_region=(float(signal_region[0]), float(signal_region[1])),
        n_sig=int(n_sig),
        method=method,
        n_injections=len(metrics),
        sic_at_fpr_1e_3=_summary([m.sic_at_fpr for m in metrics]),
        max_sic=_summary([m.max_sic for m in metrics]),
        auc=_summary([m.auc for m in metrics]),
        seconds_per_sr=seconds_per_sr,
        extra=dict(extra),
    )


def report_from_json(obj: Any) -> Report:
    """Validate a parsed ``report.json`` and build a :class:`Report` (raises ``InputError``)."""
    if not isinstance(obj, Mapping):
        raise InputError(f"report: expected a JSON object, got {type(obj).__name__}")
    for key in ("results", "timings"):
        if key not in obj:
            raise InputError(f"report: missing key {key!r}")
    if not isinstance(obj["results"], list):
        raise InputError("report.results: expected a list")
    rows = [ResultRow.from_json(r, f"results[{i}]") for i, r in enumerate(obj["results"])]
    meta = obj.get("meta", {})
    if not isinstance(meta, dict):
        raise InputError("report.meta: expected an object")
    return Report(rows, Timings.from_json(obj["timings"]), meta)


def write_report(path: str | Path, report: Report) -> Path:
    """Write ``report`` as JSON (NaN as ``null``), creating parent folders; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_json(), indent=2, allow_nan=False) + "\n")
    return path


def load_report(path: str | Path) -> Report:
    """Read and validate a ``report.json``."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except FileNotFoundError as err:
        raise InputError(f"{path}: no such report file") from err
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not valid JSON ({err})") from err
    return report_from_json(obj)


def _fmt(s: Summary, digits: int = 2) -> str:
    if math.isnan(s["median"]):
        return "n/a"
    return (
        f"{s['median']:.{digits}f} [{s['p16']:.{digits}f}, {s['p84']:.{digits}f}]"
        if s["p16"] != s["p84"]
        else f"{s['median']:.{digits}f}"
    )


def format_summary_table(report: Report) -> str:
    """A terminal table: SR, method, N_sig, SIC at FPR 1e-3, max SIC, AUC (median [16%, 84%]),
    seconds per SR (the row's own, else the report's classifier time per SR) and, where the
    study had validation windows, the data-vs-template AUC there."""
    validated = any("validation_auc" in r.extra for r in report.results)
    header: tuple[str, ...] = (
        "signal region",
        "method",
        "N_sig",
        "inj",
        "SIC@1e-3",
        "max SIC",
        "AUC",
        "s/SR",
    )
    if validated:
        header += ("val. AUC",)
    from resonant_ad.methods.registry import names

    order = {m: i for i, m in enumerate(names())}
    rows = sorted(
        report.results,
        key=lambda r: (r.signal_region, r.n_sig, order.get(r.method, len(order))),
    )
    default_secs = report.timings.classifier_seconds_per_sr
    table = [header]
    for r in rows:
        secs = r.seconds_per_sr if r.seconds_per_sr is not None else default_secs
        row: tuple[str, ...] = (
            f"[{r.signal_region[0]:g}, {r.signal_region[1]:g}]",
            r.method,
            str(r.n_sig),
            str(r.n_injections),
            _fmt(r.sic_at_fpr_1e_3),
            _fmt(r.max_sic),
            _fmt(r.auc, 3),
            "n/a" if math.isnan(secs) else f"{secs:.1f}",
        )
        if validated:
            val = r.extra.get("validation_auc")
            row += (_fmt(_summary_from_json(val, "validation_auc"), 3) if val else "",)
        table.append(row)
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    t = report.timings
    lines.append(
        f"timings: train {_secs(t.train_seconds)}, template {_secs(t.template_seconds_per_sr)} "
        f"per SR, classifier {_secs(t.classifier_seconds_per_sr)} per SR"
    )
    return "\n".join(line.rstrip() for line in lines)


def _secs(v: float) -> str:
    return "n/a" if math.isnan(v) else f"{v:.1f} s"
