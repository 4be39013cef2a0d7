"""``feta`` template: FETA's flow that transports the simulation's density to the data,
learned in the sidebands of each SR."""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion
from resonant_ad.errors import InputError
from resonant_ad.flows.preprocessing import Preprocessor
from resonant_ad.methods.base import sample_per_region
from resonant_ad.methods.cathode_nf import ConditionalFlow, FlowSettings, flow_settings
from resonant_ad.methods.conditioning import Conditioning
from resonant_ad.methods.registry import FitInputs, Method, RegionInputs, register
from resonant_ad.methods.transport import apply_members, frozen_copy, transport_maf
from resonant_ad.persistence import TrainedEnsemble
from resonant_ad.training import resolve_device, train

if TYPE_CHECKING:
    from resonant_ad.config import StudyConfig

__all__ = ["FetaMethod", "TransportedFlow"]

log = logging.getLogger(__name__)

_FORMAT = "resonant_ad.TransportedFlow"
_FORMAT_VERSION = 2
REVISION = 3
"""Part of ``feta``'s cache key, raised when the same settings train differently (2: the
transport starts from the data's own preprocessed space; it started from the simulation's,
so data outside the simulation's feature range were left out: 15% of the dev sample's
sideband events. 3: the base density is the best member of the sim-nf ensemble, where
every step evaluated all of them)."""


class TransportedFlow(TrainedEnsemble):
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

    def __init__(self, settings: FlowSettings | None = None) -> None:
        self.settings = settings or FlowSettings()

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        base: ConditionalFlow,
        train_events: Events,
        val_events: Events,
        *,
        seed: int = 0,
        device: str = "auto",
        signal_region: SignalRegion | None = None,
        checkpoint: str | None = None,
        progress: bool = False,
    ) -> TransportedFlow:
        """Train the transport of ``base`` (a fitted flow of the simulation: its best
        ensemble member, copied and frozen) on ``train_events``, select epochs on
        ``val_events``; returns ``self``."""
        dev = resolve_device(device)
        frozen = frozen_copy(base, dev, members=1)
        if train_events.feature_names != frozen.feature_names_:
            raise InputError(
                f"the data's features {train_events.feature_names} are not the simulation's "
                f"{frozen.feature_names_}"
            )
        own = Conditioning.fit(train_events, val_events, frozen.preprocessor_.kind).preprocessor
        scaling = Conditioning(own, *frozen.m_scale_)
        z_train, c_train = scaling.tensors(train_events, dev)
        z_val, c_val = scaling.tensors(val_events, dev)
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

        result = train(
            transport,
            loss_fn,
            (z_train, c_train),
            validate,
            self.settings.training(checkpoint=checkpoint, progress=progress),
            seed=seed,
            device=dev,
        )
        self._set_fitted(frozen, own, [member.state for member in result.members], dev)
        self._record_training(result, signal_region)
        self.left_out_ = len(train_events) + len(val_events) - len(z_train) - len(z_val)
        return self

    def _set_fitted(
        self,
        base: ConditionalFlow,
        preprocessor: Preprocessor,
        states: list[dict[str, Tensor]],
        device: torch.device,
    ) -> None:
        transports = []
        for state in states:
            transport = transport_maf(self.settings, base.n_features_in_)
            transport.load_state_dict(state)
            transports.append(transport.to(device).eval().requires_grad_(False))
        self.base_ = base
        self.preprocessor_ = preprocessor.to(device)
        self.transports_ = transports
        self.feature_names_ = base.feature_names_
        self.device_ = device

    def _check_fitted(self) -> None:
        if not hasattr(self, "transports_"):
            raise InputError("this TransportedFlow is not fitted yet: call fit() or load it")

    # ------------------------------------------------------------------ use
    def sample(
        self, m: np.ndarray, *, seed: int | None = None, batch_size: int = 65536
    ) -> np.ndarray:
        """Features ``x ~ p_data(x | m)``, one row per mass in ``m`` (seeded by ``seed``):
        the base flow's samples at ``m`` through the inverse transport."""
        self._check_fitted()
        base_seed, own_seed = (int(s) for s in np.random.SeedSequence(seed).generate_state(2))
        z_sim = self.base_.sample_z(m, seed=base_seed, batch_size=batch_size)
        c = self.base_.context(m)
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
        c = self.base_.context(m).to(dev)
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
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "settings": dataclasses.asdict(self.settings),
            "base": self.base_.state(),
            "preprocessor": {k: v.cpu() for k, v in self.preprocessor_.state_dict().items()},
            "members": [
                {k: v.detach().cpu() for k, v in t.state_dict().items()} for t in self.transports_
            ],
            **self._training_state(),
            "left_out": int(getattr(self, "left_out_", 0)),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], device: str = "auto") -> TransportedFlow:
        """Rebuild a model written by :meth:`state`."""
        if state.get("format") != _FORMAT or state.get("version") != _FORMAT_VERSION:
            raise InputError("not a saved feta model (or one of another version)")
        raw = dict(state["settings"])
        raw["hidden"] = tuple(raw["hidden"])
        model = cls(FlowSettings(**raw))
        dev = resolve_device(device)
        base = frozen_copy(state["base"], dev)
        pre = Preprocessor(base.n_features_in_, base.preprocessor_.kind)
        pre.load_state_dict(state["preprocessor"])
        model._set_fitted(base, pre, state["members"], dev)
        model._restore_training(state)
        model.left_out_ = int(state.get("left_out", 0))
        return model


