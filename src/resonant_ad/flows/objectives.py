"""What a flow-matching fit minimises and selects its epochs on.

:func:`training_loss` is the flow-matching loss of a training batch with fresh path draws;
:class:`ValidationScores` scores a field on the validation events: the flow-matching loss
with path draws fixed once per fit (a cheap proxy of the NLL), the exact negative
log-likelihood of a fixed subset, and a monitor that records the NLL beside the score the
epochs are selected on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import KW_ONLY, InitVar, dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from resonant_ad.flows.matching import OTPath, draw_path_variables, flow_matching_loss
from resonant_ad.flows.ode import ODESolver, log_likelihood
from resonant_ad.flows.preprocessing import Preprocessor
from resonant_ad.training import LossFn

__all__ = ["ValidationScores", "training_loss"]


def training_loss(path: OTPath) -> LossFn:
    """The loss of a batch ``(z, m)`` for :func:`resonant_ad.training.train`: flow matching
    along ``path`` with ``t``, target noise and path noise drawn from the loop's generator."""

    def loss_fn(module: nn.Module, batch: tuple[Tensor, ...], gen: torch.Generator) -> Tensor:
        z, m = batch
        t, x1, eps = draw_path_variables(z, generator=gen)
        return flow_matching_loss(module, path, z, m, t, x1, eps)

    return loss_fn


@dataclass(eq=False)
class ValidationScores:
    """Scores of a field on the validation events: ``x`` in feature space, ``z`` and ``m``
    their preprocessed features and masses (float32, on the fit's device).

    The path variables of :meth:`loss` are drawn once, from a generator seeded with
    ``seed``; every score runs over the events in chunks of ``chunk``.
    """

    preprocessor: Preprocessor
    x: np.ndarray
    z: Tensor
    m: Tensor
    path: OTPath
    _: KW_ONLY
    seed: InitVar[int]
    chunk: int
    t: Tensor = field(init=False)
    x1: Tensor = field(init=False)
    eps: Tensor = field(init=False)

    def __post_init__(self, seed: int) -> None:
        z = self.z
        gen = torch.Generator().manual_seed(seed)
        self.t, self.x1, self.eps = (
            v.to(z.device) for v in draw_path_variables(z.cpu(), generator=gen)
        )

    def loss(self, module: nn.Module) -> float:
        """The mean flow-matching loss of ``module`` with the fixed path variables."""
        total = 0.0
        for s in range(0, len(self.z), self.chunk):
            sl = slice(s, s + self.chunk)
            loss = flow_matching_loss(
                module, self.path, self.z[sl], self.m[sl], self.t[sl], self.x1[sl], self.eps[sl]
            )
            total += float(loss) * len(self.z[sl])
        return total / len(self.z)

    def nll(self, n: int, solver: ODESolver) -> Callable[[nn.Module], float]:
        """The exact mean NLL of the first ``n`` validation events, in feature space."""
        n = min(n, len(self.z))
        x = torch.as_tensor(self.x[:n], device=self.z.device)
        logdet = float(self.preprocessor(x)[1].mean())

        def nll(module: nn.Module) -> float:
            total = 0.0
            for s in range(0, n, self.chunk):
                e = min(s + self.chunk, n)
                lp, _ = log_likelihood(module, self.z[s:e], self.m[s:e], solver)
                total += float(lp.sum())
            return -total / n - logdet

        return nll

    def monitor(
        self, n: int, every: int, last_epoch: int, with_loss: bool
    ) -> Callable[[nn.Module, int], dict[str, float]]:
        """A training monitor: the exact NLL (RK4, 10 steps) of the first ``n`` events (and
        the :meth:`loss` too if ``with_loss``) at every ``every``-th epoch and the last."""
        nll = self.nll(n, ODESolver("rk4", 10))

        def monitor_fn(module: nn.Module, epoch: int) -> dict[str, float]:
            # by epoch number, so a resumed run monitors the same epochs
            if epoch % every and epoch != last_epoch:
                return {}
            record = {"val_nll": nll(module)}
            if with_loss:  # the other score, for comparison
                record["val_loss"] = self.loss(module)
            return record

        return monitor_fn
