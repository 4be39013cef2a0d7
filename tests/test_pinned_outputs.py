"""What a toy study with every template method, and a toy scan, report: pinned to the last
bit, so that a change meant to leave the results alone (a refactor) is seen to.

The pinned numbers hold for the versions of torch, numpy and scikit-learn they were made
with and for the CPU's instruction set that torch's kernels use (AVX2 and AVX-512 round
differently), at one torch thread. A file holds one pin per such platform; on a platform with
none the test is skipped, saying so. After a change meant to alter results, rewrite the pin
of this platform with ``RESONANT_AD_WRITE_PINNED=1 pytest tests/test_pinned_outputs.py`` (the
pins of other platforms are then dropped: they no longer hold) and say why in the commit;
``RESONANT_AD_WRITE_PINNED=add`` adds this platform's pin to unchanged results.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sklearn
import torch

from resonant_ad.config import config_from_dict
from resonant_ad.data.features import compute_features
from resonant_ad.data.toy import make_toy_sample
from resonant_ad.methods.registry import names
from resonant_ad.report.outputs import write_scans
from resonant_ad.search.inputs import StudyInputs
from resonant_ad.search.scan import run_scans
from resonant_ad.search.study import run_study

PINNED = Path(__file__).parent / "pinned"
TIMES = ("seconds", "timings")
"""Keys whose values are wall times, which no run repeats (left out of the comparison)."""


def _platform() -> dict[str, str]:
    return {
        "torch": torch.__version__,
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        "cpu": torch.backends.cpu.get_cpu_capability(),
    }


def _without_times(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _without_times(x) for k, x in v.items() if not any(t in k for t in TIMES)}
    if isinstance(v, list):
        return [_without_times(x) for x in v]
    return v


def _check(name: str, got: dict[str, Any]) -> None:
    path = PINNED / f"{name}.json"
    got = json.loads(json.dumps(_without_times(got)))
    here = _platform()
    pins = json.loads(path.read_text())["pins"] if path.exists() else []
    write = os.environ.get("RESONANT_AD_WRITE_PINNED")
    if write:
        kept = [p for p in pins if p["platform"] != here] if write == "add" else []
        pins = [*kept, {"platform": here, "outputs": got}]
        path.write_text(json.dumps({"pins": pins}, indent=1) + "\n")
    pinned = next((p for p in pins if p["platform"] == here), None)
    if pinned is None:
        known = [p["platform"] for p in pins]
        pytest.skip(f"pinned on {known}, running on {here}")
    assert got == pinned["outputs"]


def _config(methods: list[str], **sections: Any) -> Any:
    return config_from_dict(
        {
            "data": {"events": "unused.h5"},
            "study": {"n_sig": [500], "n_injections": 1, "methods": methods, "device": "cpu"},
            "model": {"preset": "tiny", "max_epochs": 2},
            "classifier": {"ensemble_size": 2, "oversampling": 1},
            **sections,
        }
    )


@pytest.fixture(scope="module")
def inputs() -> StudyInputs:
    toy = make_toy_sample(8_000, 1_500, 2_000, seed=3)
    simulation = compute_features(make_toy_sample(6_000, 0, 0, seed=4).background)
    return StudyInputs(
        compute_features(toy.background),
        compute_features(toy.signal),
        compute_features(toy.extra_background),
        simulation,
    )


def _method_table(name: str) -> dict[str, Any]:
    """A method's own settings made small (the others follow ``[model] preset``)."""
    return {"rad-ot": {"events_per_side": 300, "pairs": 2_000}}.get(name, {})


def test_a_study_with_every_template_and_density_method_reports_what_it_reported(
    inputs: StudyInputs, tmp_path: Path
) -> None:
    methods = [*names(yields="template"), "r-anode", "anode"]
    tables = {m: t for m in methods if (t := _method_table(m))}
    config = _config(methods, method=tables)
    result = run_study(config, inputs, tmp_path / "study", progress=False)
    assert sorted(s.method for s in result.scores) == sorted(methods)
    _check("study", result.report().to_json())


def test_a_scan_reports_what_it_reported(inputs: StudyInputs, tmp_path: Path) -> None:
    scan = {"m_min": 2.6, "m_max": 4.8, "width": 0.4, "step": 0.2, "margin": 0.1, "n_sig": 500}
    config = _config(["sigma-context"], scan={**scan, "efficiencies": [0.1, 0.02]})
    data = inputs.background
    results = run_scans(
        config, data, tmp_path / "scan", methods=["sigma-context", "cathode-nf"], progress=False
    )
    write_scans(results, tmp_path / "scan")
    _check("scan", json.loads((tmp_path / "scan" / "scan.json").read_text()))
