"""Trainings that the presets of several sideband models share (the ``cpu`` and ``tiny``
presets of the conditional flow and of the cVAE)."""

from __future__ import annotations

import dataclasses

from resonant_ad.training import TrainingConfig

__all__ = ["CPU_TRAINING", "TINY_TRAINING"]

CPU_TRAINING = TrainingConfig(
    batch_size=1024,
    learning_rate=1e-3,
    weight_decay=0.0,
    max_epochs=100,
    plateau_factor=0.3,
    plateau_patience=8,
    early_stopping_patience=15,
    n_best=5,
)
"""For two CPU cores: batches of 1024 at 1e-3, at most 100 epochs, stopped after 15 epochs
without improvement, the 5 best epochs kept."""

TINY_TRAINING = dataclasses.replace(
    CPU_TRAINING,
    batch_size=256,
    learning_rate=3e-3,
    max_epochs=20,
    plateau_patience=5,
    early_stopping_patience=10,
    n_best=2,
)
"""Seconds-scale training for tests and smoke runs: batches of 256 at 3e-3, at most 20
epochs, the 2 best kept."""
