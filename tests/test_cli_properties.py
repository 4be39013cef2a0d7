"""Property: whatever config or file a user gives, the CLI ends with exit code 0 or 2 and, on
an error, one line; never a traceback (an exception escaping ``main`` fails these tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resonant_ad.cli import main
from resonant_ad.data.lhco import write_lhco
from resonant_ad.data.toy import make_toy_sample

BASE: dict[str, dict[str, Any]] = {
    "data": {"events": "events.h5", "extra_background": "extra.h5"},
    "study": {"n_sig": [300], "n_injections": 1, "methods": ["iad"], "device": "cpu"},
    "model": {"preset": "tiny", "max_epochs": 1},
    "classifier": {"ensemble_size": 2, "oversampling": 1},
    "scan": {
        "m_min": 3.0,
        "m_max": 3.8,
        "width": 0.4,
        "step": 0.4,
        "efficiencies": [0.1],
        "n_sig": 300,
        "background": "sidebands",  # one window: nothing to calibrate on
    },
}

values = st.one_of(
    st.integers(-3, 5),
    st.floats(-1e3, 1e3, allow_nan=False),
    st.sampled_from(["", "a", "cr", "tiny", "sigma-context", "cuda", "3.5"]),
    st.booleans(),
    st.lists(st.one_of(st.integers(-1, 4), st.floats(0, 6), st.text("ab", max_size=2)), max_size=3),
    st.lists(st.lists(st.floats(0, 6), min_size=0, max_size=3), max_size=2),
)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    return "[" + ", ".join(_toml_value(x) for x in v) + "]"


def _toml(cfg: dict[str, dict[str, Any]]) -> str:
    return "\n".join(
        f"[{section}]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in table.items())
        for section, table in cfg.items()
    )


@st.composite
def mutated_configs(draw: st.DrawFn) -> dict[str, dict[str, Any]]:
    cfg = {s: dict(t) for s, t in BASE.items()}
    for _ in range(draw(st.integers(1, 3))):
        section = draw(st.sampled_from([*cfg, "extra"]))
        table = cfg.setdefault(section, {})
        key = draw(st.sampled_from([*table, "bogus", "seed", "n_sig", "kind", "background"]))
        if draw(st.booleans()) and key in table:
            del table[key]
        else:
            table[key] = draw(values)
    return cfg


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("props")
    toy = make_toy_sample(6_000, 600, 2_000, seed=3)
    write_lhco(pd.concat([toy.background, toy.signal], ignore_index=True), root / "events.h5")
    write_lhco(toy.extra_background, root / "extra.h5")
    return root


@pytest.mark.parametrize("command", ["run", "scan"])
def test_the_config_the_mutations_start_from_runs(
    command: str, files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The mutations below start from a valid config: were it refused, a CLI that refused
    everything would pass them."""
    path = files / f"valid-{command}.toml"
    path.write_text(_toml(BASE))
    rc = main([command, str(path), "--out", str(tmp_path / "out"), "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    assert (tmp_path / "out" / ("report.json" if command == "run" else "scan.json")).is_file()


def _check(rc: int, err: str) -> None:
    assert rc in (0, 2), err
    if rc == 2:
        assert err.count("\n") == 1 and "error:" in err, err


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(cfg=mutated_configs(), command=st.sampled_from(["run", "scan"]))
def test_any_config_ends_in_a_result_or_one_line(
    cfg: dict[str, dict[str, Any]],
    command: str,
    files: Path,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = files / "c.toml"
    path.write_text(_toml(cfg))
    out = tmp_path_factory.mktemp("out")
    capsys.readouterr()
    rc = main([command, str(path), "--out", str(out), "--no-progress"])
    _check(rc, capsys.readouterr().err)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(head=st.binary(max_size=64), cut=st.floats(0.0, 1.0))
def test_any_file_ends_in_a_description_or_one_line(
    head: bytes, cut: float, files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # random bytes, or a real file cut short or with random bytes in front
    real = (files / "extra.h5").read_bytes()
    path = files / "mangled.h5"
    path.write_bytes(head + real[: int(cut * len(real))])
    capsys.readouterr()
    rc = main(["describe", str(path)])
    _check(rc, capsys.readouterr().err)