class FetaMethod(Method):
    """``feta``: FETA, flow-enhanced transportation (Golling, Klein, Mastandrea, Nachman and
    Raine, arXiv:2212.11285), a simulation-assisted background template.

    The base density is ``sim-nf`` (:mod:`resonant_ad.methods.sim_nf`): a conditional flow
    ``p_sim(x | m)`` trained once per study on the simulation (``[data] simulation``) at
    every mass. FETA learns, in the sidebands of each SR (and of each injection: signal
    leaks into the sidebands), a transport ``T(x; m)`` from the data to the simulation by
    maximum likelihood through the frozen base, ``log p_data(x | m) = log p_sim(T(x; m) |
    m) + log |det dT/dx|``; the template is the base flow sampled at SR masses (drawn from
    the SR data's masses, :func:`~resonant_ad.methods.base.sample_masses`) and mapped
    through ``T^{-1}``. The model is a :class:`TransportedFlow`: the transport is a
    :mod:`zuko` MAF from the data's preprocessed space into the base flow's, with the
    base's standardised ``m`` as context, started at the identity, of the size and
    training of the ``[model] preset``'s flow
    (:func:`~resonant_ad.methods.cathode_nf.flow_settings`, as ``cathode-nf`` and
    ``sim-nf``), its ``n_best`` epochs of lowest validation NLL kept as an ensemble. The
    study skips ``feta`` (with a warning) when there is no simulation, and the scan cannot
    use it (it reads no simulation).

    The transport trains through the best member of the sim-nf ensemble only: every step
    back-propagates through the base density, and with all five members that made a
    training on the Pythia dev sample's sidebands (152,361 events, 40 epochs of the
    ``cpu`` preset, two heavily shared cores) take 961 s. Costs and template quality on
    the dev sample with the reference simulation: ``benchmarks/bench_transport.py``.

    On the Gaussian toy of ``tests/test_feta.py`` (``tiny`` preset, 20 epochs, 4,887 sideband
    training events) the data differ from the simulation in the SR by -0.90, 0.75 and -0.81
    standard deviations per feature; ``feta``'s template is off by -0.03, -0.04 and -0.02,
    ``sim-nf``'s by -0.87, 0.73 and -0.81.
    """

    model_class = TransportedFlow

    name = "feta"
    label = "FETA"
    color = "#e7298a"
    linestyle = "-"
    trains_on = "sidebands"
    description = "FETA: the simulation's flow transported to the data in the sidebands"

    @property
    def in_scan(self) -> bool:
        """No: the scan reads no simulation, so it has no base flow."""
        return False

    def base_method(self, config: StudyConfig) -> str | None:
        return "sim-nf"

    def model_settings(self, config: StudyConfig) -> Any:
        return ("feta", REVISION, dataclasses.asdict(flow_settings(config)))

    def fit(self, inputs: FitInputs) -> TransportedFlow:
        if not isinstance(inputs.base, ConditionalFlow):
            raise InputError(
                "feta needs its base model, the sim-nf flow of the simulation "
                "(FitInputs.base): the study trains it when [data] simulation is set"
            )
        return TransportedFlow(flow_settings(inputs.config)).fit(
            inputs.base,
            inputs.train,
            inputs.val,
            seed=inputs.seed,
            device=inputs.config.device,
            signal_region=inputs.region,
            checkpoint=None if inputs.checkpoint is None else str(inputs.checkpoint),
            progress=inputs.progress,
        )

    def template(self, model: Any, inputs: RegionInputs, n: int) -> Events:
        return sample_per_region(model, inputs, n, "feta transport")


register(FetaMethod())
