"""The likelihood of the signal mixture, for one flow.

:class:`SignalFlow` is the architecture of the signal density ``p_S`` over the standardised
``z = (x, m)``, a rational-quadratic spline autoregressive flow (zuko's ``NSF``): it builds
one from a seed, and evaluates and samples saved states of it. :class:`MixtureLikelihood` is
``log[w p_S(z) + (1 - w) p_B]`` for one such flow, ``w = sigmoid(theta)`` learned or held
fixed, ``log p_B`` optionally tilted (:class:`~resonant_ad.density.tilt.Tilt`).
:func:`mixture_loss` and :func:`held_out_nll` are its training loss and validation score for
:func:`~resonant_ad.training.train`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from resonant_ad.density.tilt import Tilt

__all__ = ["MixtureLikelihood", "SignalFlow", "held_out_nll", "mixture_loss"]


@dataclass(frozen=True)
class SignalFlow:
    """The architecture of ``p_S``: ``transforms`` spline layers of ``bins`` bins over
    ``features`` inputs, each conditioned by an MLP of ``hidden_features`` layers."""

    features: int
    transforms: int
    hidden_features: tuple[int, ...]
    bins: int

    def build(self, seed: int) -> nn.Module:
        """A new flow with its weights drawn from ``seed`` (the global torch generator is
        left as it was)."""
        import zuko

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return zuko.flows.NSF(
                self.features,
                0,
                bins=self.bins,
                transforms=self.transforms,
                hidden_features=tuple(self.hidden_features),
            )

    def log_prob(self, states: Sequence[dict[str, Tensor]], z: Tensor) -> Tensor:
        """``log`` of the mean density of the flows with ``states`` at ``z``."""
        flow = self.build(0)
        parts = []
        with torch.no_grad():
            for state in states:
                flow.load_state_dict(state)
                flow.eval()
                parts.append(flow().log_prob(z))
        return torch.logsumexp(torch.stack(parts), dim=0) - math.log(len(parts))

    def sample(
        self, states: Sequence[dict[str, Tensor]], counts: np.ndarray, seed: int
    ) -> list[np.ndarray]:
        """``counts[k]`` events ``z`` drawn from the flow with ``states[k]``, each, in turn
        from one torch generator seeded with ``seed``."""
        flow = self.build(0)
        parts = []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for state, count in zip(states, counts, strict=True):
                if count == 0:
                    parts.append(np.empty((0, self.features)))
                    continue
                flow.load_state_dict(state)
                flow.eval()
                with torch.no_grad():
                    parts.append(flow().sample((int(count),)).double().numpy())
        return parts


def _logit(w: float) -> float:
    return math.log(w) - math.log1p(-w)


class MixtureLikelihood(nn.Module):
    """``log[w p_S(z) + (1 - w) p_bg]`` for a flow ``p_S`` and ``w = sigmoid(theta)``
    (``fixed``: ``w`` held, 1 included); with a ``tilt``, ``log p_bg`` gains its ``beta .
    phi(z) - log Z``. ``w_lr_factor`` scales the learning rate of ``theta``."""

    def __init__(
        self,
        flow: nn.Module,
        w: float,
        fixed: bool,
        w_lr_factor: float,
        tilt: Tilt | None = None,
    ) -> None:
        super().__init__()
        self.flow = flow
        self.fixed = fixed
        self.w_lr_factor = w_lr_factor
        self.tilt = tilt
        if fixed:
            self.register_buffer("theta", torch.tensor(_logit(min(w, 0.5)), dtype=torch.float32))
            self.w_fixed = float(w)
        else:
            self.theta = nn.Parameter(torch.tensor(_logit(w), dtype=torch.float32))
            self.w_fixed = float("nan")

    def log_w(self) -> tuple[Tensor, Tensor]:
        """``(log w, log(1 - w))``."""
        if self.fixed:
            w = self.w_fixed
            log_1mw = math.log1p(-w) if w < 1 else -math.inf
            return self.theta.new_tensor(math.log(w)), self.theta.new_tensor(log_1mw)
        return nn.functional.logsigmoid(self.theta), nn.functional.logsigmoid(-self.theta)

    def w(self) -> float:
        return self.w_fixed if self.fixed else float(torch.sigmoid(self.theta.detach()))

    def log_signal(self, z: Tensor) -> Tensor:
        return self.flow().log_prob(z)

    def forward(self, z: Tensor, log_bg: Tensor, phi: Tensor | None = None) -> Tensor:
        log_w, log_1mw = self.log_w()
        if self.tilt is not None and phi is not None:
            log_bg = log_bg + self.tilt(phi)
        return torch.logaddexp(log_w + self.log_signal(z), log_1mw + log_bg)

    def parameter_groups(self, learning_rate: float, weight_decay: float) -> list[dict[str, Any]]:
        """The flow with weight decay; ``theta`` without (decay would pull w to 1/2) and
        with a larger step (one scalar that has to travel several units)."""
        groups: list[dict[str, Any]] = [{"params": list(self.flow.parameters())}]
        if self.tilt is not None:  # a handful of nuisance parameters: no decay
            groups.append({"params": list(self.tilt.parameters()), "weight_decay": 0.0})
        if not self.fixed:
            groups.append(
                {
                    "params": [self.theta],
                    "weight_decay": 0.0,
                    "lr": learning_rate * self.w_lr_factor,
                }
            )
        return groups


def mixture_loss(module: nn.Module, batch: tuple[Tensor, ...], gen: torch.Generator) -> Tensor:
    """The mean ``-log L`` of a batch ``(z, log p_B[, phi])``."""
    return -module(*batch).mean()


def held_out_nll(*data: Tensor) -> Callable[[nn.Module], float]:
    """The validation score of held-out ``(z, log p_B[, phi])``: their mean ``-log L``."""

    def nll(module: nn.Module) -> float:
        return float(-module(*data).mean())

    return nll
