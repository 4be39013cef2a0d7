"""The inputs of a study: background, signal pool, extra SR background and simulation."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from resonant_ad.config import DataConfig
from resonant_ad.data.events import Events
from resonant_ad.data.features import compute_feature_set
from resonant_ad.data.lhco import read_lhco, split_by_label
from resonant_ad.errors import InputError
from resonant_ad.resources import REFERENCE_FILES, reference_dir

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["StudyInputs", "load_inputs", "reference_data"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StudyInputs:
    background: Events
    signal: Events
    extra_background: Events | None
    simulation: Events | None = None
    """Simulated background at all masses, for methods that train on simulation."""


def load_inputs(cfg: DataConfig) -> StudyInputs:
    """Read the files of a study as published.

    ``events`` holds background and (label 1) signal; a separate ``signal`` file, if
    given, is the signal pool instead of the events file's signal. ``extra_background`` is
    background used only for testing (label 0 whatever the file says); ``simulation`` is
    simulated background for the methods that train on simulation (label 0).
    """
    df = read_lhco(cfg.events, max_events=cfg.max_events)
    bkg_df, sig_df = split_by_label(df)
    if cfg.signal is not None:
        sig_df = read_lhco(cfg.signal, label=1)
        log.info("signal pool: %d events from %s", len(sig_df), cfg.signal)
    if len(sig_df) == 0:
        raise InputError(
            f"no signal events: {cfg.events} has no label-1 events and no signal file is given"
        )
    if len(bkg_df) == 0:
        raise InputError(f"{cfg.events} has no background (label 0) events")

    def features(frame: pd.DataFrame) -> Events:
        return compute_feature_set(frame, cfg.features)

    extra = None
    if cfg.extra_background is not None:
        extra = features(read_lhco(cfg.extra_background, label=0))
    simulation = None
    if cfg.simulation is not None:
        simulation = features(read_lhco(cfg.simulation, label=0))
    return StudyInputs(features(bkg_df), features(sig_df), extra, simulation)


def reference_data() -> DataConfig:
    """The bundled reference dataset (package data, see :mod:`resonant_ad.resources`)."""
    events, signal, extra = (reference_dir() / name for name in REFERENCE_FILES)
    missing = [str(p) for p in (events, signal, extra) if not p.is_file()]
    if missing:
        raise InputError(f"the bundled reference dataset is missing: {missing}")
    return DataConfig(events=events, signal=signal, extra_background=extra)
