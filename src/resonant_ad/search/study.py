"""The config-driven study: injections x signal regions x methods, as one graph of tasks.

For every ``N_sig``, injection and SR, each method of the config becomes a few tasks of the
engine (:mod:`resonant_ad.search.engine`): its trained model (keyed by the method's
``model_id``, its settings and the events it trained on, so SIGMA's templates share one
``v_data`` and ``cr`` trains one per SR; a method with a ``base_method`` gets that method's
trained model, e.g. ``feta`` the ``sim-nf`` flow of the simulation), its template or scores
in the SR, the weakly supervised classifier's test scores and, where asked for, the
validation windows. Every finished piece is stored in the run folder, so an interrupted
study resumes and a changed classifier setting reuses the generative models and templates.
:func:`run_study` returns a :class:`StudyResult`; :mod:`resonant_ad.report.outputs` writes it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from resonant_ad.config import StudyConfig
from resonant_ad.data.events import Events
from resonant_ad.data.injection import Injection, make_injections, split_signal_pool
from resonant_ad.data.regions import SignalRegion
from resonant_ad.detect.metrics import DetectionMetrics, evaluate, summarize
from resonant_ad.errors import InputError
from resonant_ad.methods.registry import (
    BackgroundDensity,
    FitInputs,
    Method,
    RegionInputs,
    get,
)
from resonant_ad.report.report import Report, Timings, result_row
from resonant_ad.search.cache import Cache, events_fingerprint, fingerprint
from resonant_ad.search.engine import Executor, Graph, Ref, SerialExecutor
from resonant_ad.search.inputs import StudyInputs
from resonant_ad.search.models import recorded_seconds, trained_model
from resonant_ad.search.seeds import Stream, stream_seed

__all__ = [
    "Fingerprints",
    "MethodScore",
    "StudyResult",
    "build_report",
    "fit_inputs",
    "model_path",
    "model_task",
    "run_study",
    "study_injections",
    "train_task",
]

log = logging.getLogger(__name__)


@dataclass
class MethodScore:
    """Test-set scores of one method in one SR for one injection, and what they took."""

    signal_region: tuple[float, float]
    n_sig: int
    injection: int
    method: str
    metrics: DetectionMetrics
    template_seconds: float = 0.0
    classifier_seconds: float = 0.0
    validation_auc: float = float("nan")
    """Mean data-vs-template AUC over the validation windows (NaN: not asked for)."""
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)


@dataclass
class StudyResult:
    """What a study made: every piece's scores, model costs, example templates, models."""

    config: StudyConfig
    scores: list[MethodScore]
    train_seconds: dict[str, float]
    """Training time of every model the study used, by model file."""
    examples: dict[tuple[tuple[float, float], int], dict[str, Events]]
    """Per (SR, N_sig): the first injection's SR data (``"observed"``) and templates."""
    model_files: dict[tuple[str, int, int, tuple[float, float]], Path]
    """The stored model of (method, N_sig, injection, SR), the background models of the
    density methods (``[density] background``) included."""
    signal_fractions: dict[tuple[int, int, tuple[float, float]], float] = field(
        default_factory=dict
    )
    """The true signal fraction of the SR data of (N_sig, injection, SR)."""

    def model(
        self,
        method: str,
        n_sig: int | None = None,
        injection: int = 0,
        signal_region: tuple[float, float] | None = None,
    ) -> Any:
        """The trained model of ``method`` (default: first N_sig and SR), read from disk."""
        n_sig = self.config.n_sig[0] if n_sig is None else n_sig
        first = self.config.signal_regions[0]
        region = (first.lo, first.hi) if signal_region is None else signal_region
        key = (method, n_sig, injection, region)
        if key not in self.model_files:
            raise InputError(f"the study trained no model for {key}")
        return get(method).load_model(self.model_files[key], self.config.device)

    def report(self, meta: dict[str, Any] | None = None) -> Report:
        return build_report(self.scores, list(self.train_seconds.values()), meta or {})


