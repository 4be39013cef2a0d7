"""SIGMA's mass interpolation of a trained vector field into a signal region (eqs. 12, 13)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from resonant_ad.errors import InputError
from resonant_ad.flows.velocity import ResNetField

__all__ = ["InterpolatedField", "MassInterpolation"]

LEVELS = ("field", "context")


@dataclass(frozen=True)
class MassInterpolation:
    r"""Weights that express a quantity at mass ``m`` through its values at ``anchors``.

    With ``degree = len(anchors) - 1`` the weights are Lagrange polynomials (exact at the
    anchors); for two anchors :math:`(m_1, m_2)` they are :math:`(\xi, 1 - \xi)`,
    :math:`\xi = (m - m_2) / (m_1 - m_2)` (SIGMA eqs. 12, 13). With fewer degrees than
    anchors minus one they are the least-squares polynomial fit through the anchors.
    ``level="field"`` interpolates the vector field itself (eq. 12, "linear");
    ``level="context"`` interpolates ``gamma_c`` and ``gamma_i`` (eq. 13).

    >>> w = MassInterpolation((3.2, 3.8)).weights(torch.tensor([3.2, 3.5, 3.8]))
    >>> w.tolist() == [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]
    True
    """

    anchors: tuple[float, ...]
    degree: int = 1
    level: str = "context"

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise InputError(f"interpolation level {self.level!r}: expected one of {LEVELS}")
        if len(set(self.anchors)) != len(self.anchors) or len(self.anchors) < 2:
            raise InputError(f"interpolation anchors {self.anchors}: need >= 2 distinct masses")
        if not 1 <= self.degree <= len(self.anchors) - 1:
            raise InputError(
                f"polynomial degree {self.degree} needs between 2 and {len(self.anchors)} anchors"
            )

    def weights(self, m: Tensor) -> Tensor:
        """Weights of shape ``(n, len(anchors))``; each row sums to one."""
        m = m.reshape(-1, 1)
        a = torch.tensor(self.anchors, dtype=m.dtype, device=m.device)
        k = len(self.anchors)
        if self.degree == k - 1:
            cols = []
            for j in range(k):
                w = torch.ones_like(m[:, 0])
                for i in range(k):
                    if i != j:
                        w = w * (m[:, 0] - a[i]) / (a[j] - a[i])
                cols.append(w)
            return torch.stack(cols, dim=1)
        centre, scale = a.mean(), (a.max() - a.min()) / 2
        powers = torch.arange(self.degree + 1, device=m.device, dtype=m.dtype)
        design = ((a - centre) / scale).reshape(-1, 1) ** powers  # (k, p+1)
        basis = ((m - centre) / scale) ** powers  # (n, p+1)
        return basis @ torch.linalg.pinv(design)  # (n, k)


class InterpolatedField(nn.Module):
    """``field`` evaluated at signal-region masses through its values at anchor masses."""

    def __init__(self, field: ResNetField, interpolation: MassInterpolation) -> None:
        super().__init__()
        self.field = field
        self.interpolation = interpolation

    def forward(self, t: Tensor, x: Tensor, m: Tensor) -> Tensor:
        n = x.shape[0]
        w = self.interpolation.weights(m.to(x.dtype))
        anchors = [
            torch.full((n,), a, dtype=x.dtype, device=x.device) for a in self.interpolation.anchors
        ]
        if self.interpolation.level == "field":
            return sum(
                (w[:, j : j + 1] * self.field(t, x, mj) for j, mj in enumerate(anchors)),
                torch.zeros_like(x),
            )
        gamma_c = torch.zeros(n, 1, dtype=x.dtype, device=x.device)
        gamma_i = torch.zeros(n, 1, dtype=x.dtype, device=x.device)
        for j, mj in enumerate(anchors):
            wj = w[:, j : j + 1]
            # the context depends on (t, m) only: one row per anchor, broadcast over the batch
            t_row = t.reshape(-1)[:1] if t.numel() == 1 else t
            m_row = mj[:1] if t.numel() == 1 else mj
            gamma_c = gamma_c + wj * self.field.context(t_row, m_row)
            gamma_i = gamma_i + wj * self.field.input(t, x, mj)
        return self.field.head(gamma_i, gamma_c)
