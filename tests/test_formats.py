"""ROOT (uproot) and Parquet (pyarrow) event files through a column mapping: the same events
as the LHCO file they were written from, the same bad-row rules, one-line errors."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import uproot

from resonant_ad.data.formats import ColumnMap, read_events
from resonant_ad.data.lhco import JET_COLUMNS, write_lhco
from resonant_ad.data.toy import ToySample
from resonant_ad.errors import InputError

NAMES = {c: f"jet_{c}" for c in JET_COLUMNS} | {"label": "is_signal"}
"""A mapping of every LHCO column to a branch named differently."""


@pytest.fixture
def frame(toy_sample: ToySample) -> pd.DataFrame:
    df = pd.concat([toy_sample.background.iloc[:3000], toy_sample.signal.iloc[:200]])
    return df.reset_index(drop=True)


def _columns(df: pd.DataFrame) -> dict[str, np.ndarray]:
    return {branch: df[name].to_numpy() for name, branch in NAMES.items()}


def _write(path: Path, df: pd.DataFrame) -> Path:
    """``df`` under :data:`NAMES` as a ROOT TTree, a ROOT RNTuple or a Parquet file."""
    columns = _columns(df)
    if path.suffix == ".parquet":
        pd.DataFrame(columns).to_parquet(path)
    elif path.stem == "ttree":
        with uproot.recreate(path) as f:
            f.mktree("events", {k: np.float64 for k in columns})
            f["events"].extend(columns)
    else:
        with uproot.recreate(path) as f:
            f["events"] = columns  # uproot writes an RNTuple
    return path


@pytest.mark.parametrize("name", ["ttree.root", "rntuple.root", "events.parquet"])
def test_a_mapped_file_reads_the_events_of_the_lhco_file(
    tmp_path: Path, frame: pd.DataFrame, name: str
) -> None:
    reference = read_events(write_lhco(frame, tmp_path / "events.h5"))
    events = read_events(_write(tmp_path / name, frame), columns=ColumnMap(NAMES))
    assert events.feature_names == reference.feature_names
    np.testing.assert_array_equal(events.m, reference.m)
    np.testing.assert_allclose(events.x, reference.x, rtol=1e-12)
    np.testing.assert_array_equal(events.label, reference.label)
    assert events.n_signal == 200


def test_a_mapped_file_obeys_the_lhco_rules(
    tmp_path: Path, frame: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    frame.loc[[3, 7], "pxj1"] = np.nan
    with caplog.at_level(logging.WARNING):
        events = read_events(_write(tmp_path / "ttree.root", frame), columns=ColumnMap(NAMES))
    assert len(events) == len(frame) - 2 and "dropped 2 of 3200" in caplog.text
    mev = frame.copy()
    mev[list(JET_COLUMNS)] *= 1000.0
    with pytest.raises(InputError, match="looks like MeV"):
        read_events(_write(tmp_path / "mev.parquet", mev), columns=ColumnMap(NAMES))


def test_precomputed_features_and_mjj(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(0)
    m, a, b = rng.uniform(2.5, 5.0, 500), rng.normal(size=500), rng.normal(size=500)
    a[11] = np.inf
    table = {"Mjj": m, "A": a, "B": b, "y": (np.arange(500) % 5 == 0).astype(float)}
    path = tmp_path / "features.parquet"
    pd.DataFrame(table).to_parquet(path)
    columns = ColumnMap({"mjj": "Mjj", "tau21": "B", "mj1": "A", "label": "y"})
    with caplog.at_level(logging.WARNING):
        events = read_events(path, columns=columns)
    assert events.feature_names == ("tau21", "mj1") and len(events) == 499
    np.testing.assert_array_equal(events.x[:, 0], np.delete(b, 11))
    np.testing.assert_array_equal(events.m, np.delete(m, 11))
    assert events.n_signal == 100 and "dropped 1 of 500" in caplog.text
    assert read_events(path, columns=columns, label=0, max_events=50).n_signal == 0
    pd.DataFrame(table | {"Mjj": 1000 * m}).to_parquet(path)
    with pytest.raises(InputError, match="looks like GeV"):
        read_events(path, columns=columns)


def test_bad_mappings_and_files_are_one_line_errors(tmp_path: Path, frame: pd.DataFrame) -> None:
    root = _write(tmp_path / "ttree.root", frame)
    errors = [
        (lambda: ColumnMap({"pxj1": "a"}), "names every one of"),
        (lambda: ColumnMap({"mjj": "M"}), "at least one feature"),
        (lambda: ColumnMap({}), "map the file's columns"),
        (lambda: read_events(root), "needs \\[data\\] columns"),
        (lambda: read_events(root, columns=ColumnMap(NAMES | {"pxj1": "nope"})), "nope"),
        (lambda: read_events(root, columns=ColumnMap(NAMES, tree="other")), "no tree 'other'"),
        (lambda: read_events(tmp_path / "e.csv", columns=ColumnMap(NAMES)), "unknown file type"),
        (lambda: read_events(tmp_path / "gone.root", columns=ColumnMap(NAMES)), "no such file"),
    ]
    (tmp_path / "e.csv").write_text("a,b\n")
    for call, match in errors:
        with pytest.raises(InputError, match=match) as err:
            call()
        assert "\n" not in str(err.value)
    with uproot.recreate(tmp_path / "two.root") as f:
        for name in ("a", "b"):
            f.mktree(name, {"x": np.float64})
    with pytest.raises(InputError, match="set \\[data\\] tree"):
        read_events(tmp_path / "two.root", columns=ColumnMap(NAMES))
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(InputError, match=r"cannot read .* as a Parquet file"):
        read_events(tmp_path / "bad.parquet", columns=ColumnMap(NAMES))


def test_a_study_reads_its_files_through_the_config_mapping(
    tmp_path: Path, frame: pd.DataFrame, toy_sample: ToySample
) -> None:
    from resonant_ad.config import config_from_dict
    from resonant_ad.search.inputs import load_inputs

    write_lhco(frame, tmp_path / "events.h5")
    write_lhco(toy_sample.extra_background.iloc[:500], tmp_path / "extra.h5")
    _write(tmp_path / "events.parquet", frame)
    data = {"extra_background": str(tmp_path / "extra.h5")}
    with pytest.raises(InputError, match="is a ROOT or Parquet file: map its columns"):
        config_from_dict({"data": {"events": str(tmp_path / "events.parquet"), **data}})
    with pytest.raises(InputError, match="tree is read with"):
        config_from_dict({"data": {"events": str(tmp_path / "events.h5"), "tree": "t"}})
    mapped = config_from_dict(
        {"data": {"events": str(tmp_path / "events.parquet"), "columns": NAMES, **data}}
    )
    plain = config_from_dict({"data": {"events": str(tmp_path / "events.h5"), **data}})
    a, b = load_inputs(mapped.data), load_inputs(plain.data)
    for got, want in ((a.background, b.background), (a.signal, b.signal)):
        np.testing.assert_array_equal(got.m, want.m)
        np.testing.assert_allclose(got.x, want.x, rtol=1e-12)
    assert a.extra_background is not None and b.extra_background is not None
    np.testing.assert_array_equal(a.extra_background.x, b.extra_background.x)
