"""The trainings of the sideband models' presets: the conditional flow's ``paper``, ``cpu``
and ``tiny`` presets (the cVAE's ``cpu`` and ``tiny`` presets share the last two)."""

from __future__ import annotations

from typing import Any

from resonant_ad.training import TrainingConfig

__all__ = ["CPU_TRAINING", "FLOW_PAPER_TRAINING", "TINY_TRAINING"]

_COLUMNS = "batch_size learning_rate max_epochs plateau_patience early_stopping_patience n_best"
"""The settings in which the trainings below differ, in the order they are given."""


def _training(*row: Any) -> TrainingConfig:
    """AdamW without weight decay, the learning rate cut by 0.3 on a plateau, with the
    settings of :data:`_COLUMNS` (in that order) given by ``row``."""
    return TrainingConfig(weight_decay=0.0, **dict(zip(_COLUMNS.split(), row, strict=True)))


FLOW_PAPER_TRAINING = _training(256, 1e-4, 100, 1000, 1000, 10)
"""The CATHODE paper's flow: batches of 256 at 1e-4 for 100 epochs, no early stopping, the
10 epochs of lowest validation loss kept."""
CPU_TRAINING = _training(1024, 1e-3, 100, 8, 15, 5)
"""For two CPU cores: batches of 1024 at 1e-3, at most 100 epochs, stopped after 15 epochs
without improvement, the 5 best epochs kept."""
TINY_TRAINING = _training(256, 3e-3, 20, 5, 10, 2)
"""Seconds-scale training for tests and smoke runs: batches of 256 at 3e-3, at most 20
epochs, the 2 best kept."""
