"""The inputs of a study: background, signal pool, extra SR background and simulation."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from resonant_ad.config import DataConfig
from resonant_ad.data.events import Events
from resonant_ad.data.formats import is_table_file, read_events
from resonant_ad.errors import InputError
from resonant_ad.resources import REFERENCE_FILES, reference_dir

__all__ = ["StudyInputs", "load_inputs", "reference_data"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StudyInputs:
    background: Events
    signal: Events
    extra_background: Events | None
    simulation: Events | None = None
    """Simulated background at all masses, for methods that train on simulation."""


def load_inputs(cfg: DataConfig, *, require_signal: bool = True) -> StudyInputs:
    """Read the files of a study as published.

    ``events`` holds background and (label 1) signal; a separate ``signal`` file, if
    given, is the signal pool instead of the events file's signal. ``extra_background`` is
    background used only for testing (label 0 whatever the file says); ``simulation`` is
    simulated background for the methods that train on simulation (label 0). HDF5 files are
    LHCO files; ROOT and Parquet files are read through ``[data] columns``
    (:mod:`resonant_ad.data.formats`). ``require_signal=False``: data without signal
    labels (real data) are read too, with an empty signal pool.
    """
    columns = cfg.column_map()

    def read(path: Path, label: int | None = None, max_events: int | None = None) -> Events:
        mapped = columns if is_table_file(path) else None
        return read_events(
            path, feature_set=cfg.features, columns=mapped, label=label, max_events=max_events
        )

    events = read(cfg.events, max_events=cfg.max_events)
    background, signal = events.select(events.label == 0), events.select(events.label == 1)
    if cfg.signal is not None:
        signal = read(cfg.signal, label=1)
        log.info("signal pool: %d events from %s", len(signal), cfg.signal)
    if len(signal) == 0 and require_signal:
        raise InputError(
            f"no signal events: {cfg.events} has no label-1 events and no signal file is given"
        )
    if len(background) == 0:
        raise InputError(f"{cfg.events} has no background (label 0) events")
    extra = None if cfg.extra_background is None else read(cfg.extra_background, label=0)
    simulation = None if cfg.simulation is None else read(cfg.simulation, label=0)
    return StudyInputs(background, signal, extra, simulation)


def reference_data() -> DataConfig:
    """The bundled reference dataset (package data, see :mod:`resonant_ad.resources`)."""
    events, signal, extra = (reference_dir() / name for name in REFERENCE_FILES)
    missing = [str(p) for p in (events, signal, extra) if not p.is_file()]
    if missing:
        raise InputError(f"the bundled reference dataset is missing: {missing}")
    return DataConfig(events=events, signal=signal, extra_background=extra)
