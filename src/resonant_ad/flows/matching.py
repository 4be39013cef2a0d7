"""The conditional optimal-transport probability path and the flow-matching loss."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["OTPath", "draw_path_variables", "flow_matching_loss"]

Field = Callable[[Tensor, Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class OTPath:
    r"""Conditional OT path between data :math:`x_0` (``t = 0``) and noise :math:`x_1` (``t = 1``).

    .. math:: \mu_t = (1 - t) x_0 + t x_1, \quad \sigma_t = \sigma, \quad u_t = x_1 - x_0

    (independent coupling, as in Lipman et al. 2023 / Tong et al. 2023, with SIGMA's time
    direction: data at ``t = 0``). ``sigma = 0`` gives the straight-line interpolant.

    >>> path = OTPath()
    >>> x0, x1, t = torch.zeros(1, 2), torch.ones(1, 2), torch.tensor([0.25])
    >>> path.mu_t(x0, x1, t).tolist(), path.u_t(x0, x1).tolist()
    ([[0.25, 0.25]], [[1.0, 1.0]])
    """

    sigma: float = 0.0

    def mu_t(self, x0: Tensor, x1: Tensor, t: Tensor) -> Tensor:
        t = t.reshape(-1, 1)
        return (1 - t) * x0 + t * x1

    def sigma_t(self, t: Tensor) -> Tensor:
        return torch.full_like(t, self.sigma)

    def sample_xt(self, x0: Tensor, x1: Tensor, t: Tensor, eps: Tensor | None = None) -> Tensor:
        """A point of the conditional path, ``mu_t + sigma_t * eps``."""
        mu = self.mu_t(x0, x1, t)
        if self.sigma == 0.0 or eps is None:
            return mu
        return mu + self.sigma_t(t).reshape(-1, 1) * eps

    def u_t(self, x0: Tensor, x1: Tensor) -> Tensor:
        """Target conditional velocity ``d mu_t / dt``."""
        return x1 - x0


def draw_path_variables(
    x0: Tensor, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """``t ~ U[0, 1]``, ``x1 ~ N(0, 1)`` and ``eps ~ N(0, 1)`` matching ``x0``'s batch."""
    n = x0.shape[0]
    t = torch.rand(n, generator=generator, device=x0.device, dtype=x0.dtype)
    x1 = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    return t, x1, eps


def flow_matching_loss(
    field: Field,
    path: OTPath,
    x0: Tensor,
    m: Tensor,
    t: Tensor,
    x1: Tensor,
    eps: Tensor | None = None,
) -> Tensor:
    r"""Mean squared error :math:`\| v_\theta(x_t | t, m) - u_t(x_t | x_0) \|^2` (SIGMA eq. 5).

    ``field(t, x, m)`` is the network; the loss is averaged over batch and features.
    """
    xt = path.sample_xt(x0, x1, t, eps)
    target = path.u_t(x0, x1)
    return ((field(t, xt, m) - target) ** 2).mean()
