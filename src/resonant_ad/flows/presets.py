"""Named hyper-parameter sets for :class:`~resonant_ad.flows.model.FlowMatchingModel`."""

from __future__ import annotations

from typing import Any

from resonant_ad.errors import InputError

__all__ = ["PRESETS", "preset"]

PRESETS: dict[str, dict[str, Any]] = {
    # SIGMA section II.4 (arXiv:2410.20537), with the gaussianized features of "cpu" below
    # in place of the paper's logit. Selection/plateau/early stopping run on the
    # validation flow-matching loss with fixed draws (see FlowMatchingModel), checked every
    # 5 epochs after epoch 100 as in the paper.
    "paper": {
        "width": 256,
        "blocks": 4,
        "dropout": 0.2,
        "mass_frequencies": 9,
        "time_frequencies": 3,
        "batch_size": 4096,
        "learning_rate": 3e-4,
        "max_epochs": 2000,
        "preprocessing": "gaussianize",
        "plateau_factor": 0.3,
        "plateau_patience": 50,
        "early_stopping_patience": 100,
        "n_best": 10,
        "validate_every": 5,
        "validate_after": 100,
        "solver": "dopri5",
        "atol": 1e-5,
        "rtol": 1e-5,
    },
    # Two CPU cores: <= 30 min (25 min budget) of training on ~1M events and ~480k
    # template samples in <= 30 s: a 64-wide field (a training step measured ~7x cheaper
    # in CPU time than the paper's 256 x 4) and RK4 with 4 steps, 16 evaluations
    # (discretisation error <= 0.6% of a feature's std vs dopri5 at 1e-6, measured).
    # See benchmarks/templates/results/sigma_toy/README.md. Gaussianized features (instead of
    # the paper's logit of min-max-scaled features): on the Pythia dev sample the edge of
    # mJ2 - mJ1 at 0 went from a pull of 16 to 4.4 and sigma-context's SIC@1e-3 from 9.0 to
    # 13.6 (benchmarks/templates/results/fidelity_variants/summary.txt).
    "cpu": {
        "width": 64,
        "blocks": 4,
        "dropout": 0.1,
        "mass_frequencies": 9,
        "time_frequencies": 3,
        "batch_size": 4096,
        "learning_rate": 1e-3,
        "preprocessing": "gaussianize",
        "max_epochs": 2000,
        "plateau_factor": 0.3,
        "plateau_patience": 10,
        "early_stopping_patience": 30,
        "n_best": 5,
        "validate_every": 1,
        "validate_after": 0,
        "max_seconds": 1500.0,
        "solver": "rk4",
        "solver_steps": 4,
    },
    # Seconds-scale models for tests and smoke runs.
    "tiny": {
        "width": 32,
        "blocks": 2,
        "dropout": 0.0,
        "mass_frequencies": 3,
        "time_frequencies": 3,
        "batch_size": 256,
        "learning_rate": 3e-3,
        "max_epochs": 20,
        "plateau_factor": 0.5,
        "plateau_patience": 5,
        "early_stopping_patience": 10,
        "n_best": 2,
        "validate_every": 1,
        "validate_after": 0,
        "solver": "rk4",
        "solver_steps": 8,
    },
}


def preset(name: str) -> dict[str, Any]:
    """A copy of the named preset's keyword arguments."""
    if name not in PRESETS:
        raise InputError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return dict(PRESETS[name])
