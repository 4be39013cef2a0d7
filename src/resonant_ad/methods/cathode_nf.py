"""``cathode-nf`` template: CATHODE's conditional normalizing flow of x given mjj, per SR."""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion
from resonant_ad.errors import InputError
from resonant_ad.flows.preprocessing import PREPROCESSINGS, Preprocessor
from resonant_ad.methods.base import sample_per_region
from resonant_ad.methods.conditioning import REVISION, Conditioning
from resonant_ad.methods.registry import FitInputs, Method, RegionInputs, register
from resonant_ad.persistence import TrainedEnsemble
from resonant_ad.training import TrainingConfig, resolve_device, train

if TYPE_CHECKING:
    from resonant_ad.config import StudyConfig

__all__ = ["FLOWS", "NF_PRESETS", "CathodeNFMethod", "ConditionalFlow", "FlowSettings"]

log = logging.getLogger(__name__)

_FORMAT = "resonant_ad.ConditionalFlow"
_FORMAT_VERSION = 1

FLOWS = ("maf", "nsf")
"""Flow families: affine masked autoregressive (CATHODE's MAF) or rational-quadratic
spline (NSF), both :mod:`zuko` flows conditioned on the standardised ``mjj``."""


@dataclass(frozen=True)
class FlowSettings:
    """Architecture and training of a :class:`ConditionalFlow` (its cache key)."""

    flow: str = "maf"
    transforms: int = 15
    hidden: tuple[int, ...] = (128,)
    bins: int = 8
    """Spline bins per feature (``nsf`` only)."""
    preprocessing: str = "logit"
    batch_size: int = 256
    learning_rate: float = 1e-4
    weight_decay: float = 0.0
    max_epochs: int = 100
    max_seconds: float | None = None
    plateau_factor: float = 0.3
    plateau_patience: int = 1000
    early_stopping_patience: int = 1000
    n_best: int = 10

    def __post_init__(self) -> None:
        if self.flow not in FLOWS:
            raise InputError(f"flow {self.flow!r}: choose one of {FLOWS}")
        if self.preprocessing not in PREPROCESSINGS:
            raise InputError(
                f"preprocessing {self.preprocessing!r}: choose one of {PREPROCESSINGS}"
            )
        if self.transforms < 1 or not self.hidden or min(self.hidden) < 1:
            raise InputError("a flow needs at least one transform and non-empty hidden layers")
        if self.max_epochs < 1 or self.n_best < 1:
            raise InputError("max_epochs and n_best must be at least 1")

    def training(self, *, checkpoint: str | None, progress: bool) -> TrainingConfig:
        return TrainingConfig(
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            max_epochs=self.max_epochs,
            max_seconds=self.max_seconds,
            plateau_factor=self.plateau_factor,
            plateau_patience=self.plateau_patience,
            early_stopping_patience=self.early_stopping_patience,
            n_best=self.n_best,
            checkpoint_path=checkpoint,
            progress=progress,
        )


NF_PRESETS: dict[str, FlowSettings] = {
    # The CATHODE paper's setup: 15 affine MADE transforms with one hidden layer of 128,
    # logit of min-max-scaled features, Adam at 1e-4, batches of 256, 100 epochs, no early
    # stopping, the 10 epochs of lowest validation loss sampled as one ensemble.
    "paper": FlowSettings(),
    # Two CPU cores: 8 transforms of one 64-wide layer, batches of 1024 at 1e-3, stopped
    # after 15 epochs without improvement, the 5 best epochs kept.
    "cpu": FlowSettings(
        transforms=8,
        hidden=(64,),
        batch_size=1024,
        learning_rate=1e-3,
        max_epochs=100,
        plateau_patience=8,
        early_stopping_patience=15,
        n_best=5,
    ),
    # Seconds-scale flows for tests and smoke runs.
    "tiny": FlowSettings(
        transforms=3,
        hidden=(32,),
        batch_size=256,
        learning_rate=3e-3,
        max_epochs=20,
        plateau_patience=5,
        early_stopping_patience=10,
        n_best=2,
    ),
}
"""Flow settings per ``[model] preset`` (the flow-matching presets' names)."""

