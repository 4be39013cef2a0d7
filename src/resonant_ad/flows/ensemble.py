"""Fitted vector fields behind a preprocessor as one density: the mixture of its members.

:class:`FieldEnsemble` draws ``x ~ p(x | m)`` by integrating each member's field from noise
(every event to one member picked at random) and evaluates the exact ``log p(x | m)`` of the
mixture, ``log mean_k p_k(x | m)``, both in the original feature space of the
:class:`~resonant_ad.flows.preprocessing.Preprocessor`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from resonant_ad.flows.ode import ODESolver, log_likelihood, sample_field
from resonant_ad.flows.preprocessing import Preprocessor

__all__ = ["FieldEnsemble"]


class FieldEnsemble:
    """The members ``fields`` (velocity fields ``v(t, z, m)`` in the preprocessed space) of a
    fitted model, with its ``preprocessor``, on ``device``."""

    def __init__(
        self, fields: Sequence[nn.Module], preprocessor: Preprocessor, device: torch.device
    ) -> None:
        self.fields = list(fields)
        self.preprocessor = preprocessor
        self.device = device

    def sample(
        self,
        m: Tensor,
        features: int,
        generator: torch.Generator,
        solver: ODESolver,
        batch_size: int,
    ) -> tuple[np.ndarray, dict[str, float]]:
        """Features ``x ~ p(x | m)``, shape ``(len(m), features)``, and the sampling's
        statistics (events, seconds, field evaluations in all and per batch).

        ``m``: float32 masses on the CPU. The members' shares of the events and the noise
        are drawn from ``generator`` before the events are split into batches of
        ``batch_size``.
        """
        n = len(m)
        owner = torch.randperm(n, generator=generator).tensor_split(len(self.fields))
        x1 = torch.randn(n, features, generator=generator)
        z = torch.empty(n, features)
        nfe, start = 0, time.perf_counter()
        for field, idx in zip(self.fields, owner, strict=True):
            for s in range(0, len(idx), batch_size):
                sub = idx[s : s + batch_size]
                out, k = sample_field(
                    field, m[sub].to(self.device), x1[sub].to(self.device), solver
                )
                z[sub] = out.cpu()
                nfe += k
        with torch.no_grad():
            x = self.preprocessor.inverse(z.to(self.device, torch.float64)).cpu().numpy()
        stats = {
            "n": float(n),
            "seconds": time.perf_counter() - start,
            "evaluations": float(nfe),
            "evaluations_per_batch": nfe
            / max(1, sum(math.ceil(len(i) / batch_size) for i in owner)),
        }
        return x, stats

    def log_prob(self, x: Tensor, m: Tensor, solver: ODESolver, batch_size: int) -> np.ndarray:
        """Exact ``log p(x | m)`` of the mixture of the members, in feature space.

        ``x``: float64 features ``(n, d)`` and ``m``: float64 masses ``(n,)``, on the
        ensemble's device; ``batch_size`` events per ODE solve.
        """
        with torch.no_grad():
            z, logdet = self.preprocessor(x)
        per_member = []
        for field in self.fields:
            parts = []
            for s in range(0, len(z), batch_size):
                lp, _ = log_likelihood(
                    field, z[s : s + batch_size].float(), m[s : s + batch_size].float(), solver
                )
                parts.append(lp.double())
            per_member.append(torch.cat(parts))
        stacked = torch.stack(per_member)
        lp = torch.logsumexp(stacked, dim=0) - math.log(len(self.fields)) + logdet
        return lp.cpu().numpy()
