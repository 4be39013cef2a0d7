"""The exponential tilt of a background density.

The tilted background is ``p_B(x | m) exp(beta . phi(z)) / Z(beta)``: ``phi`` the monomials of
the standardised ``z = (x, m)`` of degree 1 to ``d`` (:func:`tilt_features`) and ``Z(beta) =
E_{p_B}[exp(beta . phi)]`` estimated on a sample drawn from ``p_B``. :class:`Tilt` is the
term ``beta . phi - log Z`` as a module (a nuisance trained with the signal mixture);
:func:`fit_tilt` fits ``beta`` alone, with no signal.
"""

from __future__ import annotations

import math
from itertools import combinations_with_replacement

import torch
from torch import Tensor, nn

__all__ = ["Tilt", "fit_tilt", "tilt_features"]


def tilt_features(z: Tensor, degree: int) -> Tensor:
    """The monomials of ``z``'s columns of degree 1 to ``degree`` (no constant), e.g. for
    degree 2: every ``z_i`` and every ``z_i z_j`` with ``i <= j``.

    >>> tilt_features(torch.tensor([[1.0, 2.0]]), 2).tolist()
    [[1.0, 2.0, 1.0, 2.0, 4.0]]
    """
    cols = [
        torch.prod(z[:, list(idx)], dim=1)
        for d in range(1, degree + 1)
        for idx in combinations_with_replacement(range(z.shape[1]), d)
    ]
    return torch.stack(cols, dim=1)


class Tilt(nn.Module):
    """``beta . phi - log Z``, what the tilt adds to ``log p_B``, with ``Z = E_{p_B}[exp(beta .
    phi)]`` the mean over ``phi_ref``, the features of a sample of ``p_B`` (not saved with
    the module's state).

    >>> tilt = Tilt(torch.tensor([[1.0], [-1.0]]), torch.tensor([0.5]))
    >>> round(float(tilt(torch.tensor([[1.0]])).detach()[0]), 4)  # 0.5 - log cosh(0.5)
    0.3799
    """

    phi_ref: Tensor

    def __init__(self, phi_ref: Tensor, beta: Tensor | None = None) -> None:
        super().__init__()
        self.register_buffer("phi_ref", phi_ref, persistent=False)
        init = torch.zeros(phi_ref.shape[1]) if beta is None else beta.clone()
        self.beta = nn.Parameter(init.to(phi_ref.dtype))

    def log_norm(self) -> Tensor:
        """``log Z``: the log of the mean of ``exp(beta . phi)`` over the reference sample."""
        t = self.phi_ref @ self.beta
        return torch.logsumexp(t, dim=0) - math.log(len(t))

    def forward(self, phi: Tensor) -> Tensor:
        return phi @ self.beta - self.log_norm()


def fit_tilt(phi: Tensor, phi_ref: Tensor, ridge: float = 1e-3) -> Tensor:
    """``beta`` of the tilt alone (no signal) on the data's features ``phi``: the maximum of
    ``mean(beta . phi) - log Z - ridge |beta|^2``, a convex problem (a log-linear family)
    solved by L-BFGS.

    >>> gen = torch.Generator().manual_seed(0)
    >>> reference = torch.randn(20_000, 1, generator=gen)  # p_B: N(0, 1)
    >>> data = torch.randn(20_000, 1, generator=gen) + 0.5  # N(0.5, 1) = N(0, 1) e^(z/2) / Z
    >>> round(float(fit_tilt(data, reference)[0]), 1)
    0.5
    """
    tilt = Tilt(phi_ref.double())
    data = phi.double()
    opt = torch.optim.LBFGS(
        tilt.parameters(), lr=1.0, max_iter=200, tolerance_grad=1e-9, line_search_fn="strong_wolfe"
    )

    def closure() -> Tensor:
        opt.zero_grad()
        loss = -tilt(data).mean() + ridge * tilt.beta.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return tilt.beta.detach().float()
