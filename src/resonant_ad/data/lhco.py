"""Reader for the LHC Olympics 2020 R&D feature files, exactly as published (pandas HDF5, GeV)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from resonant_ad.errors import InputError
from resonant_ad.storage import write_atomic

__all__ = [
    "JET_COLUMNS",
    "LHCO_COLUMNS",
    "PUBLISHED_FILES",
    "content_sha256",
    "labelled_rows",
    "read_lhco",
    "split_by_label",
    "validate_jets",
    "write_lhco",
]

log = logging.getLogger(__name__)

JET_COLUMNS: tuple[str, ...] = tuple(
    f"{q}j{j}" for j in (1, 2) for q in ("px", "py", "pz", "m", "tau1", "tau2", "tau3")
)
"""Per-jet columns, GeV: momentum components, mass and N-subjettiness ``tau1..tau3``."""

LHCO_COLUMNS: tuple[str, ...] = (*JET_COLUMNS, "label")
"""All columns of ``events_anomalydetection_v2.features.h5`` (label 1 = signal)."""

PUBLISHED_FILES: dict[str, str] = {
    "events_anomalydetection_v2.features.h5": "1M QCD dijets + 100k W'->XY signal, label column",
    "events_anomalydetection_qcd_extra_inneronly_features.h5": "extra QCD background in the SR",
    "events_anomalydetection_Z_XY_qqq.features.h5": "3-prong signal",
}

MASS_ROUNDING_GEV = 1e-3
"""A jet mass in ``[-MASS_ROUNDING_GEV, 0)`` GeV is rounding of a massless jet and read as 0."""

# Any real jet in these samples has pT above a few hundred GeV and below the beam energy,
# 6.5 TeV: a median jet pT below this many "GeV" means the file is in TeV, above the other
# bound that it is in MeV.
_MIN_MEDIAN_PT_GEV = 50.0
_MAX_MEDIAN_PT_GEV = 20_000.0


def read_lhco(
    path: str | Path,
    *,
    label: int | None = None,
    max_events: int | None = None,
    key: str | None = None,
) -> pd.DataFrame:
    """Read an LHCO-format file and validate it.

    Args:
        path: a pandas HDF5 file with the :data:`JET_COLUMNS` (GeV).
        label: label for every event when the file has no ``label`` column (e.g. ``0`` for
            the extra background file, ``1`` for a pure signal file). A file with a label
            column keeps its own labels unless ``label`` is given.
        max_events: read only the first this many events.
        key: the HDF5 key, when the file holds more than one object.

    Returns a frame with exactly :data:`LHCO_COLUMNS` (float64). Rows with NaN or inf are
    dropped, counted and logged (the count is in ``frame.attrs["n_dropped"]``).

    Raises :class:`~resonant_ad.errors.InputError` for a missing or unreadable file,
    missing columns, momenta that look like TeV or MeV, or labels other than 0/1.
    """
    path = Path(path)
    if not path.is_file():
        hint = ""
        if path.name in PUBLISHED_FILES:
            hint = " (a public LHC Olympics file: download it from Zenodo, record 4536377)"
        raise InputError(f"no such file: {path}{hint}")
    import h5py

    if not h5py.is_hdf5(path):
        raise InputError(f"{path} is not an HDF5 file (the LHCO files are pandas HDF5)")
    try:
        df = pd.read_hdf(path, key=key) if key else _read_single_object(path)
    except InputError:
        raise
    except Exception as err:
        # the last line of the reader's message: HDF5 adds its whole internal back trace
        last = [ln.strip() for ln in str(err).splitlines() if ln.strip()][-1:] or ["unknown"]
        raise InputError(f"cannot read {path} as a pandas HDF5 file: {last[0]}") from err
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{path} holds a {type(df).__name__}, not a table of events")
    return validate_jets(df, path, label=label, max_events=max_events)


def validate_jets(
    df: pd.DataFrame, path: str | Path, *, label: int | None = None, max_events: int | None = None
) -> pd.DataFrame:
    """The events of a table with the :data:`JET_COLUMNS` (GeV), checked as
    :func:`read_lhco` checks them, as a frame with exactly :data:`LHCO_COLUMNS` (float64);
    ``path`` names the file in messages. Readers of other formats
    (:mod:`resonant_ad.data.formats`) end here too, so every format obeys the same rules."""
    path = Path(path)
    missing = [c for c in JET_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"{path} lacks column(s) {missing}; an LHCO file has {list(LHCO_COLUMNS)}")
    out = labelled_rows(df, JET_COLUMNS, path, label=label, max_events=max_events)
    _check_units(out, path)
    n_dropped = out.attrs["n_dropped"]
    out, n_negative = _clean_masses(out, path)
    out.attrs["n_dropped"] = n_dropped + n_negative
    out.attrs["source"] = str(path)
    return out


def labelled_rows(
    df: pd.DataFrame,
    columns: Sequence[str],
    path: Path,
    *,
    label: int | None = None,
    max_events: int | None = None,
) -> pd.DataFrame:
    """The first ``max_events`` rows of ``df``'s ``columns`` as float64 with a ``label``
    column (``label`` for every row, else the table's own), rows with NaN or inf dropped
    and counted (``attrs["n_dropped"]``), labels other than 0/1 refused: the rules every
    event file obeys, whatever it holds."""
    if max_events is not None:
        if max_events <= 0:
            raise InputError(f"max_events must be positive, got {max_events}")
        df = df.iloc[:max_events]
    out = df.loc[:, list(columns)].astype(np.float64)
    if label is not None:
        if label not in (0, 1):
            raise InputError(f"label must be 0 or 1, got {label}")
        out["label"] = float(label)
    elif "label" in df.columns:
        out["label"] = df["label"].astype(np.float64).to_numpy()
    else:
        raise InputError(
            f"{path} has no label column; say which it holds (label=0 background, 1 signal)"
        )
    out = out.reset_index(drop=True)
    out, n_dropped = _drop_non_finite(out, path)
    _check_labels(out, path)
    out.attrs["n_dropped"] = n_dropped
    return out


def _read_single_object(path: Path) -> pd.DataFrame:
    with pd.HDFStore(path, mode="r") as store:
        keys = store.keys()
        if not keys:
            raise InputError(f"{path} is an HDF5 file with no pandas table in it")
        if len(keys) > 1:
            raise InputError(f"{path} holds several tables {keys}; pass key= to choose one")
        obj = store[keys[0]]
    return obj


def _drop_non_finite(df: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, int]:
    finite = np.isfinite(df.to_numpy()).all(axis=1)
    n_bad = int((~finite).sum())
    if n_bad:
        log.warning("%s: dropped %d of %d events with NaN or inf values", path, n_bad, len(df))
        df = df.loc[finite].reset_index(drop=True)
    if len(df) == 0:
        raise InputError(f"{path} has no events with finite values")
    return df, n_bad


def _check_labels(df: pd.DataFrame, path: Path) -> None:
    bad = ~np.isin(df["label"].to_numpy(), (0.0, 1.0))
    if bad.any():
        values = np.unique(df["label"].to_numpy()[bad])[:5].tolist()
        raise InputError(f"{path}: labels must be 0 (background) or 1 (signal), found {values}")


def _check_units(df: pd.DataFrame, path: Path) -> None:
    pt = np.hypot(df["pxj1"].to_numpy(), df["pyj1"].to_numpy())
    median_pt = float(np.median(pt))
    if median_pt < _MIN_MEDIAN_PT_GEV:
        raise InputError(
            f"{path}: median leading-jet pT is {median_pt:.3g}, which looks like TeV; "
            "LHCO files are in GeV (multiply momenta, masses and tau by 1000)"
        )
    if median_pt > _MAX_MEDIAN_PT_GEV:
        raise InputError(
            f"{path}: median leading-jet pT is {median_pt:.3g}, which looks like MeV; "
            "LHCO files are in GeV (divide momenta, masses and tau by 1000)"
        )


def _clean_masses(df: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, int]:
    """Zero masses within rounding of zero; drop (and count) rows with clearly negative ones.

    FastJet returns a mass of about ``-1.5e-5`` GeV for a jet of one massless constituent
    (a rounding-level negative ``m^2``): such a jet is massless. A mass below
    ``-MASS_ROUNDING_GEV`` is a bad row, dropped like a row with NaN.
    """
    bad = np.zeros(len(df), dtype=bool)
    for col in ("mj1", "mj2"):
        m = df[col].to_numpy()
        bad |= m < -MASS_ROUNDING_GEV
        df[col] = np.where((m < 0) & (m >= -MASS_ROUNDING_GEV), 0.0, m)
    n_bad = int(bad.sum())
    if n_bad:
        log.warning("%s: dropped %d of %d events with negative jet masses", path, n_bad, len(df))
        df = df.loc[~bad].reset_index(drop=True)
    if len(df) == 0:
        raise InputError(f"{path} has no events with non-negative jet masses")
    return df, n_bad


def split_by_label(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(background, signal)`` parts of a frame, in file order."""
    is_sig = df["label"].to_numpy() == 1
    return df.loc[~is_sig].reset_index(drop=True), df.loc[is_sig].reset_index(drop=True)


def write_lhco(
    df: pd.DataFrame,
    path: str | Path,
    *,
    dtype: type | None = None,
    complevel: int = 9,
) -> Path:
    """Write events in the published format: pandas HDF5, key ``df``, fixed format, GeV.

    Columns are written in :data:`LHCO_COLUMNS` order (``dtype``, e.g. ``np.float32``,
    converts them); blosc/zstd compression keeps files small and readable with plain
    ``pandas.read_hdf``. The file is written under a temporary name and renamed, so a reader
    never sees half a file.
    """
    missing = [c for c in LHCO_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"cannot write an LHCO file without column(s) {missing}")
    frame = df.loc[:, list(LHCO_COLUMNS)].reset_index(drop=True)
    if dtype is not None:
        frame = frame.astype(dtype)
    return write_atomic(
        path,
        lambda tmp: frame.to_hdf(
            tmp, key="df", mode="w", format="fixed", complevel=complevel, complib="blosc:zstd"
        ),
    )


def content_sha256(df: pd.DataFrame) -> str:
    """SHA-256 of the events themselves: the :data:`LHCO_COLUMNS` (those present) as float32,
    row by row. Unlike the file's bytes it does not depend on how the file was written
    (HDF5 metadata, compression), so it checks that a regenerated sample is the same.

    >>> frame = pd.DataFrame({c: [1.0, 2.0] for c in LHCO_COLUMNS})
    >>> content_sha256(frame) == content_sha256(frame.astype(np.float64))
    True
    """
    columns = [c for c in LHCO_COLUMNS if c in df.columns]
    values = np.ascontiguousarray(df.loc[:, columns].to_numpy(dtype=np.float32))
    import hashlib

    return hashlib.sha256(values.tobytes()).hexdigest()
