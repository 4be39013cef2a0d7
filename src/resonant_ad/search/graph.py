"""The model tasks of a search's graph, which the study and the scan both add.

:func:`fit_inputs` selects the events a method's model trains on, :func:`model_task` adds
the task that trains it (keyed by what the model depends on, so a model is trained once and
shared by every piece that uses it) and :class:`Fingerprints` fingerprints each events
object once for those keys.
"""

from __future__ import annotations

from typing import Any

from resonant_ad.config import StudyConfig
from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion
from resonant_ad.errors import InputError
from resonant_ad.methods.inputs import FitInputs
from resonant_ad.methods.registry import Method
from resonant_ad.search.cache import events_fingerprint, fingerprint
from resonant_ad.search.engine import Graph, Ref
from resonant_ad.search.tasks import model_path, train_task

__all__ = ["Fingerprints", "fit_inputs", "model_task"]


def fit_inputs(
    method: Method,
    train: Events,
    val: Events,
    region: SignalRegion,
    config: StudyConfig,
    seed: int,
    *,
    simulation: Events | None = None,
    progress: bool = False,
    blind: bool | None = None,
) -> FitInputs | None:
    """The events ``method``'s model trains on for ``region``, chosen by its ``trains_on``
    from the data's ``train``/``val`` split or the ``simulation`` sample (``None``: the
    method trains nothing); a method that
    :attr:`~resonant_ad.methods.registry.Method.uses_simulation` gets the whole
    ``simulation`` too. ``blind`` (default: unless the method is a yardstick): every label
    of the data 0."""
    if method.trains_on == "nothing":
        return None
    if not method.needs_truth if blind is None else blind:
        train, val = train.with_label(0), val.with_label(0)
    if (method.trains_on == "simulation" or method.uses_simulation) and simulation is None:
        what = "trains on" if method.trains_on == "simulation" else "uses"
        raise InputError(f"method {method.name!r} {what} simulation: set [data] simulation")
    sim = simulation if method.uses_simulation else None
    if method.trains_on == "all-data":
        return FitInputs(train, val, None, config, seed, progress=progress, simulation=sim)
    if method.trains_on == "simulation":
        assert simulation is not None
        n_val = round(0.15 * len(simulation))
        sim_train, sim_val = (
            simulation.select(slice(n_val, None)),
            simulation.select(slice(0, n_val)),
        )
        return FitInputs(sim_train, sim_val, None, config, seed, progress=progress, simulation=sim)
    select = region.sideband if method.trains_on == "sidebands" else region.contains
    return FitInputs(
        train.select(select(train.m)),
        val.select(select(val.m)),
        region,
        config,
        seed,
        progress=progress,
        simulation=sim,
    )


def model_task(
    graph: Graph,
    root: str,
    method: Method,
    fit: FitInputs,
    fp: Any,
    density: tuple[Ref, str] | None = None,
    base: tuple[Ref, str] | None = None,
) -> tuple[Ref, str]:
    """Add the task training ``method`` on ``fit`` to ``graph``: its ref and cache key.

    ``fp``: the events fingerprint function (memoised by the caller). ``density``: the
    task (and key) of the background densities of ``fit``'s events, for density methods.
    ``base``: the task (and key) of the trained model ``method`` builds on (its
    ``base_method``); the base model's key is part of this model's, and so is the
    fingerprint of ``fit.simulation`` where the method uses the simulation.
    """
    key = fingerprint(
        method.shared_model_id,
        method.model_settings(fit.config),
        fp(fit.train),
        fp(fit.val),
        None if fit.region is None else (fit.region.lo, fit.region.hi),
        fit.seed,
        None if density is None else density[1],
        *(() if base is None else (("base", base[1]),)),
        *(() if fit.simulation is None else (("simulation", fp(fit.simulation)),)),
    )
    name = f"{method.shared_model_id}-{key}"
    fit_ref = graph.input(f"fit-{name}", fit)
    extra: tuple[Ref | None, ...] = () if density is None else (density[0],)
    if base is not None:
        extra = (None if density is None else density[0], base[0])
    path = model_path(root, name)
    return graph.task(f"model-{name}", train_task, path, method, fit_ref, *extra), key


class Fingerprints:
    """:func:`events_fingerprint` memoised per ``Events`` object (the objects are kept, so
    an id is never reused while the memo lives)."""

    def __init__(self) -> None:
        self._fps: dict[int, tuple[Events, str]] = {}

    def __call__(self, ev: Events | None) -> str | None:
        if ev is None:
            return None
        if id(ev) not in self._fps:
            self._fps[id(ev)] = (ev, events_fingerprint(ev))
        return self._fps[id(ev)][1]
