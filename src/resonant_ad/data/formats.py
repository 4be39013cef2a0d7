"""Event files besides the LHCO pandas HDF5: ROOT trees (TTree or RNTuple, read with uproot)
and Parquet tables (read with pyarrow), through a column mapping.

Analysis ntuples name their branches as they like, so a :class:`ColumnMap` says which
column holds what, in one of two forms:

- **jets**: every LHCO jet column (``pxj1`` ... ``tau3j2``, GeV; see
  :data:`~resonant_ad.data.lhco.JET_COLUMNS`) named by its column in the file. The table is
  then checked exactly as an LHCO file is (:func:`~resonant_ad.data.lhco.validate_jets`:
  rows with NaN/inf dropped and counted, TeV or MeV momenta refused, rounding-level negative
  masses read as 0) and the study's feature set is computed from it.
- **features**: ``mjj`` (TeV) and the features themselves, precomputed; their names in the
  mapping are the feature names. Rows with NaN/inf are dropped and counted the same way, and
  ``mjj`` in GeV is refused.

An optional ``label`` column (0 background, 1 signal) is read in both forms.

>>> ColumnMap({"mjj": "Mjj", "tau21": "t21"}).kind
'features'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from resonant_ad.data.events import Events
from resonant_ad.data.features import compute_feature_set
from resonant_ad.data.lhco import JET_COLUMNS, labelled_rows, read_lhco, validate_jets
from resonant_ad.errors import InputError

__all__ = ["FORMATS", "ColumnMap", "file_format", "is_table_file", "read_events", "read_table"]

FORMATS = {".h5": "hdf5", ".hdf5": "hdf5", ".root": "root", ".parquet": "parquet", ".pq": "parquet"}
"""File formats by suffix."""

_MAX_MEDIAN_MJJ_TEV = 100.0
"""A median ``mjj`` above this many "TeV" is in GeV (the LHC collides at 13 TeV)."""


@dataclass(frozen=True)
class ColumnMap:
    """Which column of a table holds what (see the module docstring): keys are this
    package's names (the jet columns, or ``mjj`` and feature names; ``label`` in both), values
    the file's column (branch) names. ``tree``: the ROOT tree to read (needed only when the
    file holds several)."""

    columns: Mapping[str, str] = field(default_factory=dict)
    tree: str | None = None

    def __post_init__(self) -> None:
        bad = {k: v for k, v in self.columns.items() if not (isinstance(v, str) and v)}
        if bad:
            raise InputError(f"[data] columns: every value must be a column name, got {bad}")
        if not self.columns:
            raise InputError("[data] columns: map the file's columns (jets, or mjj and features)")
        if self.kind == "jets":
            missing = [c for c in JET_COLUMNS if c not in self.columns]
            extra = sorted(set(self.columns) - {*JET_COLUMNS, "label"})
            if missing or extra:
                raise InputError(
                    f"[data] columns: a jet mapping names every one of {list(JET_COLUMNS)} "
                    f"(and optionally label); missing {missing}, unknown {extra}"
                )
        elif "mjj" not in self.columns or len(self.features) == 0:
            raise InputError(
                "[data] columns: name the jet columns (pxj1 ... tau3j2), or mjj and at least "
                f"one feature; got {sorted(self.columns)}"
            )

    @property
    def kind(self) -> str:
        """``"jets"`` or ``"features"``."""
        return "features" if "mjj" in self.columns else "jets"

    @property
    def features(self) -> tuple[str, ...]:
        """The feature names of a features mapping, in the mapping's order."""
        return tuple(k for k in self.columns if k not in ("mjj", "label"))


