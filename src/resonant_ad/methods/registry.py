"""The method registry: every way of looking for a signal in an SR, declared in one place.

A method is one module. It subclasses :class:`Method`, says what it trains and on which
events (:data:`TRAINS_ON`), whether it yields a background template or anomaly scores
(:data:`YIELDS`), how it is drawn, and registers an instance with :func:`register`. Config
validation, the CLI's choices, the report and the plots read this registry, and the engine
(:mod:`resonant_ad.search.engine`) turns every method into cached tasks, so a new method
touches no other file. The built-in methods are registered on first use; packages can add
theirs through the ``resonant_ad.methods`` entry-point group (each entry point names a
module that registers its methods when imported).

>>> get("sigma-context").trains_on, get("sigma-context").yields
('all-data', 'template')
>>> "iad" in names(scan=False) and "iad" not in names(scan=True)
True
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from resonant_ad.errors import InputError

if TYPE_CHECKING:
    from resonant_ad.config import StudyConfig
    from resonant_ad.data.events import Events
    from resonant_ad.data.regions import SignalRegion
    from resonant_ad.persistence import Persistent

__all__ = [
    "TRAINS_ON",
    "YIELDS",
    "BackgroundDensity",
    "FitInputs",
    "Method",
    "RegionInputs",
    "default_names",
    "get",
    "methods",
    "names",
    "register",
    "unregister",
]

log = logging.getLogger(__name__)

TRAINS_ON = ("all-data", "sidebands", "sr-data", "simulation", "nothing")
"""The events a method's model trains on: all data (every mass), the sidebands of each SR,
the data in each SR, a simulation sample (``[data] simulation``), or nothing (no model)."""
YIELDS = ("template", "scores")
"""What a method gives in an SR: background-template events, which the weakly supervised
classifier tells from the SR data, or anomaly scores of the test events directly."""

BUILTIN_MODULES = (
    "resonant_ad.methods.data",
    "resonant_ad.methods.cr",
    "resonant_ad.methods.sigma",
    "resonant_ad.methods.iad",
    "resonant_ad.methods.supervised",
    "resonant_ad.methods.cathode_nf",
    "resonant_ad.methods.cvae",
    "resonant_ad.methods.rad_ot",
    "resonant_ad.methods.ranode",
    "resonant_ad.methods.sim_nf",
    "resonant_ad.methods.feta",
    "resonant_ad.methods.salad",
    "resonant_ad.methods.curtains_f4f",
)
"""Modules of the methods that come with the package, in the order reports list them."""
ENTRY_POINT_GROUP = "resonant_ad.methods"


@dataclass(frozen=True)
class BackgroundDensity:
    """``log p_B(x | m) + log p(m)`` of an SR's events under a background model (the
    density methods' fixed background): the SR events of the training and validation
    splits (in the order :class:`FitInputs` gives them) and the test events."""

    method: str
    """The background method (e.g. ``sigma-context``)."""
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    seconds: float = 0.0
    """What evaluating the densities took."""
    reference: Events | None = None
    """Events drawn from the background model in the SR (``[density] tilt > 0`` only): they
    normalise the tilt of ``p_B`` that the density methods fit as a nuisance."""
    correction: dict[str, float] | None = None
    """With ``[density] correction = "sidebands"``: the correction's diagnostics
    (:meth:`~resonant_ad.detect.correction.SidebandCorrection.diagnostics`)."""
    log_mass: tuple[np.ndarray, np.ndarray] | None = None
    """``log p(m)`` of the training and validation events (the part of ``train`` and
    ``val`` that is the mass density; ``None`` in densities cached before it was kept)."""


@dataclass(frozen=True)
class FitInputs:
    """What :meth:`Method.fit` gets: the events selected by the method's ``trains_on``."""

    train: Events
    val: Events
    region: SignalRegion | None
    """The SR the model is for (``None`` for models of all data or of simulation)."""
    config: StudyConfig
    seed: int
    checkpoint: Path | None = None
    """A file for resumable training checkpoints (``None``: do not checkpoint)."""
    progress: bool = False
    background: BackgroundDensity | None = None
    """The background densities of ``train`` and ``val`` (methods with a
    :meth:`Method.background_method` only)."""
    base: Any = None
    """The trained model of the method's :meth:`Method.base_method` (methods with a base
    only; e.g. ``feta`` gets the ``sim-nf`` flow of the simulation)."""
    simulation: Events | None = None
    """The whole simulation sample (``[data] simulation``, every mass) for methods with
    :attr:`Method.uses_simulation` (e.g. ``salad``, which reweights it); ``None`` for the
    others."""

    def model_params(self) -> dict[str, Any]:
        """The ``[model]`` overrides with the run's device, seed, progress and checkpoint."""
        return {
            **self.config.model.overrides(),
            "device": self.config.device,
            "random_state": self.seed,
            "progress": self.progress,
            "checkpoint_path": None if self.checkpoint is None else str(self.checkpoint),
        }


