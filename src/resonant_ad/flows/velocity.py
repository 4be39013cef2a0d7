"""The SIGMA vector field: context and input MLPs followed by context-gated ResNet blocks."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from resonant_ad.flows.embeddings import MassEmbedding, TimeEmbedding

__all__ = ["REVISION", "FastDropout", "ResNetField", "ResidualBlock"]

REVISION = 2
"""Part of the cache key of every trained field: raised when the same settings train
differently (2: :class:`FastDropout` in place of :class:`torch.nn.Dropout`, the same
dropout from other random numbers)."""


class FastDropout(nn.Module):
    """Dropout whose masks cost a quarter of the random numbers on a CPU.

    :class:`torch.nn.Dropout` draws one random number per element, and on a CPU that draw
    dominates: 16.8% of a ``cpu``-preset training step of the field, profiled on the Pythia
    dev sample's sidebands, about 3x the cost of the linear layer it follows. Here one
    64-bit random integer gives four 16-bit uniforms, each compared with a threshold, so an
    element is dropped with probability ``round(p 2^16) / 2^16`` (``p`` within ``2^-17``)
    and the kept ones are scaled by the inverse of the kept fraction. On other devices (and
    for ``p = 0``) it is :func:`torch.nn.functional.dropout`. Random numbers come from
    torch's default generator, as for :class:`torch.nn.Dropout`.

    >>> _ = torch.manual_seed(0)
    >>> layer = FastDropout(0.25).train()
    >>> y = layer(torch.ones(1000, 100))
    >>> round(float((y == 0).float().mean()), 2), round(float(y.mean()), 2)
    (0.25, 1.0)
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability {p}: must be in [0, 1)")
        self.p = p
        self.threshold = -(2**15) + round(p * 2**16)
        self.scale = 2**16 / (2**16 - round(p * 2**16))

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0 or x.device.type != "cpu":
            return nn.functional.dropout(x, self.p, self.training)
        n = x.numel()
        bits = torch.randint(-(2**63), 2**63 - 1, ((n + 3) // 4,), dtype=torch.int64)
        keep = bits.view(torch.int16)[:n].view_as(x) >= self.threshold
        return x * keep * self.scale

    def extra_repr(self) -> str:
        return f"p={self.p}"


class ResidualBlock(nn.Module):
    """``h -> h + phi(h) * gamma_c`` with ``phi`` two linear layers (SIGMA eq. 10).

    ``phi`` = [batch norm] -> ReLU -> linear -> [batch norm] -> ReLU -> dropout -> linear.
    The last layer starts near zero so that a fresh network is close to the identity.
    """

    def __init__(self, width: int, dropout: float = 0.2, batch_norm: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        if batch_norm:
            layers.append(nn.BatchNorm1d(width, eps=1e-3))
        layers += [nn.ReLU(), nn.Linear(width, width)]
        if batch_norm:
            layers.append(nn.BatchNorm1d(width, eps=1e-3))
        layers += [nn.ReLU(), FastDropout(dropout), nn.Linear(width, width)]
        self.phi = nn.Sequential(*layers)
        last = self.phi[-1]
        assert isinstance(last, nn.Linear)
        nn.init.uniform_(last.weight, -1e-3, 1e-3)
        nn.init.uniform_(last.bias, -1e-3, 1e-3)

    def forward(self, h: Tensor, context: Tensor) -> Tensor:
        return h + self.phi(h) * context


class ResNetField(nn.Module):
    r"""Vector field :math:`v_\theta(x | t, m)` of SIGMA section II.2.2.

    The three stages are exposed separately so that SIGMA's interpolations act on them:

    - :meth:`context`: :math:`\gamma_c(m, t) = \phi_c(\alpha(m), \beta(t))` (eq. 8),
    - :meth:`input`: :math:`\gamma_i(x, m, t) = \phi_i(x, \alpha(m), \beta(t))` (eq. 9),
    - :meth:`head`: the ResNet blocks and the final linear layer applied to
      :math:`(\gamma_i, \gamma_c)` ("the rest of the network").

    ``forward(t, x, m) == head(input(t, x, m), context(t, m))``.
    """

    def __init__(
        self,
        features: int,
        *,
        width: int = 256,
        blocks: int = 4,
        dropout: float = 0.2,
        batch_norm: bool = True,
        mass_embedding: str = "frequency",
        mass_frequencies: int = 9,
        time_frequencies: int = 3,
        mass_range: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        super().__init__()
        self.features = features
        self.alpha = MassEmbedding(mass_embedding, mass_frequencies, mass_range)
        self.beta = TimeEmbedding(time_frequencies)
        n_embed = self.alpha.features + self.beta.features
        self.context_net = nn.Sequential(nn.Linear(n_embed, width), nn.ReLU())
        self.input_net = nn.Sequential(nn.Linear(features + n_embed, width), nn.ReLU())
        self.blocks = nn.ModuleList(
            [ResidualBlock(width, dropout, batch_norm) for _ in range(blocks)]
        )
        self.output = nn.Linear(width, features)

    @staticmethod
    def _broadcast_t(t: Tensor, n: int) -> Tensor:
        t = torch.as_tensor(t).reshape(-1)
        return t.expand(n) if t.numel() == 1 else t

    def embed(self, t: Tensor, m: Tensor) -> Tensor:
        """``(alpha(m), beta(t))`` concatenated, shape ``(n, 2 (L + L' + 1))``."""
        m = m.reshape(-1)
        return torch.cat((self.alpha(m), self.beta(self._broadcast_t(t, len(m)).to(m))), dim=1)

    def context(self, t: Tensor, m: Tensor) -> Tensor:
        """Context vector ``gamma_c(m, t)``, shape ``(n, width)``."""
        return self.context_net(self.embed(t, m))

    def input(self, t: Tensor, x: Tensor, m: Tensor) -> Tensor:
        """Input vector ``gamma_i(x, m, t)``, shape ``(n, width)``."""
        return self.input_net(torch.cat((x, self.embed(t, m)), dim=1))

    def head(self, gamma_i: Tensor, gamma_c: Tensor) -> Tensor:
        """The ResNet blocks and output layer on given input and context vectors."""
        h = gamma_i
        for block in self.blocks:
            h = block(h, gamma_c)
        return self.output(h)

    def forward(self, t: Tensor, x: Tensor, m: Tensor) -> Tensor:
        """Velocity at time ``t`` (scalar or ``(n,)``), state ``x`` ``(n, d)``, mass ``m``."""
        emb = self.embed(t, m)
        gamma_c = self.context_net(emb)
        gamma_i = self.input_net(torch.cat((x, emb), dim=1))
        return self.head(gamma_i, gamma_c)