_OVERRIDABLE = ("max_epochs", "max_seconds", "early_stopping_patience", "preprocessing")


def flow_settings(config: StudyConfig) -> FlowSettings:
    """The settings of ``[model] preset`` with the ``[model]`` overrides (``epochs``,
    ``max_epochs``, ``max_seconds``, ``preprocessing``) applied."""
    base = NF_PRESETS.get(config.model.preset)
    if base is None:
        raise InputError(
            f"[model] preset {config.model.preset!r}: cathode-nf knows {sorted(NF_PRESETS)}"
        )
    overrides = config.model.overrides()
    return dataclasses.replace(base, **{k: overrides[k] for k in _OVERRIDABLE if k in overrides})


def _build_flow(settings: FlowSettings, features: int) -> nn.Module:
    import zuko

    if settings.flow == "maf":
        return zuko.flows.MAF(
            features, 1, transforms=settings.transforms, hidden_features=settings.hidden
        )
    return zuko.flows.NSF(
        features,
        1,
        bins=settings.bins,
        transforms=settings.transforms,
        hidden_features=settings.hidden,
    )


class ConditionalFlow(TrainedEnsemble):
    """A conditional normalizing flow ``p(x | m)`` kept as an ensemble of its best epochs.

    Features are mapped by a :class:`~resonant_ad.flows.preprocessing.Preprocessor` of
    ``settings.preprocessing`` fitted on the training events; ``m`` is standardised with the
    training events' mean and spread and is the flow's one context variable. :meth:`fit`
    minimises the negative log-likelihood with :func:`resonant_ad.training.train` and keeps
    the ``n_best`` epochs of lowest validation NLL; samples are split at random over them
    (an equal-weight mixture), and :meth:`log_prob` is that mixture's density in ``x``.
    """

    def __init__(self, settings: FlowSettings | None = None) -> None:
        self.settings = settings or FlowSettings()

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        train_events: Events,
        val_events: Events,
        *,
        seed: int = 0,
        device: str = "auto",
        signal_region: SignalRegion | None = None,
        checkpoint: str | None = None,
        progress: bool = False,
    ) -> ConditionalFlow:
        """Train on ``train_events``, select epochs on ``val_events``; returns ``self``."""
        s = self.settings
        scaling = Conditioning.fit(train_events, val_events, s.preprocessing)
        dev = resolve_device(device)
        d = train_events.x.shape[1]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            flow = _build_flow(s, d)
        z_train, c_train = scaling.tensors(train_events, dev)
        z_val, c_val = scaling.tensors(val_events, dev)

        def loss_fn(module: nn.Module, batch: tuple[Tensor, ...], gen: torch.Generator) -> Tensor:
            z, c = batch
            return -module(c).log_prob(z).mean()

        def validate(module: nn.Module) -> float:
            total = 0.0
            for s0 in range(0, len(z_val), 65536):
                sl = slice(s0, s0 + 65536)
                total += float(module(c_val[sl]).log_prob(z_val[sl]).sum())
            return -total / len(z_val)

        result = train(
            flow,
            loss_fn,
            (z_train, c_train),
            validate,
            s.training(checkpoint=checkpoint, progress=progress),
            seed=seed,
            device=dev,
        )
        self._set_fitted(
            features=d,
            feature_names=train_events.feature_names,
            preprocessor=scaling.preprocessor.cpu(),
            m_scale=scaling.m_scale,
            states=[member.state for member in result.members],
            device=dev,
        )
        self._record_training(result, signal_region)
        return self

    def _set_fitted(
        self,
        *,
        features: int,
        feature_names: tuple[str, ...],
        preprocessor: Preprocessor,
        m_scale: tuple[float, float],
        states: list[dict[str, Tensor]],
        device: torch.device,
    ) -> None:
        flows = []
        for state in states:
            flow = _build_flow(self.settings, features)
            flow.load_state_dict(state)
            flows.append(flow.to(device).eval())
        self.flows_ = flows
        self.n_features_in_ = features
        self.feature_names_ = tuple(feature_names)
        self.preprocessor_ = preprocessor.to(device)
        self.m_scale_ = (float(m_scale[0]), float(m_scale[1]))
        self.device_ = device

    def _check_fitted(self) -> None:
        if not hasattr(self, "flows_"):
            raise InputError("this ConditionalFlow is not fitted yet: call fit() or load it")

    def context(self, m: np.ndarray) -> Tensor:
        """The flow's context of masses ``m``: ``(m - mean) / std`` of the training masses,
        shape ``(n, 1)``, float32 on the CPU."""
        mean, std = self.m_scale_
        c = (np.asarray(m, dtype=np.float64).reshape(-1) - mean) / std
        return torch.as_tensor(c, dtype=torch.float32).unsqueeze(1)

    # ------------------------------------------------------------------ use
    def sample(
        self, m: np.ndarray, *, seed: int | None = None, batch_size: int = 65536
    ) -> np.ndarray:
        """Features ``x ~ p(x | m)``, one row per mass in ``m`` (seeded by ``seed``)."""
        z = self.sample_z(m, seed=seed, batch_size=batch_size)
        with torch.no_grad():
            x = self.preprocessor_.inverse(z.to(self.device_, torch.float64)).cpu().numpy()
        return np.asarray(x)

    def sample_z(
        self, m: np.ndarray, *, seed: int | None = None, batch_size: int = 65536
    ) -> Tensor:
        """Samples of the flow in its preprocessed space ``z`` (what :meth:`sample` maps
        back to features), one row per mass in ``m``: float32, on the CPU."""
        self._check_fitted()
        gen = torch.Generator()
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(int(seed))
        c = self.context(m)
        n, d = len(c), self.n_features_in_
        owner = torch.randperm(n, generator=gen).tensor_split(len(self.flows_))
        noise = torch.randn(n, d, generator=gen)
        z = torch.empty(n, d)
        with torch.no_grad():
            for flow, idx in zip(self.flows_, owner, strict=True):
                for s0 in range(0, len(idx), batch_size):
                    sub = idx[s0 : s0 + batch_size]
                    dist = flow(c[sub].to(self.device_))
                    z[sub] = dist.transform.inv(noise[sub].to(self.device_)).cpu()
        return z

    def log_prob(self, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        """``log p(x | m)`` of the ensemble (an equal-weight mixture) in feature space."""
        self._check_fitted()
        c = self.context(m).to(self.device_)
        with torch.no_grad():
            z, logdet = self.preprocessor_(torch.as_tensor(x, device=self.device_))
            lp = self.log_prob_z(z, c) + logdet
        return np.asarray(lp.cpu().numpy())

    def log_prob_z(self, z: Tensor, c: Tensor) -> Tensor:
        """The ensemble's ``log p(z | c)`` in the preprocessed space (float64), ``c`` the
        standardised masses of :meth:`context` on the flow's device; differentiable in ``z``
        (gradients reach the flows' parameters too unless they are frozen)."""
        self._check_fitted()
        per_member = torch.stack([flow(c).log_prob(z.float()).double() for flow in self.flows_])
        return torch.logsumexp(per_member, dim=0) - math.log(len(self.flows_))

    # ------------------------------------------------------------------ storage
    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild the fitted flow (see :meth:`from_state`)."""
        self._check_fitted()
        return {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "settings": dataclasses.asdict(self.settings),
            "features": self.n_features_in_,
            "feature_names": list(self.feature_names_),
            "preprocessor": {k: v.cpu() for k, v in self.preprocessor_.state_dict().items()},
            "m_scale": list(self.m_scale_),
            "members": [
                {k: v.detach().cpu() for k, v in flow.state_dict().items()} for flow in self.flows_
            ],
            **self._training_state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], device: str = "auto") -> ConditionalFlow:
        """Rebuild a flow written by :meth:`state`."""
        if state.get("format") != _FORMAT or state.get("version") != _FORMAT_VERSION:
            raise InputError("not a saved cathode-nf flow (or one of another version)")
        raw = dict(state["settings"])
        raw["hidden"] = tuple(raw["hidden"])
        flow = cls(FlowSettings(**raw))
        d = int(state["features"])
        pre = Preprocessor(d, flow.settings.preprocessing)
        pre.load_state_dict(state["preprocessor"])
        flow._set_fitted(
            features=d,
            feature_names=tuple(state["feature_names"]),
            preprocessor=pre,
            m_scale=tuple(state["m_scale"]),
            states=state["members"],
            device=resolve_device(device),
        )
        flow._restore_training(state)
        return flow


class CathodeNFMethod(Method):
    """``cathode-nf``: CATHODE (Hallin et al., arXiv:2109.00546) with its normalizing flow.

    One conditional flow ``p(x | m)`` per SR (a :class:`ConditionalFlow`, a :mod:`zuko`
    MAF by default) is trained by maximum likelihood on the SR's sidebands only, so it
    never sees the SR; the template is the flow sampled at SR masses drawn from the SR
    data's masses (:func:`~resonant_ad.methods.base.sample_masses`), split over the
    ``n_best`` epochs of lowest validation NLL. The ``[model] preset`` picks the flow's size
    (:data:`NF_PRESETS`: ``paper`` is the CATHODE setup, ``cpu`` the default here, ``tiny``
    for tests); ``[model] epochs``, ``max_epochs``, ``max_seconds`` and ``preprocessing``
    override it, so methods can be compared at the same number of epochs.

    Measured on a toy LHCO-like background (:mod:`resonant_ad.data.toy`) with 55,633
    sideband events around SR 3.3-3.7 TeV (47,288 train, 8,345 validation: the size of the
    Pythia dev sample's sidebands), on 2 shared CPU cores (load average 3-4 from other jobs)
    with one torch thread:

    - training, timed over 3 epochs: ``cpu`` preset 0.45-0.55 s per epoch (a full training
      stopped early after 88 epochs: 52 s); ``paper`` preset 2.4-3.3 s per epoch (its 100
      epochs: 4-6 min); about 2 s of set-up on top. An epoch costs in proportion to the
      number of sideband events and of transforms;
    - per SR, sampling 200,000 template events: 2.0-2.9 s (``cpu``), 12-14 s (``paper``),
      in proportion to the number of events;
    - template quality: a classifier (3 HGB members) telling 4x oversampled templates from
      25,647 true SR background events has AUC 0.520 (``cpu`` preset, full training); an
      independent sample of true SR background scores 0.499, the sideband events
      resampled at SR masses 0.735.

    CPU budget (:attr:`~resonant_ad.methods.registry.Method.cpu_budget`): 240 s per SR on two
    cores for a dev-sample SR at 40 epochs, training included (measured with the other
    template methods in ``benchmarks/results/bench_templates``).
    """

    model_class = ConditionalFlow

    name = "cathode-nf"
    cpu_budget: float | None = 240.0
    label = "CATHODE (MAF)"
    color = "#393b79"
    linestyle = "--"
    trains_on = "sidebands"
    description = "CATHODE: a conditional normalizing flow trained on the sidebands of each SR"

    def model_settings(self, config: StudyConfig) -> Any:
        return ("cathode-nf", REVISION, dataclasses.asdict(flow_settings(config)))

    def fit(self, inputs: FitInputs) -> ConditionalFlow:
        return ConditionalFlow(flow_settings(inputs.config)).fit(
            inputs.train,
            inputs.val,
            seed=inputs.seed,
            device=inputs.config.device,
            signal_region=inputs.region,
            checkpoint=None if inputs.checkpoint is None else str(inputs.checkpoint),
            progress=inputs.progress,
        )

    def template(self, model: Any, inputs: RegionInputs, n: int) -> Events:
        return sample_per_region(model, inputs, n, "cathode-nf flow")


register(CathodeNFMethod())