@dataclass(frozen=True)
class RegionInputs:
    """What a method gets in one SR: the observed SR data and, for yardsticks, the truth."""

    region: SignalRegion
    data: Events
    """The observed events in the SR (background and injected signal, labels unused)."""
    test: Events
    """The labelled test events every method is scored on."""
    config: StudyConfig
    seed: int
    truth: Events | None = None
    """True SR background that no method sees in a real search (the idealized yardstick)."""
    signal: Events | None = None
    """Signal events in the SR kept out of the data (the supervised yardstick)."""
    background: BackgroundDensity | None = None
    """The background densities of the test events (methods with a
    :meth:`Method.background_method` only)."""

    def classifier(self, **kwargs: Any) -> Any:
        """A new, unfitted ensemble of ``[classifier]`` seeded with ``seed`` (``kwargs``
        override its settings, e.g. ``n_folds``)."""
        from resonant_ad.detect.classifier import make_ensemble

        c = self.config.classifier
        settings = {"n_estimators": c.ensemble_size, "random_state": self.seed, **kwargs}
        return make_ensemble(c.kind, **settings)


def _option_value(method: str, key: str, value: Any, default: Any) -> Any:
    """``value`` of ``[method.METHOD] key`` checked against the type of ``default``."""
    if isinstance(default, tuple) and isinstance(value, list):
        value = tuple(value)
    if default is None or isinstance(value, type(default)):
        ok = isinstance(value, bool) == isinstance(default, bool) or default is None
    else:
        ok = isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool)
        value = float(value) if ok else value
    if not ok:
        raise InputError(f"[method.{method}] {key} = {value!r}: expected {type(default).__name__}")
    return value


class Method:
    """One method of the study. Subclass it, set the attributes, implement what applies.

    ``trains_on`` (one of :data:`TRAINS_ON`) picks the events :meth:`fit` gets; ``yields``
    (one of :data:`YIELDS`) says whether :meth:`template` or :meth:`scores` is called in
    each SR. Methods with the same ``model_id`` share one trained model (SIGMA's templates
    share ``v_data``); ``needs_truth`` marks a yardstick that uses labels or the true
    background (it cannot run in a search on real data, so the scan leaves it out).
    ``default``: part of a study whose config names no methods. ``has_density``: the
    method's model gives the exact ``log p_B(x | m)`` in an SR (:meth:`log_density`); a
    method whose :meth:`background_method` names such a method gets those densities of its
    events in :class:`FitInputs` and :class:`RegionInputs` (``background``), computed once
    per SR and model and cached. A method whose :meth:`base_method` names another method
    builds on that method's trained model: the engine trains the base as it trains every
    model (once per its own ``trains_on``, cached and shared) and hands it to :meth:`fit`
    as ``inputs.base``; the dependent model's cache key holds the base model's.
    ``uses_simulation``: besides the events of its ``trains_on``, :meth:`fit` gets the
    whole simulation sample as ``inputs.simulation`` (its fingerprint is part of the model's
    cache key); the study skips the method without ``[data] simulation``.
    ``options_class``: the method's own settings, set from a study's ``[method.NAME]``
    table (:meth:`options`; include them in :meth:`model_settings`).
    """

    name: str = ""
    label: str = ""
    color: str = ""
    """A matplotlib colour (empty: the plots pick one)."""
    linestyle: str = "-"
    trains_on: str = "nothing"
    yields: str = "template"
    needs_truth: bool = False
    model_id: str | None = None
    default: bool = False
    has_density: bool = False
    uses_simulation: bool = False
    description: str = ""
    model_class: type[Persistent] | None = None
    """The class of the trained model when it saves and loads itself
    (:class:`~resonant_ad.persistence.Persistent`); ``None``: pickled with torch."""
    cpu_budget: float | None = None
    """Seconds per SR a template method may take on two CPU cores in an SR of the Pythia dev
    sample's size (about 55k sideband and 29k SR events, every network at 40 epochs of the
    ``cpu`` preset): making the template plus, for a model trained per SR, its training.
    ``benchmarks/bench_templates.py`` checks it (``None``: no budget stated)."""

    @property
    def in_scan(self) -> bool:
        """Whether the sliding-window scan can use it: a template from the data alone."""
        return self.yields == "template" and not self.needs_truth

    @property
    def shared_model_id(self) -> str:
        """The key of its trained model: ``model_id``, else the method's own name."""
        return self.model_id or self.name

    options_class: type | None = None
    """The frozen dataclass of the method's own settings, which a study sets in its
    ``[method.NAME]`` table (``None``: the method has none); see :meth:`options`."""

    # ------------------------------------------------------------------ the model
    def default_options(self, config: StudyConfig) -> Any:
        """The method's settings before the ``[method.NAME]`` table: ``options_class()``."""
        if self.options_class is None:
            raise InputError(f"method {self.name!r} has no settings of its own")
        return self.options_class()

    def options(self, config: StudyConfig) -> Any:
        """The method's settings in this study: :meth:`default_options` with the keys of
        the config's ``[method.NAME]`` table replaced. A key must be a field of
        ``options_class`` and its value of the default's type (an integer for a float, a
        list for a tuple); the dataclass checks the values."""
        base = self.default_options(config)
        given = dict(config.method.get(self.name, {}))
        fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
        unknown = sorted(set(given) - set(fields))
        if unknown:
            raise InputError(
                f"unknown key(s) {unknown} in [method.{self.name}]; allowed: {sorted(fields)}"
            )
        for key, value in given.items():
            given[key] = _option_value(self.name, key, value, fields[key])
        return dataclasses.replace(base, **given)

    def model_settings(self, config: StudyConfig) -> Any:
        """The settings the trained model depends on (part of its cache key)."""
        return (config.model.preset, config.model.overrides())

    def fit(self, inputs: FitInputs) -> Any:
        """Train the method's model on ``inputs.train`` (validated on ``inputs.val``)."""
        raise NotImplementedError(f"method {self.name!r} trains nothing")

    def save_model(self, model: Any, path: Path) -> None:
        """Write a fitted model to ``path``: its own :meth:`~Persistent.save` where the
        method names its ``model_class``, else pickled with torch."""
        if self.model_class is not None:
            model.save(path)
            return
        import torch

        torch.save(model, path)

    def load_model(self, path: Path, device: str = "auto") -> Any:
        """Read a model written by :meth:`save_model`, onto ``device``."""
        if self.model_class is not None:
            return self.model_class.load(path, device)
        import torch

        return torch.load(path, map_location="cpu", weights_only=False)

    def background_method(self, config: StudyConfig) -> str | None:
        """The method whose density is this method's fixed background (``None``: none)."""
        return None

    def base_method(self, config: StudyConfig) -> str | None:
        """The method whose trained model :meth:`fit` builds on (``inputs.base``; ``None``:
        none). The study skips this method where the base cannot run (e.g. a base that
        trains on simulation without ``[data] simulation``)."""
        return None

    def log_density(self, model: Any, inputs: RegionInputs, events: Events) -> np.ndarray:
        """``log p_B(x | m)`` of ``events`` in ``inputs.region`` (methods with a density)."""
        raise NotImplementedError(f"method {self.name!r} has no density")

    # ------------------------------------------------------------------ per SR
    def missing(self, inputs: RegionInputs) -> str | None:
        """Why the method cannot run on ``inputs`` (``None``: it can); the study skips it."""
        return None

    def template_settings(self, config: StudyConfig) -> Any:
        """The settings a template depends on beyond its model (part of its cache key)."""
        return None

    def template(self, model: Any, inputs: RegionInputs, n: int) -> Events:
        """``n`` background-template events (label 0) at masses of the SR data."""
        raise NotImplementedError(f"method {self.name!r} yields no template")

    def scores(self, model: Any, inputs: RegionInputs) -> np.ndarray:
        """Anomaly scores of ``inputs.test`` (higher: more signal-like)."""
        raise NotImplementedError(f"method {self.name!r} yields no scores")

    def __repr__(self) -> str:
        return f"<method {self.name!r}: trains on {self.trains_on}, yields {self.yields}>"


