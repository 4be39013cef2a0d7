"""The graph of a study: the tasks of every method for one injection in one SR.

:class:`StudyBuilder` adds to one :class:`~resonant_ad.search.engine.Graph` each method's
trained model (through :func:`~resonant_ad.search.graph.model_task`; a method with a
``base_method`` gets that method's model, trained first), the background densities of the
density methods, its template or scores in the SR, the weakly supervised classifier's test
scores and, where asked for, the validation windows (the task functions:
:mod:`resonant_ad.search.tasks`). Every task is keyed by what it depends on, so the pieces
that share a model, a template or a density share one task; every events object is
fingerprinted once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict
from pathlib import Path
from typing import Any

from resonant_ad.config import StudyConfig
from resonant_ad.data.copies import copy_groups
from resonant_ad.data.events import Events
from resonant_ad.data.injection import Injection
from resonant_ad.data.regions import SignalRegion, near_sidebands
from resonant_ad.density.background import REFERENCE_FACTOR, background_density
from resonant_ad.errors import InputError
from resonant_ad.methods.inputs import FitInputs, RegionInputs
from resonant_ad.methods.registry import Method, get
from resonant_ad.search.cache import fingerprint
from resonant_ad.search.engine import Graph, Ref
from resonant_ad.search.graph import Fingerprints, fit_inputs, model_task
from resonant_ad.search.inputs import StudyInputs
from resonant_ad.search.seeds import Stream, stream_seed
from resonant_ad.search.tasks import (
    classify_task,
    method_scores_task,
    template_task,
    validation_task,
)

__all__ = ["StudyBuilder"]


class StudyBuilder:
    """Adds a study's tasks to a graph, computing each events fingerprint once."""

    def __init__(self, config: StudyConfig, inputs: StudyInputs, root: Path, progress: bool):
        self.config, self.inputs, self.root, self.progress = config, inputs, str(root), progress
        self.graph = Graph()
        self.fp = Fingerprints()
        self._regions: dict[int, tuple[RegionInputs, Ref]] = {}
        self._blind: dict[int, tuple[RegionInputs, RegionInputs]] = {}
        self._fits: dict[tuple[Any, ...], tuple[Injection, FitInputs | None]] = {}

    def blind(self, region: RegionInputs) -> RegionInputs:
        """What a method that is not a yardstick sees of ``region``
        (:meth:`~resonant_ad.methods.inputs.RegionInputs.blind`), made once per region."""
        if id(region) not in self._blind:
            blind = region.blind()
            self._blind[id(region)] = (region, blind)
            self._blind[id(blind)] = (blind, blind)
        return self._blind[id(region)][1]

    def region(self, region: RegionInputs) -> Ref:
        """One input node per ``RegionInputs`` (sent to the workers once, however many of
        the region's tasks use it)."""
        if id(region) not in self._regions:
            ref = self.graph.input(f"region-{len(self._regions)}", region)
            self._regions[id(region)] = (region, ref)
        return self._regions[id(region)][1]

    def model(
        self,
        method: Method,
        inj: Injection,
        region: SignalRegion,
        density: tuple[Ref, str] | None = None,
    ) -> tuple[Ref | None, str | None]:
        """The task of ``method``'s trained model for ``region``, and its key (with the
        task of its base model, trained first, where it has a ``base_method``)."""
        fit = self.fit_inputs(method, inj, region)
        if fit is None:
            return None, None
        base = self.base(method, inj, region)
        return model_task(self.graph, self.root, method, fit, self.fp, density, base)

    def base(self, method: Method, inj: Injection, region: SignalRegion) -> tuple[Ref, str] | None:
        """The task (and key) of the trained model ``method`` builds on (``None``: it has
        no ``base_method``): the base method's own model task, so it is trained once per
        its ``trains_on`` (once per study for simulation) and shared."""
        name = method.base_method(self.config)
        if name is None:
            return None
        ref, key = self.model(get(name), inj, region)
        if ref is None or key is None:
            raise InputError(f"{method.name}: its base method {name!r} trains no model")
        return ref, key

    def missing(self, method: Method, region: RegionInputs) -> str | None:
        """Why ``method`` cannot run in ``region`` (``None``: it can): its own
        :meth:`~resonant_ad.methods.registry.Method.missing`, or a base method that cannot
        run (one that trains on simulation without ``[data] simulation``), or no
        simulation for a method that uses it."""
        reason = method.missing(region)
        if not reason and method.uses_simulation and self.inputs.simulation is None:
            reason = "it uses the simulation: set [data] simulation"
        name = method.base_method(self.config)
        if reason or name is None:
            return reason
        base = get(name)
        if base.trains_on == "simulation" and self.inputs.simulation is None:
            return f"its base method {name!r} trains on simulation: set [data] simulation"
        why = self.missing(base, region)
        return None if why is None else f"its base method {name!r} cannot run: {why}"

    def fit_inputs(
        self, method: Method, inj: Injection, region: SignalRegion, blind: bool | None = None
    ) -> FitInputs | None:
        """``fit_inputs`` of ``method``, made once per injection, region, ``trains_on`` and
        sight of the labels (``blind``, default: unless the method is a yardstick): methods
        (and the background densities) that train on the same events share one
        ``FitInputs``, so its events are selected and fingerprinted once. The simulation is
        the same for every injection and region: its ``FitInputs`` (seeded by the study's
        seed) is made once, so a model of the simulation trains once per study. (Methods
        that use the simulation beside their events get a ``FitInputs`` of their own.)"""
        simulated = method.trains_on == "simulation"
        blind = not method.needs_truth if blind is None else blind
        key = (
            ("simulation", method.uses_simulation)
            if simulated
            else (id(inj), region, method.trains_on, method.uses_simulation, blind)
        )
        if key not in self._fits:
            fit = fit_inputs(
                method,
                inj.train,
                inj.val,
                region,
                self.config,
                stream_seed(self.config.seed if simulated else inj.seed, Stream.MODEL),
                simulation=self.inputs.simulation,
                progress=self.progress,
                blind=blind,
            )
            self._fits[key] = (inj, fit)  # the injection is kept: its id is never reused
        return self._fits[key][1]

    def density(self, method: Method, inj: Injection, region: RegionInputs) -> tuple[Ref, str]:
        """The task of the background densities ``method`` needs in ``region`` (its SR
        training, validation and test events under ``method.background_method``), and its
        key: computed once per background model and events, whichever methods use it."""
        name = method.background_method(self.config)
        assert name is not None
        background = get(name)
        if not background.has_density:
            raise InputError(f"{method.name}: the background {name!r} has no density")
        region = self.blind(region)  # the densities need no labels: one task for all
        fit = self.fit_inputs(method, inj, region.region, blind=True)
        assert fit is not None
        bg_model, bg_key = self.model(background, inj, region.region)
        sr = region.region
        d = self.config.density
        sidebands: tuple[Events, Events] | None = None
        settings: tuple[Any, ...] = ()  # of the correction and the mass density, in the key
        if d.correction == "sidebands":
            sidebands = (
                near_sidebands(inj.train, sr, d.correction_width),
                near_sidebands(inj.val, sr, d.correction_width),
            )
            settings = (
                ("correction", d.correction),
                (d.correction_width, d.correction_members, d.correction_samples),
                self.fp(sidebands[0]),
                self.fp(sidebands[1]),
            )
            if copy_groups(sidebands[0].m, sidebands[0].x) is not None:
                # a replica's copies share the ratio classifier's folds (since 2026-12-07):
                # densities stored before were corrected with the copies split
                settings += (("copies", "grouped"),)
        mass_sidebands: Events | None = None
        if d.mass == "sidebands":
            mass_sidebands = near_sidebands(inj.data, sr, d.mass_width)
            settings += (("mass", d.mass, d.mass_width), self.fp(mass_sidebands))
        key = fingerprint(
            "density",
            *self._sampler_key(background, bg_key),
            (d.solver, d.solver_steps),
            *(() if d.tilt == 0 else (("reference", REFERENCE_FACTOR),)),
            (sr.lo, sr.hi),
            self.fp(fit.train),
            self.fp(fit.val),
            self.fp(region.data),
            self.fp(region.test),
            *settings,
        )
        events = self.graph.input(f"density-events-{key}", (fit.train, fit.val))
        ref = self.graph.task(
            f"density-{key}",
            background_density,
            self.root,
            key,
            background,
            bg_model,
            self.region(region),
            events,
            None if sidebands is None else self.graph.input(f"density-sb-{key}", sidebands),
            None
            if mass_sidebands is None
            else self.graph.input(f"density-mass-{key}", mass_sidebands),
        )
        return ref, key

    def _sampler_key(self, method: Method, model_key: str | None) -> tuple[Any, ...]:
        """What ``method``'s view of its trained model (``model_key``) in an SR depends on,
        in the key of every task that samples it or evaluates its density: the method, the
        model and the method's template settings."""
        return (method.name, model_key, method.template_settings(self.config))

    def template(
        self,
        method: Method,
        model: Ref | None,
        model_key: str | None,
        region: RegionInputs,
        cap: int | None = None,
    ) -> tuple[Ref, str]:
        """The task of ``method``'s template in ``region.region``, and its key: of
        ``oversampling`` times the SR data's events, at most ``cap``."""
        n = self.config.classifier.oversampling * len(region.data)
        n = n if cap is None else min(n, cap)
        sr = region.region
        key = fingerprint(
            "template",
            *self._sampler_key(method, model_key),
            (sr.lo, sr.hi),
            n,
            self.fp(region.data),
            self.fp(region.truth) if method.needs_truth else None,
            region.seed,
        )
        region_ref = self.region(region)
        ref = self.graph.task(
            f"template-{key}", template_task, self.root, key, method, model, region_ref, n
        )
        return ref, key

    def classified(self, template: Ref, t_key: str, region: RegionInputs) -> Ref:
        """The task of the weakly supervised classifier's test scores: SR data vs template."""
        key = fingerprint(
            "classify",
            t_key,
            asdict(self.config.classifier),
            self.fp(region.data),
            self.fp(region.test),
            region.seed,
        )
        region_ref = self.region(region)
        return self.graph.task(f"scores-{key}", classify_task, self.root, key, region_ref, template)

    def method_scores(
        self,
        method: Method,
        model: Ref | None,
        model_key: str | None,
        region: RegionInputs,
        density: tuple[Ref, str] | None = None,
    ) -> Ref:
        """The task of the test scores of a method that yields scores."""
        sr = region.region
        key = fingerprint(
            "method-scores",
            method.name,
            model_key,
            (sr.lo, sr.hi),
            self.fp(region.data),
            self.fp(region.test),
            self.fp(region.signal) if method.needs_truth else None,
            asdict(self.config.classifier),
            region.seed,
        )
        region_ref = self.region(region)
        extra = () if density is None else (density[0],)
        return self.graph.task(
            f"scores-{key}", method_scores_task, self.root, key, method, model, region_ref, *extra
        )

    def validation(self, method: Method, inj: Injection, region: RegionInputs) -> list[Ref]:
        """Tasks of the data-vs-template AUC in each validation window next to the SR: the
        window's own model where the method trains per region, else the SR's."""
        from resonant_ad.search.validation import validation_windows

        if not self.config.validation_windows:
            return []
        out = []
        for window in validation_windows(region.region, self.config.validation_windows):
            w_data = inj.data.select(window.contains(inj.data.m))
            w_region = dataclasses.replace(region, region=window, data=w_data.with_label(0))
            model, model_key = self.model(method, inj, window)
            template, t_key = self.template(method, model, model_key, w_region)
            key = fingerprint("validation", t_key, region.seed)
            seed = stream_seed(inj.seed, Stream.CLASSIFIER)
            data_ref = self.graph.input(f"window-data-{key}", w_data)
            out.append(
                self.graph.task(
                    f"validation-{key}", validation_task, self.root, key, data_ref, template, seed
                )
            )
        return out

    def nulls(self, method: Method, inj: Injection, region: RegionInputs) -> list[Ref]:
        """Tasks of the null fits of a method that learns ``w``: its fit repeated in each of
        ``[density] null_windows`` validation windows per side of the SR, the window in the
        role of the SR (blind, no test events; ``p_B`` from the same background training, its
        correction and mass fit in the window's own sidebands, which reach into the SR), each
        task giving a :class:`~resonant_ad.density.null.NullFit`."""
        from resonant_ad.density.null import null_fit_task
        from resonant_ad.search.validation import validation_windows

        n = self.config.density.null_windows
        if not n or getattr(method, "w_mode", None) != "learned":
            return []
        out = []
        for window in validation_windows(region.region, n):
            w_data = inj.data.select(window.contains(inj.data.m)).with_label(0)
            no_test = inj.test.select(slice(0, 0))
            w_region = dataclasses.replace(region, region=window, data=w_data, test=no_test)
            density = self.density(method, inj, w_region)
            model, key = self.model(method, inj, window, density)
            label = f"window [{window.lo:g}, {window.hi:g}]"
            out.append(self.graph.task(f"null-{key}", null_fit_task, label, model))
        return out

    def pieces(self, method: Method, inj: Injection, region: RegionInputs) -> dict[str, Any]:
        """Every task of ``method`` for one injection in one SR: ``model``, ``template``
        (template methods), ``scores``, ``validation``, ``background`` (the name and
        model task of a density method's background model, else ``None``) and ``nulls``
        (the null fits of a method that learns ``w``, :meth:`nulls`). Only a yardstick
        sees the labels, the truth and the signal of ``region``. With ``[classifier]
        template_events = "yardstick"`` a template holds at most as many events as the
        idealized classifier's true background (``region.truth``)."""
        cap = None
        if self.config.classifier.template_events == "yardstick" and region.truth is not None:
            cap = len(region.truth)
        region = region if method.needs_truth else self.blind(region)
        name = method.background_method(self.config)
        density = None if name is None else self.density(method, inj, region)
        model, model_key = self.model(method, inj, region.region, density)
        out: dict[str, Any] = {"model": model, "template": None, "validation": []}
        out["background"] = None
        if name is not None:  # the model the density task already depends on
            out["background"] = (name, self.model(get(name), inj, region.region)[0])
        if method.yields == "template":
            template, t_key = self.template(method, model, model_key, region, cap)
            out["template"] = template
            out["scores"] = self.classified(template, t_key, region)
            if not method.needs_truth:
                out["validation"] = self.validation(method, inj, region)
        else:
            out["scores"] = self.method_scores(method, model, model_key, region, density)
        out["nulls"] = self.nulls(method, inj, region)
        return out
