"""Invertible feature preprocessing (optional logit of bounded features, then standardisation)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

__all__ = ["Preprocessor"]


class Preprocessor(nn.Module):
    r"""Invertible map :math:`z = T(x)` with its log-Jacobian, so densities stay in ``x`` space.

    Features listed in ``logit_bounds`` (``{index: (lo, hi)}``) are first mapped to
    :math:`\operatorname{logit}((x - lo) / (hi - lo))`; then every feature is standardised
    with the training mean and standard deviation. ``log p_x(x) = log p_z(T(x)) +
    log |det dT/dx|``. Statistics are buffers: they are saved and moved with the model.

    >>> pre = Preprocessor(2).fit(torch.tensor([[0.0, 1.0], [2.0, 3.0]]))
    >>> z, logdet = pre(torch.tensor([[1.0, 2.0]]))
    >>> z.tolist(), round(float(logdet), 4)
    ([[0.0, 0.0]], -0.6931)
    """

    mean: Tensor
    std: Tensor
    lo: Tensor
    hi: Tensor
    logit_mask: Tensor

    def __init__(
        self, features: int, logit_bounds: Mapping[int, tuple[float, float]] | None = None
    ):
        super().__init__()
        self.features = features
        lo = torch.zeros(features, dtype=torch.float64)
        hi = torch.ones(features, dtype=torch.float64)
        mask = torch.zeros(features, dtype=torch.bool)
        for i, (a, b) in (logit_bounds or {}).items():
            if not b > a:
                raise ValueError(f"logit bounds of feature {i}: ({a}, {b}) is empty")
            lo[i], hi[i], mask[i] = a, b, True
        self.register_buffer("lo", lo)
        self.register_buffer("hi", hi)
        self.register_buffer("logit_mask", mask)
        self.register_buffer("mean", torch.zeros(features, dtype=torch.float64))
        self.register_buffer("std", torch.ones(features, dtype=torch.float64))

    def _logit(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if not bool(self.logit_mask.any()):
            return x, torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        lo, hi, mask = self.lo.to(x), self.hi.to(x), self.logit_mask
        u = torch.where(mask, (x - lo) / (hi - lo), torch.full_like(x, 0.5))
        y = torch.where(mask, torch.logit(u), x)
        # d logit(u)/dx = 1 / (u (1 - u) (hi - lo))
        jac = -(torch.log(u) + torch.log1p(-u) + torch.log(hi - lo))
        logdet = torch.where(mask, jac, torch.zeros_like(jac)).sum(dim=1)
        return y, logdet

    def fit(self, x: Tensor) -> Preprocessor:
        """Set mean and standard deviation from (logit-mapped) training features ``x``."""
        y, _ = self._logit(x.to(torch.float64))
        if not bool(torch.isfinite(y).all()):
            raise ValueError("features outside their logit bounds in the training data")
        self.mean.copy_(y.mean(dim=0))
        self.std.copy_(y.std(dim=0).clamp_min(1e-12))
        return self

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(T(x), log |det dT/dx|)`` per row."""
        y, logdet = self._logit(x)
        z = (y - self.mean.to(x)) / self.std.to(x)
        return z, logdet - torch.log(self.std.to(x)).sum()

    def inverse(self, z: Tensor) -> Tensor:
        """``x = T^{-1}(z)``."""
        y = z * self.std.to(z) + self.mean.to(z)
        if not bool(self.logit_mask.any()):
            return y
        lo, hi = self.lo.to(z), self.hi.to(z)
        return torch.where(self.logit_mask, lo + (hi - lo) * torch.sigmoid(y), y)
