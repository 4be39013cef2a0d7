"""The config-driven study: injections x signal regions x methods, cached piece by piece.

For every ``N_sig`` and injection, one ``v_data`` model is trained on all data and shared
by the ``data`` and ``sigma-*`` templates of every signal region; ``cr`` trains one model
on the sidebands of each signal region. Every finished piece (a model, a template sample, a
test score) is stored in the run folder under a key made of exactly the settings it depends
on, so an interrupted run resumes where it stopped and a changed classifier setting reuses
the generative models and templates.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from resonant_ad.config import TEMPLATE_METHODS, StudyConfig
from resonant_ad.data.events import Events
from resonant_ad.data.injection import Injection, make_injections, split_signal_pool
from resonant_ad.data.regions import SignalRegion
from resonant_ad.detect.metrics import DetectionMetrics, evaluate, summarize
from resonant_ad.report.report import Report, Timings, result_row
from resonant_ad.search.cache import Cache, fingerprint
from resonant_ad.search.inputs import StudyInputs
from resonant_ad.search.models import trained_flow
from resonant_ad.search.seeds import Stream, stream_seed

__all__ = ["MethodScore", "StudyRun", "build_report"]

log = logging.getLogger(__name__)

SIGMA_METHODS = ("data", "sigma-linear", "sigma-context", "sigma-poly")
"""Templates made from the one ``v_data`` model."""


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


def build_report(
    scores: list[MethodScore], train_seconds: list[float], meta: dict[str, Any]
) -> Report:
    """``report.json``'s content: medians and 16/84% over injections, and mean timings.

    ``train_seconds``: the training time of each generative model the study used.
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
    templated = [s for s in scores if s.method in TEMPLATE_METHODS]
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


def events_key(inj: Injection) -> str:
    """A fingerprint of the events a model of ``inj`` trains and validates on.

    Without extra SR background, each SR holds out part of its own background for testing,
    so the training events, and the ``v_data`` trained on them, differ from SR to SR.
    """
    return fingerprint(
        len(inj.train), float(inj.train.x.sum()), len(inj.val), float(inj.val.x.sum())
    )


