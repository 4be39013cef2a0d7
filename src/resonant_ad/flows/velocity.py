"""The SIGMA vector field: context and input MLPs followed by context-gated ResNet blocks."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from resonant_ad.flows.embeddings import MassEmbedding, TimeEmbedding

__all__ = ["ResNetField", "ResidualBlock"]


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
        layers += [nn.ReLU(), nn.Dropout(dropout), nn.Linear(width, width)]
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