def build_report(
    scores: list[MethodScore], train_seconds: list[float], meta: dict[str, Any]
) -> Report:
    """``report.json``'s content: medians and 16/84% over injections, and mean timings.

    ``train_seconds``: the training time of each model the study used.
    """
    groups: dict[tuple[tuple[float, float], int, str], list[MethodScore]] = {}
    for s in scores:
        groups.setdefault((s.signal_region, s.n_sig, s.method), []).append(s)
    rows = []
    for (sr, n_sig, method), group in groups.items():
        extra: dict[str, Any] = {}
        val = [s.validation_auc for s in group if np.isfinite(s.validation_auc)]
        if val:
            extra["validation_auc"] = summarize(val)
        rows.append(
            result_row(
                sr,
                n_sig,
                method,
                [s.metrics for s in group],
                seconds_per_sr=float(
                    np.mean([s.template_seconds + s.classifier_seconds for s in group])
                ),
                **extra,
            )
        )
    templated = [s for s in scores if get(s.method).yields == "template"]
    sigma = [s for s in templated if s.method.startswith("sigma-")] or templated
    nan = float("nan")
    timings = Timings(
        train_seconds=float(np.mean(train_seconds)) if train_seconds else nan,
        template_seconds_per_sr=(
            float(np.mean([s.template_seconds for s in sigma])) if sigma else nan
        ),
        classifier_seconds_per_sr=(
            float(np.mean([s.classifier_seconds for s in scores])) if scores else nan
        ),
    )
    return Report(results=rows, timings=timings, meta=meta)


# ---------------------------------------------------------------------- the tasks
def train_task(
    root: str,
    name: str,
    method: Method,
    fit: FitInputs,
    background: BackgroundDensity | None = None,
    base: Any = None,
) -> Any:
    """Task: the model of ``method`` trained on ``fit`` (with the ``background`` densities
    of its events, for density methods, and the trained ``base`` model, for methods with a
    :meth:`~resonant_ad.methods.registry.Method.base_method`), from the cache ``root`` if
    there (its file and training time stay there: :func:`model_path`)."""
    if background is not None:
        fit = dataclasses.replace(fit, background=background)
    if base is not None:
        fit = dataclasses.replace(fit, base=base)
    return trained_model(model_path(root, name), method, fit)[0]


def model_path(root: str | Path, name: str) -> Path:
    """Where the model task ``model-<name>`` stores its model (its training time beside it:
    :func:`~resonant_ad.search.models.recorded_seconds`)."""
    return Cache(root).path("models", name.removeprefix("model-"), "pt")


def _template(
    root: str, key: str, method: Method, model: Any, region: RegionInputs, n: int
) -> tuple[Events, float]:
    def compute() -> dict[str, np.ndarray]:
        t0 = time.perf_counter()
        inputs = dataclasses.replace(region, seed=stream_seed(region.seed, Stream.TEMPLATE))
        ev = method.template(model, inputs, n)
        weight = {} if ev.weight is None else {"weight": ev.weight}
        return {"m": ev.m, "x": ev.x, **weight, "seconds": np.array(time.perf_counter() - t0)}

    d = Cache(root).arrays("templates", key, compute)
    names = region.data.feature_names
    ev = Events(d["m"], d["x"], np.zeros(len(d["m"])), names, d.get("weight"))
    return ev, float(d["seconds"])


def _classify(
    root: str, key: str, region: RegionInputs, template: tuple[Events, float]
) -> tuple[np.ndarray, float]:
    from resonant_ad.detect.classifier import weakly_supervised_scores

    def compute() -> dict[str, np.ndarray]:
        t0 = time.perf_counter()
        inputs = dataclasses.replace(region, seed=stream_seed(region.seed, Stream.CLASSIFIER))
        s = weakly_supervised_scores(
            inputs.data,
            template[0],
            inputs.test,
            classifier=inputs.classifier(),
            random_state=inputs.seed,
        )
        return {"scores": s, "seconds": np.array(time.perf_counter() - t0)}

    d = Cache(root).arrays("scores", key, compute)
    return d["scores"], float(d["seconds"])


REFERENCE_FACTOR = 2
"""Events of the background model drawn per SR data event for the density methods' tilt."""


