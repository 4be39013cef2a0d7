"""The background-model interface every template family implements, the context a model is
built in, its settings from a family's presets, and how a template is drawn from a model in
a signal region.

A background model follows scikit-learn and :mod:`zuko` conventions: it is built from its
settings and a :class:`ModelContext`, ``fit(train, val, *, random_state)`` trains it and
returns it, and ``sample(m, *, seed)`` gives features at the given masses
(:class:`BackgroundModel`). Where a family has a density it adds ``log_prob(x, m)``
(:class:`DensityModel`). A family whose template is not "features at given masses" (events
with masses of its own, or weighted simulated events) implements ``sample_events(region, n,
*, seed)`` instead (:class:`EventModel`). Models that save themselves are
:class:`~resonant_ad.persistence.Persistent`; the others are pickled.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np

from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion
from resonant_ad.data.spectrum import silverman_bandwidth
from resonant_ad.errors import InputError

if TYPE_CHECKING:
    from resonant_ad.config import ModelConfig
    from resonant_ad.training import TrainingConfig

__all__ = [
    "TRAINING_OVERRIDES",
    "BackgroundModel",
    "Configured",
    "DensityModel",
    "EventModel",
    "ModelContext",
    "check_region",
    "draw_template",
    "preset_settings",
    "replace_settings",
    "sample_masses",
    "settings_from_dict",
]

S = TypeVar("S")

TRAINING_OVERRIDES = ("max_epochs", "max_seconds", "early_stopping_patience")
"""The ``[model]`` overrides that go to a family's :class:`~resonant_ad.training.TrainingConfig`
(``preprocessing`` goes to the settings' own ``preprocessing`` field)."""


@runtime_checkable
class BackgroundModel(Protocol):
    """A model of ``p_background(x | m)`` that draws features at given masses."""

    feature_names_: tuple[str, ...]

    def fit(self, train: Events, val: Events, *, random_state: int) -> Any:
        """Train on ``train`` (select on ``val``); returns the fitted model."""
        ...

    def sample(self, m: np.ndarray, *, seed: int | None = None) -> np.ndarray:
        """Features ``x ~ p(x | m)``, one row per mass in ``m``."""
        ...


@runtime_checkable
class DensityModel(BackgroundModel, Protocol):
    """A background model with a density ``log p(x | m)``."""

    def log_prob(self, x: np.ndarray, m: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class EventModel(Protocol):
    """A background model whose template is events of its own in the SR (its masses, or
    weighted simulated events) rather than features at the SR data's masses."""

    feature_names_: tuple[str, ...]

    def fit(self, train: Events, val: Events, *, random_state: int) -> Any: ...

    def sample_events(self, region: SignalRegion, n: int, *, seed: int | None = None) -> Events:
        """About ``n`` template events (label 0) in ``region``."""
        ...


@dataclass(frozen=True)
class ModelContext:
    """What a model is built for besides its settings: the SR it serves (``None``: every
    mass), where it trains, and what other models or samples it builds on."""

    region: SignalRegion | None = None
    device: str = "auto"
    checkpoint: str | None = None
    """A file for resumable training checkpoints (``None``: no checkpoint)."""
    progress: bool = False
    base: Any = None
    """The trained model of the method's base method (e.g. ``feta``'s ``sim-nf`` flow)."""
    simulation: Events | None = None
    """The whole simulation sample, for models that use it (``salad``)."""

    def training(self, config: TrainingConfig) -> TrainingConfig:
        """``config`` with this context's checkpoint and progress bar."""
        return dataclasses.replace(config, checkpoint_path=self.checkpoint, progress=self.progress)

    def needs_region(self, what: str) -> SignalRegion:
        """The SR, which ``what`` is trained for (an error without one)."""
        if self.region is None:
            raise InputError(f"{what} is trained per signal region: no region given")
        return self.region


class Configured(Generic[S]):
    """A model built from its settings (``SETTINGS()`` where none are given) and a
    :class:`ModelContext` (a default one where none is given)."""

    SETTINGS: ClassVar[type[Any]]

    def __init__(self, settings: S | None = None, context: ModelContext | None = None) -> None:
        self.settings: S = settings or self.SETTINGS()
        self.context = context or ModelContext()


def _with_overrides(settings: Any, overrides: Mapping[str, Any]) -> Any:
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if f.name == "training":
            given = {k: overrides[k] for k in TRAINING_OVERRIDES if k in overrides}
            changes[f.name] = dataclasses.replace(value, **given)
        elif dataclasses.is_dataclass(value):
            changes[f.name] = _with_overrides(value, overrides)
        elif f.name == "preprocessing" and "preprocessing" in overrides:
            changes[f.name] = overrides["preprocessing"]
    return dataclasses.replace(settings, **changes)


def preset_settings(presets: Mapping[str, S], model: ModelConfig, family: str) -> S:
    """The settings of ``[model] preset`` in a family's ``presets`` with the ``[model]``
    overrides applied: ``epochs`` / ``max_epochs`` / ``max_seconds`` to its ``training`` (a
    :class:`~resonant_ad.training.TrainingConfig`, at any depth of the settings),
    ``preprocessing`` to its ``preprocessing`` field. A preset given as a dict of keyword arguments
    takes
    every override as a key.
    """
    base = presets.get(model.preset)
    if base is None:
        raise InputError(f"[model] preset {model.preset!r}: {family} knows {sorted(presets)}")
    if isinstance(base, Mapping):
        return {**base, **model.overrides()}  # type: ignore[return-value,unused-ignore]
    return _with_overrides(base, model.overrides())


def _setting_value(where: str, key: str, value: Any, default: Any) -> Any:
    """``value`` of ``[where] key`` checked against the type of ``default``."""
    if isinstance(default, tuple) and isinstance(value, list):
        value = tuple(value)
    if default is None or isinstance(value, type(default)):
        ok = isinstance(value, bool) == isinstance(default, bool) or default is None
    else:
        ok = isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool)
        value = float(value) if ok else value
    if not ok:
        raise InputError(f"[{where}] {key} = {value!r}: expected {type(default).__name__}")
    return value


def replace_settings(base: S, given: Mapping[str, Any], where: str) -> S:
    """``base`` (a settings dataclass) with the keys of the config table ``[where]``
    replaced. A key must be a field of the settings and its value of the default's type (an
    integer for a float, a list for a tuple, a table for nested settings); the dataclass
    checks the values."""
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}  # type: ignore[arg-type]
    unknown = sorted(set(given) - set(fields))
    if unknown:
        raise InputError(f"unknown key(s) {unknown} in [{where}]; allowed: {sorted(fields)}")
    changes: dict[str, Any] = {}
    for key, value in given.items():
        default = fields[key]
        if dataclasses.is_dataclass(default) and isinstance(value, Mapping):
            changes[key] = replace_settings(default, value, f"{where}.{key}")
        else:
            changes[key] = _setting_value(where, key, value, default)
    return dataclasses.replace(base, **changes)  # type: ignore[type-var]


