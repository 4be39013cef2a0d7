"""Tests of report.json: round trip, schema validation, NaN handling and the summary table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from resonant_ad.detect.metrics import DetectionMetrics
from resonant_ad.errors import InputError
from resonant_ad.report.report import (
    SIC_KEY,
    Report,
    ResultRow,
    Summary,
    Timings,
    format_summary_table,
    load_report,
    report_from_json,
    result_row,
    write_report,
)


def _metrics(sics: list[float]) -> list[DetectionMetrics]:
    return [DetectionMetrics(s, 2 * s if not math.isnan(s) else 5.0, 0.6) for s in sics]


def _report() -> Report:
    rows = [
        result_row((3.3, 3.7), 1000, "sigma-context", _metrics([4.0, 6.0, 8.0]), lr=3e-4),
        result_row((3.3, 3.7), 1000, "iad", _metrics([10.0, 11.0, 12.0]), seconds_per_sr=42.0),
        result_row((3.3, 3.7), 300, "cr", _metrics([math.nan, math.nan])),
    ]
    return Report(rows, Timings(1800.0, 30.0, 55.5, extra={"sample_seconds": 3.0}), {"seed": 1})


def test_result_row_summarises_injections() -> None:
    r = result_row((3.3, 3.7), 1000, "sigma-context", _metrics([4.0, 6.0, 8.0]))
    assert r.n_injections == 3
    assert r.sic_at_fpr_1e_3["median"] == 6.0
    assert r.sic_at_fpr_1e_3["p16"] == pytest.approx(4.64)
    assert r.sic_at_fpr_1e_3["p84"] == pytest.approx(7.36)
    assert r.max_sic["median"] == 12.0
    assert r.auc == Summary(median=0.6, p16=0.6, p84=0.6)


def test_round_trip_matches_the_schema(tmp_path: Path) -> None:
    rep = _report()
    path = write_report(tmp_path / "out" / "report.json", rep)
    raw = json.loads(path.read_text())
    assert set(raw) == {"results", "timings", "meta"}
    first = raw["results"][0]
    assert first["signal_region"] == [3.3, 3.7]
    assert first["n_sig"] == 1000 and first["method"] == "sigma-context"
    assert first["n_injections"] == 3
    assert set(first[SIC_KEY]) == {"median", "p16", "p84"}
    assert first["lr"] == 3e-4  # other keys are kept
    assert raw["timings"] == {
        "train_seconds": 1800.0,
        "template_seconds_per_sr": 30.0,
        "classifier_seconds_per_sr": 55.5,
        "sample_seconds": 3.0,
    }
    # SIC beyond the statistical cut (NaN) is written as null and read back as NaN
    assert raw["results"][2][SIC_KEY]["median"] is None
    back = load_report(path)
    assert back.results[0] == rep.results[0]
    assert back.results[1].seconds_per_sr == 42.0
    assert math.isnan(back.results[2].sic_at_fpr_1e_3["median"])
    assert back.timings == rep.timings
    assert back.meta == {"seed": 1}


def test_paper_shaped_json_validates() -> None:
    obj = {
        "results": [
            {
                "signal_region": [3.3, 3.7],
                "n_sig": 1000,
                "method": "sigma-context",
                "n_injections": 10,
                "sic_at_fpr_1e-3": {"median": 0.0, "p16": 0.0, "p84": 0.0},
                "max_sic": {"median": 0.0, "p16": 0.0, "p84": 0.0},
                "auc": {"median": 0.0, "p16": 0.0, "p84": 0.0},
            }
        ],
        "timings": {
            "train_seconds": 0.0,
            "template_seconds_per_sr": 0.0,
            "classifier_seconds_per_sr": 0.0,
        },
    }
    rep = report_from_json(obj)
    assert rep.results[0].n_injections == 10
    assert rep.to_json() == obj


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("results", 0, "method"), "sigma-magic", "unknown method"),
        (("results", 0, "n_sig"), 10.5, "n_sig"),
        (("results", 0, "signal_region"), [3.3], "signal_region"),
        (("results", 0, "auc"), {"median": 0.5}, "missing key"),
        (("results", 0, "max_sic"), {"median": "x", "p16": 0, "p84": 0}, "max_sic.median"),
        (("timings",), {"train_seconds": 1.0}, "timings"),
        (("results",), {}, "expected a list"),
    ],
)
def test_schema_errors_are_clear(path: tuple[object, ...], value: object, message: str) -> None:
    obj = _report().to_json()
    target = obj
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    with pytest.raises(InputError, match=message):
        report_from_json(obj)


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such"):
        load_report(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_report(bad)
    with pytest.raises(InputError):
        zero = Summary(median=0, p16=0, p84=0)
        ResultRow((3.7, 3.3), 1, "iad", 1, zero, zero, zero)


def test_summary_table() -> None:
    text = format_summary_table(_report())
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["signal", "region", "method"]
    body = "\n".join(lines[2:])
    # sorted by N_sig, then method order (cr before sigma-context before iad)
    assert body.index("cr") < body.index("sigma-context") < body.index("iad")
    ctx = next(line for line in lines if "sigma-context" in line)
    assert "6.00 [4.64, 7.36]" in ctx and "55.5" in ctx
    iad = next(line for line in lines if " iad " in line)
    assert "42.0" in iad
    assert "n/a" in next(line for line in lines if " cr " in line)
    assert lines[-1].startswith("timings: train 1800.0 s")
    from resonant_ad.methods.registry import names

    assert set(names()) >= {"data", "cr", "sigma-linear", "sigma-context", "sigma-poly"}
