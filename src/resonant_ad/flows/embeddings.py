"""Frequency embeddings of the resonant mass ``m`` and of the flow time ``t`` (SIGMA eqs. 7, 11)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from resonant_ad.errors import InputError

__all__ = [
    "MassEmbedding",
    "TimeEmbedding",
    "frequency_embedding",
    "time_embedding",
]


def frequency_embedding(m: Tensor, frequencies: Tensor) -> Tensor:
    r"""Sine/cosine features of ``m`` at angular ``frequencies``.

    .. math:: \alpha(m) = (\sin(\omega_0 m), \cos(\omega_0 m), \dots,
              \sin(\omega_{L-1} m), \cos(\omega_{L-1} m))

    With ``frequencies = pi * 2**k`` this is SIGMA eq. 11 (arXiv:2410.20537); with
    ``pi * (k + 1)`` it is the time embedding of eq. 7.

    >>> frequency_embedding(torch.tensor([0.0]), torch.tensor([math.pi, 2 * math.pi]))
    tensor([[0., 1., 0., 1.]])
    """
    angles = m.reshape(-1, 1) * frequencies.reshape(1, -1)
    return torch.stack((angles.sin(), angles.cos()), dim=-1).flatten(start_dim=1)


def time_embedding(t: Tensor, n_frequencies: int = 3) -> Tensor:
    r"""SIGMA eq. 7: :math:`(\sin(k \pi t), \cos(k \pi t))` for ``k = 1 .. L'+1``.

    >>> time_embedding(torch.tensor([0.0]), 1).tolist()
    [[0.0, 1.0, 0.0, 1.0]]
    """
    k = torch.arange(1, n_frequencies + 2, dtype=t.dtype, device=t.device)
    return frequency_embedding(t, math.pi * k)


class TimeEmbedding(nn.Module):
    """Eq. 7 as a module: ``t`` of shape ``(n,)`` -> ``(n, 2 (L' + 1))``."""

    frequencies: Tensor

    def __init__(self, n_frequencies: int = 3) -> None:
        super().__init__()
        self.n_frequencies = n_frequencies
        k = torch.arange(1, n_frequencies + 2, dtype=torch.float32)
        self.register_buffer("frequencies", math.pi * k)

    @property
    def features(self) -> int:
        return 2 * (self.n_frequencies + 1)

    def forward(self, t: Tensor) -> Tensor:
        return frequency_embedding(t, self.frequencies)


class MassEmbedding(nn.Module):
    """Rescale ``m`` from ``[m_min, m_max]`` to ``[-1, 1]``, then embed it.

    ``kind="frequency"``: eq. 11 with ``n_frequencies`` octaves (SIGMA's ``v_data``);
    ``kind="identity"``: ``alpha(m) = m`` rescaled (CATHODE-style ``v_CR``). The rescaling
    range is a buffer, saved and moved with the model.
    """

    frequencies: Tensor
    m_min: Tensor
    m_max: Tensor

    def __init__(
        self,
        kind: str = "frequency",
        n_frequencies: int = 9,
        mass_range: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        super().__init__()
        if kind not in ("frequency", "identity"):
            raise InputError(f"mass embedding {kind!r}: expected 'frequency' or 'identity'")
        if not mass_range[1] > mass_range[0]:
            raise InputError(f"mass range {mass_range} is empty")
        self.kind = kind
        self.n_frequencies = n_frequencies
        k = torch.arange(n_frequencies, dtype=torch.float32)
        self.register_buffer("frequencies", math.pi * 2.0**k)
        self.register_buffer("m_min", torch.tensor(float(mass_range[0])))
        self.register_buffer("m_max", torch.tensor(float(mass_range[1])))

    @property
    def features(self) -> int:
        return 2 * self.n_frequencies if self.kind == "frequency" else 1

    def rescale(self, m: Tensor) -> Tensor:
        """``m`` (TeV) mapped linearly so that ``[m_min, m_max]`` becomes ``[-1, 1]``."""
        return 2.0 * (m - self.m_min) / (self.m_max - self.m_min) - 1.0

    def forward(self, m: Tensor) -> Tensor:
        u = self.rescale(m.reshape(-1))
        if self.kind == "identity":
            return u.reshape(-1, 1)
        return frequency_embedding(u, self.frequencies)
