"""CATHODE's conditional normalizing flow of x given mjj (:class:`ConditionalFlow`), its
settings and presets."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from resonant_ad.data.events import Events
from resonant_ad.errors import InputError
from resonant_ad.flows.preprocessing import check_preprocessing
from resonant_ad.models.conditioning import ConditionedEnsemble, FittedParts
from resonant_ad.models.presets import CPU_TRAINING, FLOW_PAPER_TRAINING, TINY_TRAINING
from resonant_ad.persistence import load_members, seeded_generator
from resonant_ad.training import LossFn, TrainingConfig

__all__ = ["FLOWS", "PRESETS", "ConditionalFlow", "FlowSettings"]

FLOWS = ("maf", "nsf")
"""Flow families: affine masked autoregressive (CATHODE's MAF) or rational-quadratic
spline (NSF), both :mod:`zuko` flows conditioned on the standardised ``mjj``."""


@dataclass(frozen=True)
class FlowSettings:
    """Architecture and training of a :class:`ConditionalFlow` (its cache key)."""

    flow: str = "maf"
    transforms: int = 15
    hidden: tuple[int, ...] = (128,)
    bins: int = 8
    """Spline bins per feature (``nsf`` only)."""
    preprocessing: str = "logit"
    training: TrainingConfig = field(default=FLOW_PAPER_TRAINING)

    def __post_init__(self) -> None:
        if self.flow not in FLOWS:
            raise InputError(f"flow {self.flow!r}: choose one of {FLOWS}")
        check_preprocessing(self.preprocessing)
        if self.transforms < 1 or not self.hidden or min(self.hidden) < 1:
            raise InputError("a flow needs at least one transform and non-empty hidden layers")
        if self.training.max_epochs < 1 or self.training.n_best < 1:
            raise InputError("max_epochs and n_best must be at least 1")


PRESETS: dict[str, FlowSettings] = {
    # The CATHODE paper's setup: 15 affine MADE transforms with one hidden layer of 128,
    # logit of min-max-scaled features, Adam at 1e-4, batches of 256, 100 epochs, no early
    # stopping, the 10 epochs of lowest validation loss sampled as one ensemble.
    "paper": FlowSettings(),
    # Two CPU cores: 8 transforms of one 64-wide layer, batches of 1024 at 1e-3, stopped
    # after 15 epochs without improvement, the 5 best epochs kept.
    "cpu": FlowSettings(transforms=8, hidden=(64,), training=CPU_TRAINING),
    # Seconds-scale flows for tests and smoke runs.
    "tiny": FlowSettings(transforms=3, hidden=(32,), training=TINY_TRAINING),
}
"""Flow settings per ``[model] preset`` (the flow-matching presets' names)."""


def build_flow(settings: FlowSettings, features: int) -> nn.Module:
    """The :mod:`zuko` flow of ``settings`` over ``features`` with one context variable."""
    import zuko

    if settings.flow == "maf":
        return zuko.flows.MAF(
            features, 1, transforms=settings.transforms, hidden_features=settings.hidden
        )
    return zuko.flows.NSF(
        features,
        1,
        bins=settings.bins,
        transforms=settings.transforms,
        hidden_features=settings.hidden,
    )


class ConditionalFlow(ConditionedEnsemble[FlowSettings]):
    """A conditional normalizing flow ``p(x | m)`` kept as an ensemble of its best epochs.

    Features are mapped by a :class:`~resonant_ad.flows.preprocessing.Preprocessor` of
    ``settings.preprocessing`` fitted on the training events; ``m`` is standardised with the
    training events' mean and spread and is the flow's one context variable. :meth:`fit`
    minimises the negative log-likelihood with :func:`resonant_ad.training.train` and keeps
    the ``n_best`` epochs of lowest validation NLL; samples are split at random over them
    (an equal-weight mixture), and :meth:`log_prob` is that mixture's density in ``x``.
    """

    FORMAT = "resonant_ad.ConditionalFlow"
    VERSION = 2
    SETTINGS = FlowSettings
    MEMBERS = "flows_"

    # ------------------------------------------------------------------ fitting
    def fit(self, train: Events, val: Events, *, random_state: int = 0) -> ConditionalFlow:
        """Train on ``train``, select epochs on ``val``; returns ``self``."""

        def objective(z_val: Tensor, c_val: Tensor) -> tuple[LossFn, Callable[[nn.Module], float]]:
            def loss_fn(
                module: nn.Module, batch: tuple[Tensor, ...], gen: torch.Generator
            ) -> Tensor:
                z, c = batch
                return -module(c).log_prob(z).mean()

            def validate(module: nn.Module) -> float:
                total = 0.0
                for s0 in range(0, len(z_val), 65536):
                    sl = slice(s0, s0 + 65536)
                    total += float(module(c_val[sl]).log_prob(z_val[sl]).sum())
                return -total / len(z_val)

            return loss_fn, validate

        build = partial(build_flow, self.settings)
        trained = self._train(train, val, random_state, build, objective)
        self._set_fitted(trained.parts())
        self._record_training(trained.result, self.context.region)
        return self

    def _set_fitted(self, parts: FittedParts) -> None:
        self.flows_ = load_members(
            partial(build_flow, self.settings, parts.features), parts.states, parts.device
        )
        self._set_conditioning(parts)

    # ------------------------------------------------------------------ use
    def sample(
        self, m: np.ndarray, *, seed: int | None = None, batch_size: int = 65536
    ) -> np.ndarray:
        """Features ``x ~ p(x | m)``, one row per mass in ``m`` (seeded by ``seed``)."""
        z = self.sample_z(m, seed=seed, batch_size=batch_size)
        with torch.no_grad():
            x = self.preprocessor_.inverse(z.to(self.device_, torch.float64)).cpu().numpy()
        return np.asarray(x)

    def sample_z(
        self, m: np.ndarray, *, seed: int | None = None, batch_size: int = 65536
    ) -> Tensor:
        """Samples of the flow in its preprocessed space ``z`` (what :meth:`sample` maps
        back to features), one row per mass in ``m``: float32, on the CPU."""
        self._check_fitted()
        gen = seeded_generator(seed)
        c = self.context_of(m)
        n, d = len(c), self.n_features_in_
        owner = torch.randperm(n, generator=gen).tensor_split(len(self.flows_))
        noise = torch.randn(n, d, generator=gen)
        z = torch.empty(n, d)
        with torch.no_grad():
            for flow, idx in zip(self.flows_, owner, strict=True):
                for s0 in range(0, len(idx), batch_size):
                    sub = idx[s0 : s0 + batch_size]
                    dist = flow(c[sub].to(self.device_))
                    z[sub] = dist.transform.inv(noise[sub].to(self.device_)).cpu()
        return z

    def log_prob(self, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        """``log p(x | m)`` of the ensemble (an equal-weight mixture) in feature space."""
        self._check_fitted()
        c = self.context_of(m).to(self.device_)
        with torch.no_grad():
            z, logdet = self.preprocessor_(torch.as_tensor(x, device=self.device_))
            lp = self.log_prob_z(z, c) + logdet
        return np.asarray(lp.cpu().numpy())

    def log_prob_z(self, z: Tensor, c: Tensor) -> Tensor:
        """The ensemble's ``log p(z | c)`` in the preprocessed space (float64), ``c`` the
        standardised masses of :meth:`context_of` on the flow's device; differentiable in
        ``z`` (gradients reach the flows' parameters too unless they are frozen)."""
        self._check_fitted()
        per_member = torch.stack([flow(c).log_prob(z.float()).double() for flow in self.flows_])
        return torch.logsumexp(per_member, dim=0) - math.log(len(self.flows_))

    # ------------------------------------------------------------------ storage
    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild the fitted flow (see :meth:`from_state`)."""
        return self._conditioned_state()

    @classmethod
    def from_state(cls, state: dict[str, Any], device: str = "auto") -> ConditionalFlow:
        """Rebuild a flow written by :meth:`state`."""
        flow, parts = cls._from_conditioned_state(state, "cathode-nf flow", device)
        flow._set_fitted(parts)
        return flow