_REGISTRY: dict[str, Method] = {}
_loaded = False


def _check(method: Method) -> None:
    if not isinstance(method, Method):
        raise InputError(f"{method!r} is not a resonant_ad.methods.Method")
    if not method.name or not isinstance(method.name, str):
        raise InputError(f"{method!r}: a method needs a name")
    if method.trains_on not in TRAINS_ON:
        raise InputError(f"method {method.name!r}: trains_on must be one of {TRAINS_ON}")
    if method.yields not in YIELDS:
        raise InputError(f"method {method.name!r}: yields must be one of {YIELDS}")


def register(method: Method, *, replace: bool = False) -> Method:
    """Add ``method`` under its name (``replace``: overwrite one of the same name)."""
    _check(method)
    if method.name in _REGISTRY and not replace:
        raise InputError(f"a method named {method.name!r} is already registered")
    _REGISTRY[method.name] = method
    return method


def unregister(name: str) -> None:
    """Remove the method ``name`` (no error if it is not registered)."""
    _REGISTRY.pop(name, None)


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as err:  # a broken plugin must not break the built-in methods
            log.warning("method plugin %s could not be loaded: %s", ep.value, err)


def methods() -> tuple[Method, ...]:
    """Every registered method, built-ins first, in registration order."""
    _load()

    def order(m: Method) -> int:
        module = type(m).__module__
        return BUILTIN_MODULES.index(module) if module in BUILTIN_MODULES else len(BUILTIN_MODULES)

    return tuple(sorted(_REGISTRY.values(), key=order))


def get(name: str) -> Method:
    """The method registered as ``name``."""
    _load()
    if name not in _REGISTRY:
        raise InputError(f"unknown method {name!r}; choose from {list(names())}")
    return _REGISTRY[name]


def names(*, scan: bool | None = None, yields: str | None = None) -> tuple[str, ...]:
    """Names of the registered methods (``scan``: only those the scan can or cannot use)."""
    return tuple(
        m.name
        for m in methods()
        if (scan is None or m.in_scan == scan) and (yields is None or m.yields == yields)
    )


def default_names() -> tuple[str, ...]:
    """The methods of a study whose config names none."""
    return tuple(m.name for m in methods() if m.default)