def file_format(path: str | Path) -> str:
    """``"hdf5"``, ``"root"`` or ``"parquet"``, from the file's suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(
            f"{path}: unknown file type {suffix!r}; event files are {sorted(set(FORMATS))}"
        )
    return FORMATS[suffix]


def is_table_file(path: str | Path) -> bool:
    """Whether ``path`` names a ROOT or Parquet file (read through a column mapping; any
    other file is read as an LHCO HDF5 file).

    >>> is_table_file("ntuple.root"), is_table_file("events.h5"), is_table_file("events")
    (True, False, False)
    """
    return FORMATS.get(Path(path).suffix.lower()) in ("root", "parquet")


def read_table(path: str | Path, columns: ColumnMap) -> pd.DataFrame:
    """The mapped columns of a ROOT tree or Parquet file, renamed to this package's names."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    fmt = file_format(path)
    wanted = list(dict.fromkeys(columns.columns.values()))
    if fmt == "root":
        frame = _read_root(path, wanted, columns.tree)
    elif fmt == "parquet":
        frame = _read_parquet(path, wanted)
    else:
        raise InputError(f"{path}: HDF5 files are read as LHCO files, without a column mapping")
    return pd.DataFrame({name: frame[col].to_numpy() for name, col in columns.columns.items()})


def _missing(path: Path, have: Any, wanted: list[str], what: str) -> None:
    missing = [c for c in wanted if c not in set(have)]
    if missing:
        raise InputError(f"{path} lacks {what}(s) {missing}; it has {sorted(have)[:20]}")


def _read_root(path: Path, wanted: list[str], tree: str | None) -> pd.DataFrame:
    import uproot

    try:
        file = uproot.open(path)
    except Exception as err:
        raise InputError(f"cannot read {path} as a ROOT file: {err}") from err
    with file:
        kinds = file.classnames().items()
        trees = [k.split(";")[0] for k, c in kinds if c in ("TTree", "ROOT::RNTuple")]
        if tree is None:
            if len(set(trees)) != 1:
                raise InputError(f"{path} holds trees {sorted(set(trees))}: set [data] tree")
            tree = trees[0]
        if tree not in trees:
            raise InputError(f"{path} has no tree {tree!r}; it has {sorted(set(trees))}")
        t = file[tree]
        _missing(path, t.keys(), wanted, "branch")
        arrays = t.arrays(wanted, library="np")
    return pd.DataFrame({k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()})


def _read_parquet(path: Path, wanted: list[str]) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception as err:
        raise InputError(f"cannot read {path} as a Parquet file: {err}") from err
    _missing(path, schema.names, wanted, "column")
    return pq.read_table(path, columns=wanted).to_pandas()


def read_events(
    path: str | Path,
    *,
    feature_set: str = "lhco",
    columns: ColumnMap | None = None,
    label: int | None = None,
    max_events: int | None = None,
) -> Events:
    """The events of an event file: a ROOT/Parquet table through ``columns``, or (without
    them) an LHCO HDF5 file. ``feature_set`` names the features computed from jets (a features
    mapping brings its own); ``label`` labels every event (else the file's ``label``)."""
    if columns is None:
        if is_table_file(path):
            raise InputError(f"{path}: a ROOT or Parquet file needs [data] columns")
        return compute_feature_set(read_lhco(path, label=label, max_events=max_events), feature_set)
    table = read_table(path, columns)
    if columns.kind == "jets":
        return compute_feature_set(
            validate_jets(table, path, label=label, max_events=max_events), feature_set
        )
    return _feature_events(table, Path(path), columns.features, label, max_events)


def _feature_events(
    table: pd.DataFrame,
    path: Path,
    features: tuple[str, ...],
    label: int | None,
    max_events: int | None,
) -> Events:
    rows = labelled_rows(table, ["mjj", *features], path, label=label, max_events=max_events)
    median = float(np.median(rows["mjj"]))
    if median > _MAX_MEDIAN_MJJ_TEV:
        raise InputError(
            f"{path}: median mjj is {median:.3g}, which looks like GeV; give it in TeV"
        )
    x = rows.loc[:, list(features)].to_numpy()
    return Events(rows["mjj"].to_numpy(), x, rows["label"].to_numpy().astype(np.int64), features)
