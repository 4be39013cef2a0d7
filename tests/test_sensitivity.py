"""Sensitivity by injection: the scan's significance at the signal mass against N_sig."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from resonant_ad.cli import main
from resonant_ad.errors import InputError
from resonant_ad.search.counts import CutCount, WindowResult
from resonant_ad.search.sensitivity import SensitivityPoint, signal_point, summarise
from toys import toy_scan_config


def _window(lo: float, n_signal: float, z: tuple[float, float]) -> WindowResult:
    counts = tuple(
        CutCount(e, 0.9, 10.0, 10.0, 1.0, zi, 10.0, confirmed_significance=zi / 2)
        for e, zi in zip((0.1, 0.01), z, strict=True)
    )
    return WindowResult((lo, lo + 0.4), 1000.0 + n_signal, 4000, n_signal, counts, 0.0, 0.0)


def test_the_signal_point_takes_the_windows_holding_the_mass() -> None:
    windows = [
        _window(3.0, 10, (1.0, 9.0)),
        _window(3.2, 400, (2.0, 4.0)),
        _window(3.4, 300, (5.0, 1.0)),
    ]
    p = signal_point("m", 500, 0, windows, 3.5)  # [3.2, 3.6] and [3.4, 3.8], not [3.0, 3.4]
    assert (p.z, p.confirmed_z) == (5.0, 2.5)
    assert p.s_over_sqrt_b == pytest.approx(400 / 1000**0.5)
    with pytest.raises(InputError, match="signal mass"):
        signal_point("m", 500, 0, windows, 4.5)


def test_the_summary_gives_the_median_and_band_over_injections() -> None:
    points = [SensitivityPoint("m", 300, k, z, z, 1.0) for k, z in enumerate((1.0, 2.0, 6.0))]
    (row,) = summarise(points)
    assert row["injections"] == 3 and row["z"]["median"] == 2.0
    assert row["z"]["p16"] < 2.0 < row["z"]["p84"]


def test_sensitivity_of_a_toy_scan(tmp_path: Path) -> None:
    config = toy_scan_config(tmp_path)
    out = tmp_path / "sens"
    argv = ["sensitivity", str(config), "--out", str(out), "--no-progress"]
    argv += ["--n-sig", "0", "1500", "--injections", "2", "--signal-mass", "3.6"]
    assert main(argv) == 0
    rows = json.loads((out / "sensitivity.json").read_text())["rows"]
    assert [(r["method"], r["n_sig"], r["injections"]) for r in rows] == [
        ("sigma-context", 0, 2),
        ("sigma-context", 1500, 2),
    ]
    none, loud = rows
    assert none["s_over_sqrt_b"]["median"] == 0 and loud["s_over_sqrt_b"]["median"] > 10
    # the toy scan's three windows leave a wide estimate: the signal raises Z a little
    assert loud["z"]["median"] > none["z"]["median"]
    assert sorted(p.name for p in out.glob("nsig*")) == [
        "nsig0_inj0",
        "nsig0_inj1",
        "nsig1500_inj0",
        "nsig1500_inj1",
    ]
    assert (out / "sensitivity.png").stat().st_size > 10_000


def test_each_injection_draws_its_own_signal(tmp_path: Path) -> None:
    from resonant_ad.config import load_config
    from resonant_ad.search.inputs import load_inputs
    from resonant_ad.search.scan import scan_data

    config = load_config(toy_scan_config(tmp_path))
    inputs = load_inputs(config.data)
    first, second = (scan_data(config, inputs, 100, injection=k) for k in (0, 1))
    assert first.n_signal == second.n_signal == 100
    assert set(first.m[first.label == 1]) != set(second.m[second.label == 1])
    assert np.array_equal(first.m, scan_data(config, inputs, 100, injection=0).m)
    # the first injection is the scan's own draw ('resonant-ad scan --n-sig 100')
    assert np.array_equal(scan_data(config, inputs, 100).m, first.m)
