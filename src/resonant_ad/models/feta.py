"""FETA's model (:class:`TransportedFlow`): a frozen flow of the simulation pulled back to
the data through a learned transport."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from resonant_ad.data.events import Events
from resonant_ad.errors import InputError
from resonant_ad.flows.preprocessing import Preprocessor
from resonant_ad.models.conditional_flow import ConditionalFlow
from resonant_ad.models.conditioning import Conditioning
from resonant_ad.models.transport import (
    TransportEnsemble,
    apply_members,
    transport_maf,
)
from resonant_ad.training import train as run_training

__all__ = ["TransportedFlow"]


class TransportedFlow(TransportEnsemble):
    """``p_data(x | m)``: a frozen base flow of the simulation ``p_sim(z | m)`` pulled back
    through a learned transport, ``log p_data(z | m) = log p_sim(T(z; m) | m) + log |det
    dT/dz|``, kept as an ensemble of the transport's best epochs.

    ``T`` maps the data's preprocessed features ``z_d`` (a
    :class:`~resonant_ad.flows.preprocessing.Preprocessor` of the base's kind fitted on the
    data's training events, ``preprocessor_``) into the base flow's preprocessed space
    (fitted on the simulation), with the base's standardised ``m`` as the one context
    variable: ``log p_data(x | m) = log p_sim(T(z_d; m) | m) + log |det dT/dz_d| + log |det
    dz_d/dx|``. So the data may reach beyond the simulation's feature range (on the Pythia
    dev sample 15% of the sideband events have a ``tau21`` above the simulation's largest;
    in the simulation's own space they would have no finite ``z``). :meth:`fit` trains
    ``T`` (a :mod:`zuko` MAF, started at the identity) by maximum likelihood on the given
    events with :func:`resonant_ad.training.train` and keeps the ``n_best`` epochs of
    lowest validation NLL; validation events outside the training events' range under a
    ``logit`` preprocessing are left out and counted (``left_out_``). :meth:`sample` draws
    base samples at the given masses and maps each through ``T^{-1}`` of a transport member
    picked at random (an equal-weight mixture; :meth:`log_prob` is its density).
    """

    FORMAT = "resonant_ad.TransportedFlow"
    VERSION = 3

    # ------------------------------------------------------------------ fitting
    def fit(self, train: Events, val: Events, *, random_state: int = 0) -> TransportedFlow:
        """Train the transport of ``context.base`` (a fitted flow of the simulation: its
        best ensemble member, copied and frozen) on ``train``, select epochs on ``val``;
        returns ``self``."""
        base, seed = self.context.base, random_state
        if not isinstance(base, ConditionalFlow):
            raise InputError(
                "feta needs its base model, the sim-nf flow of the simulation: the study "
                "trains it when [data] simulation is set"
            )
        frozen, dev = self._frozen_base(base, train, "the data's", "the simulation's")
        own = Conditioning.fit(train, val, frozen.preprocessor_.kind).preprocessor
        scaling = Conditioning(own, *frozen.m_scale_)
        z_train, c_train = scaling.tensors(train, dev)
        z_val, c_val = scaling.tensors(val, dev)
        if len(z_val) < 1:
            raise InputError("feta: no validation event inside the training events' range")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            transport = transport_maf(self.settings, frozen.n_features_in_, identity=True)

        def nll(module: nn.Module, z: Tensor, c: Tensor) -> Tensor:
            y, ladj = module(c).transform.call_and_ladj(z)
            return -(frozen.log_prob_z(y, c) + ladj.double())

        def loss_fn(module: nn.Module, batch: tuple[Tensor, ...], gen: torch.Generator) -> Tensor:
            return nll(module, *batch).mean()

        def validate(module: nn.Module) -> float:
            total = 0.0
            for s0 in range(0, len(z_val), 65536):
                sl = slice(s0, s0 + 65536)
                total += float(nll(module, z_val[sl], c_val[sl]).sum())
            return total / len(z_val)

        config = self.context.training(self.settings.training)
        result = run_training(
            transport, loss_fn, (z_train, c_train), validate, config, seed=seed, device=dev
        )
        self._set_fitted(frozen, own, [member.state for member in result.members], dev)
        self._record_training(result, self.context.region)
        self.left_out_ = len(train) + len(val) - len(z_train) - len(z_val)
        return self

    def _set_fitted(
        self,
        base: ConditionalFlow,
        preprocessor: Preprocessor,
        states: list[dict[str, Tensor]],
        device: torch.device,
    ) -> None:
        self._set_transports(base, states, device)
        self.preprocessor_ = preprocessor.to(device)

    # ------------------------------------------------------------------ use
    def sample(
        self, m: np.ndarray, *, seed: int | None = None, batch_size: int = 65536
    ) -> np.ndarray:
        """Features ``x ~ p_data(x | m)``, one row per mass in ``m`` (seeded by ``seed``):
        the base flow's samples at ``m`` through the inverse transport."""
        self._check_fitted()
        base_seed, own_seed = (int(s) for s in np.random.SeedSequence(seed).generate_state(2))
        z_sim = self.base_.sample_z(m, seed=base_seed, batch_size=batch_size)
        c = self.base_.context_of(m)
        dev = self.device_
        gen = torch.Generator().manual_seed(own_seed)
        z = apply_members(
            self.transports_,
            z_sim,
            c,
            generator=gen,
            inverse=True,
            device=dev,
            batch_size=batch_size,
        )
        with torch.no_grad():
            x = self.preprocessor_.inverse(z.to(dev, torch.float64)).cpu().numpy()
        return np.asarray(x)

    def log_prob(self, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        """``log p_data(x | m)`` of the ensemble (an equal-weight mixture over the transport
        members) in feature space; ``-inf`` outside the range of its ``preprocessor_``."""
        self._check_fitted()
        dev = self.device_
        c = self.base_.context_of(m).to(dev)
        with torch.no_grad():
            z, logdet = self.preprocessor_(torch.as_tensor(x, device=dev))
            inside = torch.isfinite(z).all(dim=1) & torch.isfinite(logdet)
            z = torch.where(inside.unsqueeze(1), z, torch.zeros_like(z)).float()
            per_member = []
            for transport in self.transports_:
                y, ladj = transport(c).transform.call_and_ladj(z)
                per_member.append(self.base_.log_prob_z(y, c) + ladj.double())
            lp = torch.logsumexp(torch.stack(per_member), dim=0) - math.log(len(per_member))
            lp = torch.where(inside, lp + logdet, torch.full_like(lp, -math.inf))
        return np.asarray(lp.cpu().numpy())

    # ------------------------------------------------------------------ storage
    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild the fitted model, its base flow included."""
        self._check_fitted()
        return {
            **self._transport_state(),
            "preprocessor": {k: v.cpu() for k, v in self.preprocessor_.state_dict().items()},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], device: str = "auto") -> TransportedFlow:
        """Rebuild a model written by :meth:`state`."""
        model, base, dev = cls._from_transport_state(state, "feta model", device)
        pre = Preprocessor(base.n_features_in_, base.preprocessor_.kind)
        pre.load_state_dict(state["preprocessor"])
        model._set_fitted(base, pre, state["members"], dev)
        return model