def _background_density(
    root: str,
    key: str,
    method: Method,
    model: Any,
    region: RegionInputs,
    fit_events: tuple[Events, Events],
    sidebands: tuple[Events, Events] | None = None,
    mass_sidebands: Events | None = None,
) -> BackgroundDensity:
    """Task: ``log p_B(x | m) + log p(m)`` of an SR's training, validation and test events
    under ``method``'s model, ``p(m)`` from the SR data's masses or (``[density] mass =
    "sidebands"``) the dijet fit of the ``mass_sidebands`` data, to which the tilt's
    reference is then resampled; with ``[density] correction = "sidebands"``, ``p_B``
    corrected by the ratio learned on the ``sidebands`` data (training, validation) against
    the model's samples there."""
    from resonant_ad.data.spectrum import MassDensity, SidebandMassDensity
    from resonant_ad.detect.correction import SidebandCorrection

    def compute() -> dict[str, np.ndarray]:
        t0 = time.perf_counter()
        sr, d = region.region, region.config.density
        data_mass = MassDensity(sr.lo, sr.hi).fit(region.data.m)
        mass: MassDensity | SidebandMassDensity = data_mass
        if mass_sidebands is not None:
            mass = SidebandMassDensity(sr.lo, sr.hi, d.mass_width).fit(mass_sidebands.m)
        parts = (*fit_events, region.test)
        log_p = [method.log_density(model, region, ev) for ev in parts]
        out: dict[str, np.ndarray] = {}
        ref = None
        if d.tilt > 0 or sidebands is not None:
            ref = method.template(model, region, REFERENCE_FACTOR * len(region.data))
        if sidebands is not None:
            assert ref is not None
            correction = SidebandCorrection(d.correction_members, d.correction_samples)
            correction.fit(*sidebands, model, seed=stream_seed(region.seed, Stream.CORRECTION))
            log_p, ref = correction.correct(log_p, list(parts), ref)
            out.update(
                {f"correction_{k}": np.array(v) for k, v in correction.diagnostics().items()}
            )
        for name, lp, ev in zip(("train", "val", "test"), log_p, parts, strict=True):
            out[f"mass_{name}"] = mass.log_prob(ev.m)
            out[name] = lp + out[f"mass_{name}"]
        if ref is not None and d.tilt > 0:
            if mass_sidebands is not None:
                # the template's masses follow the SR data's: resampled to the background's p(m)
                ratio = np.exp(mass.log_prob(ref.m) - data_mass.log_prob(ref.m))
                gen = np.random.default_rng(stream_seed(region.seed, Stream.CORRECTION))
                ref = ref.select(gen.choice(len(ref), len(ref), p=ratio / ratio.sum()))
            out["reference_x"], out["reference_m"] = ref.x, ref.m
        out["seconds"] = np.array(time.perf_counter() - t0)
        return out

    d = Cache(root).arrays("densities", key, compute)
    reference = None
    if "reference_x" in d:
        n_ref = len(d["reference_m"])
        reference = Events(d["reference_m"], d["reference_x"], np.zeros(n_ref, dtype=np.int64))
    prefix = "correction_"
    correction = {k.removeprefix(prefix): float(v) for k, v in d.items() if k.startswith(prefix)}
    return BackgroundDensity(
        method.name,
        d["train"],
        d["val"],
        d["test"],
        float(d["seconds"]),
        reference,
        correction or None,
        (d["mass_train"], d["mass_val"]) if "mass_train" in d else None,
    )


def _method_scores(
    root: str,
    key: str,
    method: Method,
    model: Any,
    region: RegionInputs,
    background: BackgroundDensity | None = None,
) -> tuple[np.ndarray, float]:
    def compute() -> dict[str, np.ndarray]:
        t0 = time.perf_counter()
        inputs = dataclasses.replace(
            region, seed=stream_seed(region.seed, Stream.CLASSIFIER), background=background
        )
        s = method.scores(model, inputs)
        return {
            "scores": np.asarray(s, dtype=np.float64),
            "seconds": np.array(time.perf_counter() - t0),
        }

    d = Cache(root).arrays("scores", key, compute)
    return d["scores"], float(d["seconds"])


def _validate(
    root: str, key: str, data: Events, template: tuple[Events, float], seed: int
) -> float:
    from resonant_ad.search.validation import validation_auc

    def compute() -> dict[str, np.ndarray]:
        return {"auc": np.array(validation_auc(data, template[0], seed=seed))}

    return float(Cache(root).arrays("validation", key, compute)["auc"])


def _score(
    sr: tuple[float, float],
    n_sig: int,
    k: int,
    method: str,
    scores: tuple[np.ndarray, float],
    labels: np.ndarray,
    template: tuple[Events, float] | None,
    *validation: float,
) -> MethodScore:
    return MethodScore(
        sr,
        n_sig,
        k,
        method,
        evaluate(scores[0], labels),
        0.0 if template is None else template[1],
        scores[1],
        float(np.mean(validation)) if validation else float("nan"),
        scores[0],
        labels,
    )


# ---------------------------------------------------------------------- the graph
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
) -> FitInputs | None:
    """The events ``method``'s model trains on for ``region``, chosen by its ``trains_on``
    from the data's ``train``/``val`` split or the ``simulation`` sample (``None``: the
    method trains nothing); a method that
    :attr:`~resonant_ad.methods.registry.Method.uses_simulation` gets the whole
    ``simulation`` too."""
    if method.trains_on == "nothing":
        return None
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
    return graph.task(f"model-{name}", train_task, root, name, method, fit_ref, *extra), key


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


