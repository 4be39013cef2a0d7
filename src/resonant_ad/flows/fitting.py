"""How a :class:`~resonant_ad.flows.model.FlowMatchingModel` is trained.

:func:`fit_flow` turns the model's hyper-parameters into a preprocessor, a
:class:`~resonant_ad.flows.velocity.ResNetField` and a
:class:`~resonant_ad.training.TrainingConfig`, trains the field with the shared loop
:func:`resonant_ad.training.train` on the training events and selects its epochs on the
validation events (:mod:`resonant_ad.flows.objectives`). What the fit leaves is a
:class:`FittedFlow`, the form a saved model is read back in as well.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from resonant_ad.data.events import Events
from resonant_ad.errors import InputError
from resonant_ad.flows.matching import OTPath
from resonant_ad.flows.objectives import ValidationScores, training_loss
from resonant_ad.flows.ode import ODESolver
from resonant_ad.flows.preprocessing import Preprocessor
from resonant_ad.flows.velocity import ResNetField
from resonant_ad.persistence import load_members
from resonant_ad.training import TrainingConfig, TrainingResult, resolve_device, train

if TYPE_CHECKING:
    from resonant_ad.flows.model import FlowMatchingModel

__all__ = ["SELECTIONS", "FittedFlow", "fit_flow", "network_kwargs"]

SELECTIONS = ("loss", "nll")
"""Validation scores for epoch selection: the flow-matching loss (with fixed draws) or the
exact negative log-likelihood of a fixed validation subset."""


@dataclass(frozen=True)
class FittedFlow:
    """A fitted model's parts: the settings of its networks (:func:`network_kwargs`), the
    weights of each kept member (best first), its preprocessor and its feature names."""

    network_kwargs: dict[str, Any]
    states: list[dict[str, Tensor]]
    preprocessor: Preprocessor
    feature_names: tuple[str, ...]

    def fields(self, device: torch.device) -> list[ResNetField]:
        """One field per member with its weights, on ``device`` in evaluation mode."""
        return load_members(lambda: ResNetField(**self.network_kwargs), self.states, device)


def network_kwargs(
    model: FlowMatchingModel, features: int, mass_range: tuple[float, float]
) -> dict[str, Any]:
    """The :class:`~resonant_ad.flows.velocity.ResNetField` arguments of ``model``'s
    hyper-parameters for ``features`` features and masses in ``mass_range``."""
    return {
        "features": features,
        "width": model.width,
        "blocks": model.blocks,
        "dropout": model.dropout,
        "batch_norm": model.batch_norm,
        "mass_embedding": model.mass_embedding,
        "mass_frequencies": model.mass_frequencies,
        "time_frequencies": model.time_frequencies,
        "mass_range": mass_range,
    }


_UNSET_TRAINING = ("checkpoint_every", "grad_clip")
"""The :class:`~resonant_ad.training.TrainingConfig` settings a model has no parameter of:
left at their defaults."""


def _training_config(model: FlowMatchingModel) -> TrainingConfig:
    """The training settings of ``model``: its parameters of the same names."""
    return TrainingConfig(
        **{
            f.name: getattr(model, f.name)
            for f in fields(TrainingConfig)
            if f.name not in _UNSET_TRAINING
        }
    )


def fit_flow(
    model: FlowMatchingModel, train_events: Events, val_events: Events
) -> tuple[FittedFlow, TrainingResult, torch.device]:
    """Train the field that ``model``'s hyper-parameters describe on ``train_events`` and
    select its epochs on ``val_events``: the fitted parts, the training's record and the
    device it ran on."""
    if train_events.x.shape[1] != val_events.x.shape[1]:
        raise InputError("training and validation events have different feature counts")
    if len(train_events) < 2 or len(val_events) < 1:
        raise InputError("need at least two training and one validation event")
    if model.selection not in SELECTIONS:
        raise InputError(f"selection {model.selection!r}: choose one of {SELECTIONS}")
    seed = (
        int(model.random_state)
        if model.random_state is not None
        else int(np.random.SeedSequence().generate_state(1)[0])
    )
    device = resolve_device(model.device)
    d = train_events.x.shape[1]
    m_all = np.concatenate([train_events.m, val_events.m])
    mass_range = (float(m_all.min()), float(m_all.max()))
    if not mass_range[1] > mass_range[0]:
        raise InputError("all events have the same mass: cannot condition on it")

    pre = Preprocessor(d, model.preprocessing).fit(torch.as_tensor(train_events.x))
    torch_gen = torch.Generator().manual_seed(seed)
    # initialise from a seeded generator without touching the global one
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=torch_gen)))
        network = ResNetField(**network_kwargs(model, d, mass_range))
    network.to(device)
    pre.to(device)

    def to_z(events: Events) -> tuple[Tensor, Tensor]:
        z, _ = pre(torch.as_tensor(events.x, device=device))
        return z.float(), torch.as_tensor(events.m, dtype=torch.float32, device=device)

    z_train, m_train = to_z(train_events)
    z_val, m_val = to_z(val_events)
    path = OTPath(model.path_sigma)
    chunk = max(model.batch_size, 16384)
    scores = ValidationScores(pre, val_events.x, z_val, m_val, path, seed=seed + 2, chunk=chunk)
    validate = (
        scores.loss
        if model.selection == "loss"
        else scores.nll(model.selection_events, ODESolver("rk4", 10))
    )
    monitor = None
    if model.nll_monitor_events > 0:
        every = max(1, model.nll_monitor_every) * max(1, model.validate_every)
        monitor = scores.monitor(
            model.nll_monitor_events, every, model.max_epochs, with_loss=model.selection == "nll"
        )
    result = train(
        network,
        training_loss(path),
        (z_train, m_train),
        validate,
        _training_config(model),
        seed=seed,
        device=device,
        monitor=monitor,
    )
    fitted = FittedFlow(
        network_kwargs=network_kwargs(model, d, mass_range),
        states=[c.state for c in result.members],
        preprocessor=pre.cpu(),
        feature_names=train_events.feature_names,
    )
    return fitted, result, device
