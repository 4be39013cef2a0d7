"""The method registry: every way of looking for a signal in an SR, declared in one place.

A method is one module. It subclasses :class:`Method` and declares what it trains and on
which events (:data:`TRAINS_ON`), whether it yields a background template or anomaly scores
(:data:`YIELDS`), how it is drawn, its settings and the class of its background model
(:mod:`resonant_ad.models`), and registers an instance with :func:`register`. The engine
(:mod:`resonant_ad.search.engine`) does the rest once for every method: it selects the
training events, builds and trains the model, keys and stores it, checks that a model of
one SR serves no other, draws the template's masses and hands only yardsticks the labels.
Config validation, the CLI's choices, the report and the plots read this registry, so a new
method touches no other file. The built-in methods are registered on first use; packages can add
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
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from resonant_ad.errors import InputError
from resonant_ad.models.base import (
    ModelContext,
    check_region,
    draw_template,
    preset_settings,
    replace_settings,
)
from resonant_ad.persistence import Persistent

if TYPE_CHECKING:
    from resonant_ad.config import StudyConfig
    from resonant_ad.data.events import Events
    from resonant_ad.methods.inputs import FitInputs, RegionInputs

__all__ = [
    "TRAINS_ON",
    "YIELDS",
    "Method",
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
    "resonant_ad.methods.cwola",
    "resonant_ad.methods.transit",
)
"""Modules of the methods that come with the package, in the order reports list them."""
ENTRY_POINT_GROUP = "resonant_ad.methods"


class Method:
    """One method of the study: a declaration the engine turns into tasks. Subclass it, set
    the attributes, override a hook only where the method does more than the engine.

    ``trains_on`` (one of :data:`TRAINS_ON`) picks the events its model trains on;
    ``yields`` (one of :data:`YIELDS`) says whether :meth:`template` or :meth:`scores` is
    called in each SR. ``model_class``: its background model (:mod:`resonant_ad.models`),
    built by :meth:`build` from the method's settings and a
    :class:`~resonant_ad.models.base.ModelContext`, trained by :meth:`fit`, sampled by
    :meth:`template` (masses drawn from the SR data, the SR checked) and stored by
    :meth:`save_model`. The settings (:meth:`settings`, part of the model's cache key with
    ``revision``) are the family's ``presets`` at ``[model] preset`` with the ``[model]``
    overrides, or ``options_class()``; where ``options_class`` is set, a study's
    ``[method.NAME]`` table replaces their fields (:meth:`options`).

    Methods with the same ``model_id`` share one trained model (SIGMA's templates share
    ``v_data``); ``needs_truth`` marks a yardstick, the only kind of method that sees labels,
    the true background or the signal (it cannot run in a search on real data, so the scan
    leaves it out). ``default``: part of a study whose config names no methods.
    ``has_density``: the model gives the exact ``log p_B(x | m)`` in an SR
    (:meth:`log_density`); a method whose :meth:`background_method` names such a method gets
    those densities of its events in :class:`~resonant_ad.methods.inputs.FitInputs` and
    :class:`~resonant_ad.methods.inputs.RegionInputs` (``background``), computed once per SR
    and model and cached. ``base``: the method whose trained model this one builds on; the
    engine trains the base as it trains every model (once per its own ``trains_on``, cached
    and shared) and hands it over as ``inputs.base``; the dependent model's cache key holds
    the base model's.
    ``uses_simulation``: the model also gets the whole simulation sample (its fingerprint
    is part of the model's cache key); the study skips the method without
    ``[data] simulation``.
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
    base: str | None = None
    description: str = ""
    model_class: type | None = None
    """The class of the trained model: built from the settings and a context, saved and
    loaded by itself where it is :class:`~resonant_ad.persistence.Persistent`, else pickled
    with torch (``None``: the method overrides :meth:`fit`, or trains nothing)."""
    presets: Mapping[str, Any] | None = None
    """The model family's settings per ``[model] preset`` (``None``: ``options_class()``)."""
    options_class: type | None = None
    """The frozen dataclass of the method's settings that a study sets in its
    ``[method.NAME]`` table (``None``: the table is refused)."""
    revision: int = 0
    """Part of the model's cache key: raised when the same settings train differently."""
    cpu_budget: float | None = None
    """Seconds per SR a template method may take on two CPU cores in an SR of the Pythia dev
    sample's size (about 55k sideband and 29k SR events, every network at 40 epochs of the
    ``cpu`` preset): making the template plus, for a model trained per SR, its training.
    ``benchmarks/templates/compare.py`` checks it (``None``: no budget stated)."""

    @property
    def in_scan(self) -> bool:
        """Whether the sliding-window scan can use it: a template from the data alone (no
        truth, no simulation, for itself or its base)."""
        return self.yields == "template" and not self.needs_truth and not self.reads_simulation

    @property
    def reads_simulation(self) -> bool:
        """Whether it, or the method it builds on, trains on or uses the simulation."""
        if self.uses_simulation or self.trains_on == "simulation":
            return True
        return self.base is not None and get(self.base).reads_simulation

    @property
    def shared_model_id(self) -> str:
        """The key of its trained model: ``model_id``, else the method's own name."""
        return self.model_id or self.name

    # ------------------------------------------------------------------ settings
    def default_options(self, config: StudyConfig) -> Any:
        """The settings before the ``[method.NAME]`` table: the family's ``presets`` at
        ``[model] preset`` with the ``[model]`` overrides, else ``options_class()``."""
        if self.presets is not None:
            return preset_settings(self.presets, config.model, self.name)
        if self.options_class is None:
            raise InputError(f"method {self.name!r} has no settings of its own")
        return self.options_class()

    def options(self, config: StudyConfig) -> Any:
        """The method's settings in this study: :meth:`default_options` with the keys of the
        config's ``[method.NAME]`` table replaced (see
        :func:`~resonant_ad.models.base.replace_settings`)."""
        given = config.method.get(self.name, {})
        if self.options_class is None:
            if given:
                raise InputError(f"method {self.name!r} has no settings of its own")
            return self.default_options(config)
        return replace_settings(self.default_options(config), given, f"method.{self.name}")

    def settings(self, config: StudyConfig) -> Any:
        """The settings the model is built from (``None``: the method has none)."""
        if self.presets is None and self.options_class is None:
            return None
        return self.options(config)

    def model_settings(self, config: StudyConfig) -> Any:
        """What the trained model depends on besides its events (part of its cache key):
        the model's class, ``revision`` and settings; for a method without a model class,
        the ``[model]`` preset and overrides."""
        if self.model_class is None:
            return (config.model.preset, config.model.overrides())
        settings = self.settings(config)
        if dataclasses.is_dataclass(settings) and not isinstance(settings, type):
            settings = dataclasses.asdict(settings)
        return (self.model_class.__name__, self.revision, settings)

    # ------------------------------------------------------------------ the model
    def build(self, settings: Any, context: ModelContext) -> Any:
        """The unfitted model: ``model_class(settings, context)``."""
        assert self.model_class is not None
        return self.model_class(settings, context)

    def fit(self, inputs: FitInputs) -> Any:
        """The model built from the study's settings, trained on ``inputs.train`` (validated
        on ``inputs.val``, seeded by ``inputs.seed``); a model of one SR keeps it as its
        ``signal_region_``."""
        if self.model_class is None:
            raise NotImplementedError(f"method {self.name!r} trains nothing")
        model = self.build(self.settings(inputs.config), inputs.context())
        model = model.fit(inputs.train, inputs.val, random_state=inputs.seed)
        if inputs.region is not None:
            model.signal_region_ = inputs.region
        return model

    def save_model(self, model: Any, path: Path) -> None:
        """Write a fitted model to ``path``: its own ``save`` where it is
        :class:`~resonant_ad.persistence.Persistent`, else pickled with torch."""
        if isinstance(model, Persistent):
            model.save(path)
            return
        import torch

        torch.save(model, path)

    def load_model(self, path: Path, device: str = "auto") -> Any:
        """Read a model written by :meth:`save_model`, onto ``device``."""
        cls = self.model_class
        if cls is not None and issubclass(cls, Persistent):
            return cls.load(path, device)
        import torch

        return torch.load(path, map_location="cpu", weights_only=False)

    def refresh(self, model: Any, inputs: FitInputs) -> Any | None:
        """A stored model brought up to the settings of ``inputs`` that need no training
        (``None``: it is up to date; the default)."""
        return None

    def background_method(self, config: StudyConfig) -> str | None:
        """The method whose density is this method's fixed background (``None``: none)."""
        return None

    def base_method(self, config: StudyConfig) -> str | None:
        """The method whose trained model :meth:`fit` builds on (``inputs.base``: its
        ``base``). The study skips this method where the base cannot run (e.g. a base that
        trains on simulation without ``[data] simulation``)."""
        return self.base

    # ------------------------------------------------------------------ per SR
    def missing(self, inputs: RegionInputs) -> str | None:
        """Why the method cannot run on ``inputs`` (``None``: it can); the study skips it."""
        return None

    def template_settings(self, config: StudyConfig) -> Any:
        """The settings a template depends on beyond its model (part of its cache key)."""
        return None

    def sampler(self, model: Any, inputs: RegionInputs) -> Any:
        """The model as it samples (and evaluates) in ``inputs.region``: the model itself,
        unless the method views it per SR (SIGMA's interpolations)."""
        return model

    def template(self, model: Any, inputs: RegionInputs, n: int) -> Events:
        """``n`` background-template events (label 0) of the model in ``inputs.region``
        (:func:`~resonant_ad.models.base.draw_template`), once the model is checked to
        serve that SR."""
        if model is None:
            raise NotImplementedError(f"method {self.name!r} yields no template")
        check_region(model, inputs.region, self.name)
        view = self.sampler(model, inputs)
        return draw_template(view, inputs.region, inputs.data, n, inputs.seed, self.name)

    def log_density(self, model: Any, inputs: RegionInputs, events: Events) -> np.ndarray:
        """``log p_B(x | m)`` of ``events`` in ``inputs.region`` (methods with a density)."""
        if not self.has_density:
            raise NotImplementedError(f"method {self.name!r} has no density")
        check_region(model, inputs.region, self.name)
        return np.asarray(self.sampler(model, inputs).log_prob(events.x, events.m))

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