class _Builder:
    """Adds a study's tasks to a graph, computing each events fingerprint once."""

    def __init__(self, config: StudyConfig, inputs: StudyInputs, root: Path, progress: bool):
        self.config, self.inputs, self.root, self.progress = config, inputs, str(root), progress
        self.graph = Graph()
        self.fp = Fingerprints()
        self._regions: dict[int, tuple[RegionInputs, Ref]] = {}
        self._fits: dict[tuple[Any, ...], tuple[Injection, FitInputs | None]] = {}

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

    def fit_inputs(self, method: Method, inj: Injection, region: SignalRegion) -> FitInputs | None:
        """``fit_inputs`` of ``method``, made once per injection, region and ``trains_on``:
        methods (and the background densities) that train on the same events share one
        ``FitInputs``, so its events are selected and fingerprinted once. The simulation is
        the same for every injection and region: its ``FitInputs`` (seeded by the study's
        seed) is made once, so a model of the simulation trains once per study. (Methods
        that use the simulation beside their events get a ``FitInputs`` of their own.)"""
        simulated = method.trains_on == "simulation"
        key = (
            ("simulation", method.uses_simulation)
            if simulated
            else (id(inj), region, method.trains_on, method.uses_simulation)
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
        fit = self.fit_inputs(method, inj, region.region)
        assert fit is not None
        bg_model, bg_key = self.model(background, inj, region.region)
        sr = region.region
        d = self.config.density
        from resonant_ad.detect.correction import near_sidebands

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
        mass_sidebands: Events | None = None
        if d.mass == "sidebands":
            mass_sidebands = near_sidebands(inj.data, sr, d.mass_width)
            settings += (("mass", d.mass, d.mass_width), self.fp(mass_sidebands))
        key = fingerprint(
            "density",
            background.name,
            bg_key,
            background.template_settings(self.config),
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
            _background_density,
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

    def template(
        self, method: Method, model: Ref | None, model_key: str | None, region: RegionInputs
    ) -> tuple[Ref, str]:
        """The task of ``method``'s template in ``region.region``, and its key."""
        n = self.config.classifier.oversampling * len(region.data)
        sr = region.region
        key = fingerprint(
            "template",
            method.name,
            model_key,
            method.template_settings(self.config),
            (sr.lo, sr.hi),
            n,
            self.fp(region.data),
            self.fp(region.truth) if method.needs_truth else None,
            region.seed,
        )
        region_ref = self.region(region)
        ref = self.graph.task(
            f"template-{key}", _template, self.root, key, method, model, region_ref, n
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
        return self.graph.task(f"scores-{key}", _classify, self.root, key, region_ref, template)

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
            f"scores-{key}", _method_scores, self.root, key, method, model, region_ref, *extra
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
            w_region = dataclasses.replace(region, region=window, data=w_data)
            model, model_key = self.model(method, inj, window)
            template, t_key = self.template(method, model, model_key, w_region)
            key = fingerprint("validation", t_key, region.seed)
            seed = stream_seed(inj.seed, Stream.CLASSIFIER)
            data_ref = self.graph.input(f"window-data-{key}", w_data)
            out.append(
                self.graph.task(
                    f"validation-{key}", _validate, self.root, key, data_ref, template, seed
                )
            )
        return out

    def pieces(self, method: Method, inj: Injection, region: RegionInputs) -> dict[str, Any]:
        """Every task of ``method`` for one injection in one SR: ``model``, ``template``
        (template methods), ``scores``, ``validation`` and ``background`` (the name and
        model task of a density method's background model, else ``None``)."""
        name = method.background_method(self.config)
        density = None if name is None else self.density(method, inj, region)
        model, model_key = self.model(method, inj, region.region, density)
        out: dict[str, Any] = {"model": model, "template": None, "validation": []}
        out["background"] = None
        if name is not None:  # the model the density task already depends on
            out["background"] = (name, self.model(get(name), inj, region.region)[0])
        if method.yields == "template":
            template, t_key = self.template(method, model, model_key, region)
            out["template"] = template
            out["scores"] = self.classified(template, t_key, region)
            if not method.needs_truth:
                out["validation"] = self.validation(method, inj, region)
        else:
            out["scores"] = self.method_scores(method, model, model_key, region, density)
        return out


def study_injections(
    config: StudyConfig, inputs: StudyInputs, n_sig: int, sr: SignalRegion
) -> list[Injection]:
    """The ``n_injections`` injections of ``n_sig`` signal events for the SR ``sr``."""
    extra = inputs.extra_background
    return make_injections(
        inputs.background,
        inputs.signal,
        n_sig,
        signal_region=sr,
        n_injections=config.n_injections,
        seed=config.seed,
        extra_background=None if extra is None else extra.select(slice(0, None, 2)),
    )


def run_study(
    config: StudyConfig,
    inputs: StudyInputs,
    out_dir: str | Path,
    *,
    executor: Executor | None = None,
    progress: bool = True,
) -> StudyResult:
    """Run every (N_sig, injection, SR, method) piece not yet in ``out_dir``.

    With extra SR background, its even events test every method and its odd events are the
    IAD's perfect template; without it, a hold-out of the data is the test background and
    the IAD is skipped.
    """
    executor = executor or SerialExecutor()
    out = Path(out_dir)
    b = _Builder(config, inputs, out, progress and isinstance(executor, SerialExecutor))
    g = b.graph
    extra = inputs.extra_background
    extra_iad = None if extra is None else extra.select(slice(1, None, 2))
    pool, _ = split_signal_pool(inputs.signal)  # the supervised yardstick's signal
    methods = [get(name) for name in config.methods]
    targets: list[Ref] = []
    example_refs: list[tuple[tuple[tuple[float, float], int], str, Ref]] = []
    model_refs: dict[tuple[str, int, int, tuple[float, float]], Ref] = {}
    skipped: set[str] = set()
    fractions: dict[tuple[int, int, tuple[float, float]], float] = {}
    for n_sig in config.n_sig:
        for sr in config.signal_regions:
            srt = (sr.lo, sr.hi)
            for k, inj in enumerate(study_injections(config, inputs, n_sig, sr)):
                log.info("%s", inj.summary())
                sr_data = inj.data.select(sr.contains(inj.data.m))
                truth = None if extra_iad is None else extra_iad.select(sr.contains(extra_iad.m))
                region = RegionInputs(
                    sr,
                    sr_data,
                    inj.test,
                    config,
                    inj.seed,
                    truth=truth,
                    signal=pool.select(sr.contains(pool.m)),
                )
                fractions[(n_sig, k, srt)] = float(np.mean(sr_data.label)) if len(sr_data) else 0.0
                tag = f"{n_sig}-{k}-{sr.lo:g}-{sr.hi:g}"
                labels = g.input(f"labels-{tag}", inj.test.label)
                if k == 0:
                    example_refs.append(
                        ((srt, n_sig), "observed", g.input(f"observed-{tag}", sr_data))
                    )
                for method in methods:
                    reason = b.missing(method, region)
                    if reason:
                        if method.name not in skipped:
                            log.warning("%s skipped: %s", method.name, reason)
                            skipped.add(method.name)
                        continue
                    p = b.pieces(method, inj, region)
                    if p["model"] is not None:
                        model_refs[(method.name, n_sig, k, srt)] = p["model"]
                    if p["background"] is not None:
                        bg_name, bg_ref = p["background"]
                        model_refs.setdefault((bg_name, n_sig, k, srt), bg_ref)
                    if k == 0 and p["template"] is not None:
                        example_refs.append(((srt, n_sig), method.name, p["template"]))
                    result = g.task(
                        f"result-{tag}-{method.name}",
                        _score,
                        srt,
                        n_sig,
                        k,
                        method.name,
                        p["scores"],
                        labels,
                        p["template"],
                        *p["validation"],
                    )
                    targets.append(result)
    everything = [*targets, *(r for _, _, r in example_refs)]
    values = executor.compute(g, everything, progress=progress)
    results = dict(zip([r.key for r in everything], values, strict=True))
    scores_out = [results[r.key] for r in targets]
    examples: dict[tuple[tuple[float, float], int], dict[str, Events]] = {}
    for where, name, ref in example_refs:
        value = results[ref.key]
        examples.setdefault(where, {})[name] = value if name == "observed" else value[0]
    # the models stay where they were trained: their files and times are in the run folder
    files = [model_path(out, k) for k in g.tasks if k.startswith("model-")]
    train_seconds = {f.name: recorded_seconds(f) for f in files}
    model_files = {where: model_path(out, r.key) for where, r in model_refs.items()}
    log.info("study: %d results, %d models (%s)", len(scores_out), len(files), out)
    return StudyResult(config, scores_out, train_seconds, examples, model_files, fractions)