class StudyRun:
    """One study: ``StudyRun(config, inputs, out_dir).run()`` yields a score per piece."""

    def __init__(
        self, config: StudyConfig, inputs: StudyInputs, out_dir: str | Path, progress: bool = True
    ) -> None:
        self.config = config
        self.inputs = inputs
        self.out = Path(out_dir)
        self.cache = Cache(self.out)
        self.progress = progress
        self.examples: dict[tuple[tuple[float, float], int], dict[str, Events]] = {}
        """Per (SR, N_sig), the first injection's SR data (key ``"observed"``) and templates."""
        self.train_seconds: dict[str, float] = {}
        """Training time of every generative model the study used, by model file."""
        self.data_key = fingerprint(
            len(inputs.background),
            float(inputs.background.x.sum()),
            len(inputs.signal),
            float(inputs.signal.x.sum()),
            None if inputs.extra_background is None else float(inputs.extra_background.x.sum()),
        )
        # Extra SR background: even events test every method, odd events are the IAD's
        # "perfect template". Without it, a hold-out of the data is the test background
        # and the IAD is skipped.
        extra = inputs.extra_background
        self.extra_test = None if extra is None else extra.select(slice(0, None, 2))
        self.extra_iad = None if extra is None else extra.select(slice(1, None, 2))

    # ------------------------------------------------------------------ pieces
    def _model_params(self) -> dict[str, Any]:
        return self.config.model.overrides()

    def _flow(self, kind: str, inj: Injection, sr: SignalRegion | None) -> Any:
        """The trained ``v_data`` (``sr=None``) or ``v_CR`` model, from disk if finished."""
        m = self.config.model
        params = self._model_params()
        key = fingerprint(
            self.data_key,
            inj.n_sig,
            inj.seed,
            kind,
            m.preset,
            params,
            None if sr is None else (sr.lo, sr.hi),
            events_key(inj),
        )
        seed = stream_seed(inj.seed, Stream.MODEL)
        path = self.cache.path("models", f"{kind}-{key}", "pt")
        model, seconds = trained_flow(
            path,
            inj.train,
            inj.val,
            signal_region=sr,
            preset=m.preset,
            params=params,
            seed=seed,
            device=self.config.device,
            progress=self.progress,
        )
        self.train_seconds[path.name] = seconds
        return model

    def _piece_key(self, inj: Injection, method: str, region: SignalRegion, *extra: Any) -> str:
        """The cache key of a template-based piece of ``method`` in ``region``."""
        return fingerprint(
            self.data_key,
            inj.n_sig,
            inj.seed,
            events_key(inj),
            method,
            self.config.model.preset,
            self._model_params(),
            (region.lo, region.hi),
            *extra,
        )

    def vdata(self, inj: Injection) -> Any:
        """The ``v_data`` model of an injection (trained once, then read from the run folder)."""
        return self._flow("vdata", inj, None)

    def _template(
        self, method: str, model: Any, inj: Injection, sr: SignalRegion, sr_data: Events
    ) -> tuple[Events, float]:
        from resonant_ad.templates.registry import make_template

        n = self.config.classifier.oversampling * len(sr_data)
        key = self._piece_key(inj, method, sr, n, self.config.model.interpolation_offset)
        seed = stream_seed(inj.seed, Stream.TEMPLATE)

        def compute() -> dict[str, np.ndarray]:
            kwargs: dict[str, Any] = {}
            if method in ("sigma-linear", "sigma-context"):
                kwargs["masses"] = sr.interpolation_masses(self.config.model.interpolation_offset)
            t0 = time.perf_counter()
            ev = make_template(method, model, **kwargs).sample(sr, sr_data.m, n, seed=seed)
            return {"m": ev.m, "x": ev.x, "seconds": np.array(time.perf_counter() - t0)}

        d = self.cache.arrays("templates", key, compute)
        ev = Events(d["m"], d["x"], np.zeros(len(d["m"])), sr_data.feature_names)
        return ev, float(d["seconds"])

    def _classifier(self, seed: int) -> Any:
        from resonant_ad.detect.classifier import make_ensemble

        c = self.config.classifier
        return make_ensemble(c.kind, n_estimators=c.ensemble_size, random_state=seed)

    def _scores(
        self, key_parts: tuple[Any, ...], train_1: Events, train_0: Events, test: Events, seed: int
    ) -> tuple[np.ndarray, float]:
        from resonant_ad.detect.classifier import weakly_supervised_scores

        key = fingerprint(*key_parts, asdict(self.config.classifier), seed)

        def compute() -> dict[str, np.ndarray]:
            t0 = time.perf_counter()
            s = weakly_supervised_scores(
                train_1, train_0, test, classifier=self._classifier(seed), random_state=seed
            )
            return {"scores": s, "seconds": np.array(time.perf_counter() - t0)}

        d = self.cache.arrays("scores", key, compute)
        return d["scores"], float(d["seconds"])

    def _validation_auc(
        self, method: str, inj: Injection, sr: SignalRegion, model: Any, seed: int
    ) -> float:
        """Mean data-vs-template AUC of ``method`` over the validation windows of ``sr``.

        ``model``: the one the SR's template came from, reused in the windows (``v_data``);
        ``cr`` instead trains a sideband model for each window.
        """
        from resonant_ad.search.validation import validation_auc, validation_windows

        aucs = []
        for window in validation_windows(sr, self.config.validation_windows):
            data = inj.data.select(window.contains(inj.data.m))
            key = self._piece_key(inj, method, window, self.config.classifier.oversampling)

            def compute(window: SignalRegion = window, data: Events = data) -> dict[str, Any]:
                window_model = self._flow("cr", inj, window) if method == "cr" else model
                template, _ = self._template(method, window_model, inj, window, data)
                return {"auc": np.array(validation_auc(data, template, seed=seed))}

            aucs.append(float(self.cache.arrays("validation", key, compute)["auc"]))
        return float(np.mean(aucs))

    # ------------------------------------------------------------------ the loop
    def injections(self, n_sig: int, sr: SignalRegion) -> list[Injection]:
        inp = self.inputs
        return make_injections(
            inp.background,
            inp.signal,
            n_sig,
            signal_region=sr,
            n_injections=self.config.n_injections,
            seed=self.config.seed,
            extra_background=self.extra_test,
        )

    def run(self) -> Iterator[MethodScore]:
        """Every (N_sig, injection, SR, method) score, computing only what is not cached."""
        cfg = self.config
        methods = cfg.methods
        pool, _ = split_signal_pool(self.inputs.signal)  # the supervised yardstick's signal
        for n_sig in cfg.n_sig:
            per_sr = {sr: self.injections(n_sig, sr) for sr in cfg.signal_regions}
            for k in range(cfg.n_injections):
                vdatas: dict[str, Any] = {}  # one v_data per set of training events
                for sr in cfg.signal_regions:
                    inj = per_sr[sr][k]
                    log.info("%s", inj.summary())
                    sr_data = inj.data.select(sr.contains(inj.data.m))
                    example: dict[str, Events] = {}
                    if k == 0:  # kept for the feature plots: SR data and every template
                        example["observed"] = sr_data
                        self.examples[((sr.lo, sr.hi), n_sig)] = example
                    base = (self.data_key, n_sig, inj.seed, (sr.lo, sr.hi))
                    seed = stream_seed(inj.seed, Stream.CLASSIFIER)
                    for method in methods:
                        t_seconds = 0.0
                        val_auc = float("nan")
                        if method in TEMPLATE_METHODS:
                            if method == "cr":
                                model = self._flow("cr", inj, sr)
                            else:
                                ekey = events_key(inj)
                                if ekey not in vdatas:
                                    vdatas[ekey] = self._flow("vdata", inj, None)
                                model = vdatas[ekey]
                            template, t_seconds = self._template(method, model, inj, sr, sr_data)
                            if k == 0:
                                example[method] = template
                            scores, c_seconds = self._scores(
                                (
                                    *base,
                                    method,
                                    cfg.model.preset,
                                    self._model_params(),
                                    len(template),
                                ),
                                sr_data,
                                template,
                                inj.test,
                                seed,
                            )
                            if cfg.validation_windows:
                                val_auc = self._validation_auc(method, inj, sr, model, seed)
                        elif method == "iad":
                            if self.extra_iad is None:
                                log.warning("iad needs extra SR background: skipped")
                                continue
                            truth = self.extra_iad.select(sr.contains(self.extra_iad.m))
                            scores, c_seconds = self._scores(
                                (*base, "iad"), sr_data, truth, inj.test, seed
                            )
                        else:  # supervised: signal-pool vs background labels in the SR
                            sig = pool.select(sr.contains(pool.m))
                            bkg = sr_data.select(sr_data.label == 0)
                            scores, c_seconds = self._scores(
                                (*base, "supervised"), sig, bkg, inj.test, seed
                            )
                        yield MethodScore(
                            (sr.lo, sr.hi),
                            n_sig,
                            k,
                            method,
                            evaluate(scores, inj.test.label),
                            t_seconds,
                            c_seconds,
                            val_auc,
                            scores,
                            inj.test.label,
                        )