def settings_from_dict(cls: type[S], raw: Mapping[str, Any]) -> S:
    """The settings dataclass ``cls`` from its :func:`dataclasses.asdict` (nested settings
    rebuilt, lists back to tuples where the default is a tuple)."""
    kwargs: dict[str, Any] = {}
    defaults = cls()
    for f in dataclasses.fields(defaults):  # type: ignore[arg-type,unused-ignore]
        if f.name not in raw:
            continue
        value, default = raw[f.name], getattr(defaults, f.name)
        if dataclasses.is_dataclass(default) and isinstance(value, Mapping):
            value = settings_from_dict(type(default), value)
        elif isinstance(default, tuple) and isinstance(value, list):
            value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)


def sample_masses(
    m_sr: np.ndarray, n: int, rng: np.random.Generator, signal_region: SignalRegion
) -> np.ndarray:
    """``n`` masses from a Gaussian KDE of the SR data's masses ``m_sr``.

    Each draw is a resampled SR mass plus Gaussian noise of Silverman's bandwidth
    ``0.9 min(std, IQR / 1.34) n^(-1/5)``; draws that leave ``[lo, hi]`` are reflected back
    at the window edge, so the density keeps the SR shape without edge leakage.

    >>> m = sample_masses(np.linspace(3.3, 3.7, 101), 1000, np.random.default_rng(0),
    ...                   SignalRegion(3.3, 3.7))
    >>> bool(m.min() >= 3.3 and m.max() <= 3.7), len(m)
    (True, 1000)
    """
    m_sr = np.asarray(m_sr, dtype=np.float64).reshape(-1)
    m_sr = m_sr[signal_region.contains(m_sr)]
    if len(m_sr) < 2:
        raise InputError(f"{len(m_sr)} SR masses given: need at least two to sample from")
    if n < 0:
        raise InputError(f"number of template events must be non-negative, got {n}")
    h = silverman_bandwidth(m_sr)
    m = rng.choice(m_sr, size=n) + h * rng.standard_normal(n)
    lo, hi = signal_region.lo, signal_region.hi
    for _ in range(4):  # reflect at both edges; repeats only for draws wider than the window
        m = np.where(m < lo, 2 * lo - m, m)
        m = np.where(m > hi, 2 * hi - m, m)
    return np.clip(m, lo, hi)


def check_region(model: Any, region: SignalRegion, what: str) -> None:
    """Raise if ``model`` was trained for another SR than ``region`` (its ``signal_region_``;
    ``None`` or absent: a model of every mass)."""
    sr = getattr(model, "signal_region_", None)
    if sr is not None and (sr.lo, sr.hi) != (region.lo, region.hi):
        raise InputError(
            f"this {what} model was trained for {sr}, not {region}: train one per signal region"
        )


def draw_template(
    model: Any, region: SignalRegion, data: Events, n: int, seed: int, what: str
) -> Events:
    """``n`` template events (label 0) of ``model`` in ``region``, whose SR data are
    ``data``: the model's own events where it is an :class:`EventModel`, else masses drawn
    from the SR data (:func:`sample_masses`) and the model's features at them, the two
    seeded by the two seeds of ``np.random.SeedSequence(seed)``."""
    if hasattr(model, "sample_events"):
        events: Events = model.sample_events(region, n, seed=seed)
    else:
        mass_seed, model_seed = (int(s) for s in np.random.SeedSequence(seed).generate_state(2))
        masses = sample_masses(data.m, n, np.random.default_rng(mass_seed), region)
        x = model.sample(masses, seed=model_seed)
        events = Events(masses, x, np.zeros(n, dtype=np.int64), model.feature_names_)
    if events.feature_names != data.feature_names:
        raise InputError(
            f"{what}: template features {events.feature_names}, data {data.feature_names}"
        )
    return events
