"""How the sideband models of x given m see their events (preprocessed features and a
standardised mass, both fitted on the training events), and :class:`ConditionedEnsemble`,
the trained ensemble of networks that sees them so; :func:`move_inputs`, what a model that
moves events to other masses starts from."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self, TypeVar

import numpy as np
import torch
from torch import Tensor, nn

from resonant_ad.data.events import Events
from resonant_ad.errors import InputError
from resonant_ad.flows.preprocessing import Preprocessor
from resonant_ad.models.base import Configured, settings_from_dict
from resonant_ad.persistence import TrainedEnsemble, member_states
from resonant_ad.training import LossFn, TrainingConfig, TrainingResult, resolve_device
from resonant_ad.training import train as run_training

__all__ = [
    "REVISION",
    "ConditionedEnsemble",
    "Conditioning",
    "FittedParts",
    "Trained",
    "move_inputs",
]


class _Settings(Protocol):
    """What :class:`ConditionedEnsemble` reads of its settings (a dataclass)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def preprocessing(self) -> str: ...

    @property
    def training(self) -> TrainingConfig: ...


S = TypeVar("S", bound=_Settings)

REVISION = 2
"""Part of the cache key of every model that sees its events through :class:`Conditioning`:
raised when the same settings train differently (2: events outside the preprocessing's
range are left out, where one such validation event used to make every epoch's validation
loss NaN and the choice of the best epochs meaningless)."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Conditioning:
    """A fitted :class:`~resonant_ad.flows.preprocessing.Preprocessor` of the features and
    the mean and spread that standardise ``m`` (the model's one context variable).

    >>> from resonant_ad.data.toy import make_toy_sample
    >>> from resonant_ad.data.features import compute_features
    >>> ev = compute_features(make_toy_sample(500, 0, 0, seed=1).background)
    >>> z, c = Conditioning.fit(ev, ev, "standard").tensors(ev, torch.device("cpu"))
    >>> z.shape[1] == ev.x.shape[1], abs(float(c.mean())) < 1e-6, round(float(c.std(False)), 4)
    (True, True, 1.0)
    """

    preprocessor: Preprocessor
    m_mean: float
    m_std: float

    @classmethod
    def fit(cls, train: Events, val: Events, preprocessing: str) -> Conditioning:
        """Fitted on ``train``; ``val`` is checked to match it."""
        if len(train) < 2 or len(val) < 1:
            raise InputError("need at least two training and one validation event")
        if train.feature_names != val.feature_names:
            raise InputError("training and validation events have different features")
        pre = Preprocessor(train.x.shape[1], preprocessing).fit(torch.as_tensor(train.x))
        return cls(pre, float(np.mean(train.m)), float(np.std(train.m)) or 1.0)

    @property
    def m_scale(self) -> tuple[float, float]:
        return self.m_mean, self.m_std

    def tensors(self, events: Events, device: torch.device) -> tuple[Tensor, Tensor]:
        """Preprocessed features ``(n, d)`` and standardised masses ``(n, 1)``, float32.

        Events without finite preprocessed features are left out (with a warning): under
        the ``logit`` preprocessing, those outside the range of the events it was fitted on
        (a validation event above the training maximum, data outside the simulation's
        range). The model gives them no density, and one of them would make a validation
        loss NaN, and the choice of the best epochs meaningless.
        """
        with torch.no_grad():
            z, _ = self.preprocessor.to(device)(torch.as_tensor(events.x, device=device))
        c = (torch.as_tensor(events.m, device=device) - self.m_mean) / self.m_std
        keep = torch.isfinite(z).all(dim=1)
        if not bool(keep.all()):
            log.warning(
                "%d of %d events lie outside the features' %s range and are left out",
                int((~keep).sum()),
                len(events),
                self.preprocessor.kind,
            )
            z, c = z[keep], c[keep]
        return z.float(), c.float().unsqueeze(1)


def move_inputs(
    preprocessor: Preprocessor,
    events: Events,
    m_out: np.ndarray,
    device: torch.device,
    feature_range: str,
) -> tuple[Tensor, np.ndarray]:
    """What a model that moves ``events`` to the masses ``m_out`` starts from: their
    features through ``preprocessor`` on ``device`` and the target masses as a float64
    vector. Raises unless there is one target mass per event and every event lies inside
    ``feature_range`` (its preprocessed features finite)."""
    m_out = np.asarray(m_out, dtype=np.float64).reshape(-1)
    if len(m_out) != len(events):
        raise InputError(f"{len(m_out)} target masses for {len(events)} events")
    with torch.no_grad():
        z, _ = preprocessor(torch.as_tensor(events.x, device=device))
    if not bool(torch.isfinite(z).all()):
        raise InputError(f"events outside {feature_range} cannot be moved")
    return z, m_out


@dataclass(frozen=True)
class FittedParts:
    """What every fitted :class:`ConditionedEnsemble` is set from (a model may add parts of
    its own): the number and names of the features, the fitted preprocessor, the mean and
    spread of ``m``, the members' states and the device they go to."""

    features: int
    feature_names: tuple[str, ...]
    preprocessor: Preprocessor
    m_scale: tuple[float, float]
    states: list[dict[str, Tensor]]
    device: torch.device

    @classmethod
    def of_training(
        cls, train: Events, scaling: Conditioning, result: TrainingResult, device: torch.device
    ) -> FittedParts:
        """The parts of a training on the events ``train`` seen through ``scaling``."""
        return cls(
            features=train.x.shape[1],
            feature_names=train.feature_names,
            preprocessor=scaling.preprocessor.cpu(),
            m_scale=scaling.m_scale,
            states=[member.state for member in result.members],
            device=device,
        )


@dataclass(frozen=True)
class Trained:
    """What :meth:`ConditionedEnsemble._train` trained: the network (its last state), the
    training's result and the training tensors, of the events ``train`` seen through
    ``scaling``, on ``device``."""

    net: nn.Module
    result: TrainingResult
    tensors: tuple[Tensor, Tensor]
    train: Events
    scaling: Conditioning
    device: torch.device

    def parts(self) -> FittedParts:
        """What the model is set from."""
        return FittedParts.of_training(self.train, self.scaling, self.result, self.device)


class ConditionedEnsemble(Configured[S], TrainedEnsemble):
    """An ensemble of networks of ``x`` given ``m`` (the epochs that
    :func:`resonant_ad.training.train` kept) trained on events seen through a
    :class:`Conditioning` of ``settings.preprocessing``.

    Fitted attributes besides the members (``MEMBERS`` names them): ``n_features_in_``,
    ``feature_names_``, ``preprocessor_`` and ``m_scale_`` of the training events, and the
    ``device_`` the members sit on.
    """

    MEMBERS: ClassVar[str]

    def _train(
        self,
        train: Events,
        val: Events,
        seed: int,
        build: Callable[[int], nn.Module],
        objective: Callable[[Tensor, Tensor], tuple[LossFn, Callable[[nn.Module], float]]],
    ) -> Trained:
        """Fit the :class:`Conditioning` on ``train``, build the network ``build(features)``
        under the torch seed ``seed`` and train it with the loss and validation score that
        ``objective`` makes of the validation tensors."""
        scaling = Conditioning.fit(train, val, self.settings.preprocessing)
        dev = resolve_device(self.context.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = build(train.x.shape[1])
        train_tensors = scaling.tensors(train, dev)
        loss_fn, validate = objective(*scaling.tensors(val, dev))
        config = self.context.training(self.settings.training)
        result = run_training(net, loss_fn, train_tensors, validate, config, seed=seed, device=dev)
        return Trained(net, result, train_tensors, train, scaling, dev)

    def _set_conditioning(self, parts: FittedParts) -> None:
        self.n_features_in_ = parts.features
        self.feature_names_ = tuple(parts.feature_names)
        self.preprocessor_ = parts.preprocessor.to(parts.device)
        self.m_scale_ = (float(parts.m_scale[0]), float(parts.m_scale[1]))
        self.device_ = parts.device

    def _check_fitted(self) -> None:
        if not hasattr(self, self.MEMBERS):
            raise InputError(f"this {type(self).__name__} is not fitted yet: call fit() or load it")

    def context_of(self, m: np.ndarray) -> Tensor:
        """The networks' context of masses ``m``: ``(m - mean) / std`` of the training
        masses, shape ``(n, 1)``, float32 on the CPU."""
        mean, std = self.m_scale_
        c = (np.asarray(m, dtype=np.float64).reshape(-1) - mean) / std
        return torch.as_tensor(c, dtype=torch.float32).unsqueeze(1)

    def _conditioned_state(self) -> dict[str, Any]:
        """The state entries of the settings, conditioning, members and training."""
        self._check_fitted()
        return {
            **self._format(),
            "settings": dataclasses.asdict(self.settings),
            "features": self.n_features_in_,
            "feature_names": list(self.feature_names_),
            "preprocessor": {k: v.cpu() for k, v in self.preprocessor_.state_dict().items()},
            "m_scale": list(self.m_scale_),
            "members": member_states(getattr(self, self.MEMBERS)),
            **self._training_state(),
        }

    @classmethod
    def _from_conditioned_state(
        cls, state: Mapping[str, Any], what: str, device: str
    ) -> tuple[Self, FittedParts]:
        """The model of :meth:`_conditioned_state` before it is fitted, and the parts of it
        that the state's common entries give."""
        cls._check_format(state, what)
        model = cls(settings_from_dict(cls.SETTINGS, state["settings"]))
        d = int(state["features"])
        pre = Preprocessor(d, model.settings.preprocessing)
        pre.load_state_dict(state["preprocessor"])
        model._restore_training(state)
        parts = FittedParts(
            features=d,
            feature_names=tuple(state["feature_names"]),
            preprocessor=pre,
            m_scale=tuple(state["m_scale"]),
            states=state["members"],
            device=resolve_device(device),
        )
        return model, parts
