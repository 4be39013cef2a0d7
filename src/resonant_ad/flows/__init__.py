"""Conditional flow matching for p(x | m): embeddings, vector field, path, ODE, estimator."""

from __future__ import annotations

from resonant_ad.flows.interpolation import InterpolatedField, MassInterpolation
from resonant_ad.flows.model import FlowMatchingModel
from resonant_ad.flows.ode import ODESolver, log_likelihood, sample_field
from resonant_ad.flows.presets import PRESETS, preset
from resonant_ad.flows.velocity import ResNetField

__all__ = [
    "PRESETS",
    "FlowMatchingModel",
    "InterpolatedField",
    "MassInterpolation",
    "ODESolver",
    "ResNetField",
    "log_likelihood",
    "preset",
    "sample_field",
]
