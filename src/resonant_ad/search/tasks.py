"""The task functions of a study's graph: each computes one piece, or reads it from the run
folder where an earlier run stored it.

:func:`train_task` trains a method's model (stored where :func:`model_path` says);
:func:`template_task`, :func:`classify_task`, :func:`method_scores_task` and
:func:`validation_task` make a template, the weakly supervised classifier's test scores, a
scoring method's test scores and a validation window's data-vs-template AUC, each stored in
its folder of the run's :class:`~resonant_ad.search.cache.Cache` with the seconds it took;
:func:`score_task` gathers one piece's :class:`~resonant_ad.search.results.MethodScore`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from resonant_ad.data.events import Events
from resonant_ad.detect.metrics import evaluate
from resonant_ad.methods.inputs import BackgroundDensity, FitInputs, RegionInputs
from resonant_ad.methods.registry import Method
from resonant_ad.search.cache import Cache
from resonant_ad.search.models import trained_model
from resonant_ad.search.results import MethodScore
from resonant_ad.search.seeds import Stream, stream_seed

__all__ = [
    "classify_task",
    "method_scores_task",
    "model_path",
    "score_task",
    "template_task",
    "train_task",
    "validation_task",
]


def train_task(
    path: Path,
    method: Method,
    fit: FitInputs,
    background: BackgroundDensity | None = None,
    base: Any = None,
) -> Any:
    """Task: the model of ``method`` trained on ``fit`` (with the ``background`` densities
    of its events, for density methods, and the trained ``base`` model, for methods with a
    :meth:`~resonant_ad.methods.registry.Method.base_method`), read from ``path`` if stored
    there (its training time beside it), else trained and stored there."""
    if background is not None:
        fit = dataclasses.replace(fit, background=background)
    if base is not None:
        fit = dataclasses.replace(fit, base=base)
    return trained_model(path, method, fit)[0]


def model_path(root: str | Path, name: str) -> Path:
    """Where the model task ``model-<name>`` stores its model (its training time beside it:
    :func:`~resonant_ad.search.models.recorded_seconds`)."""
    return Cache(root).path("models", name.removeprefix("model-"), "pt")


def _timed(
    root: str, kind: str, key: str, compute: Callable[[], dict[str, np.ndarray]]
) -> tuple[dict[str, np.ndarray], float]:
    """The arrays of ``compute`` stored in the cache ``root`` (``kind``, ``key``), computed
    and stored with the seconds they took where absent, and those seconds."""

    def timed() -> dict[str, np.ndarray]:
        t0 = time.perf_counter()
        arrays = compute()
        return {**arrays, "seconds": np.array(time.perf_counter() - t0)}

    d = Cache(root).arrays(kind, key, timed)
    return d, float(d["seconds"])


def template_task(
    root: str, key: str, method: Method, model: Any, region: RegionInputs, n: int
) -> tuple[Events, float]:
    """Task: ``n`` template events of ``method``'s ``model`` in ``region``, and the seconds
    drawing them took."""

    def compute() -> dict[str, np.ndarray]:
        inputs = dataclasses.replace(region, seed=stream_seed(region.seed, Stream.TEMPLATE))
        ev = method.template(model, inputs, n)
        return {"m": ev.m, "x": ev.x, **({} if ev.weight is None else {"weight": ev.weight})}

    d, seconds = _timed(root, "templates", key, compute)
    names = region.data.feature_names
    return Events(d["m"], d["x"], np.zeros(len(d["m"])), names, d.get("weight")), seconds


def classify_task(
    root: str, key: str, region: RegionInputs, template: tuple[Events, float]
) -> tuple[np.ndarray, float]:
    """Task: the weakly supervised classifier's scores of ``region``'s test events, trained
    to tell its SR data from the ``template``, and the seconds that took."""
    from resonant_ad.detect.weakly_supervised import weakly_supervised_scores

    def compute() -> dict[str, np.ndarray]:
        inputs = dataclasses.replace(region, seed=stream_seed(region.seed, Stream.CLASSIFIER))
        s = weakly_supervised_scores(
            inputs.data,
            template[0],
            inputs.test,
            classifier=inputs.classifier(),
            random_state=inputs.seed,
        )
        return {"scores": s}

    d, seconds = _timed(root, "scores", key, compute)
    return d["scores"], seconds


def method_scores_task(
    root: str,
    key: str,
    method: Method,
    model: Any,
    region: RegionInputs,
    background: BackgroundDensity | None = None,
) -> tuple[np.ndarray, float]:
    """Task: the test scores of a method that yields scores (given the ``background``
    densities of the test events, for density methods), and the seconds they took."""

    def compute() -> dict[str, np.ndarray]:
        inputs = dataclasses.replace(
            region, seed=stream_seed(region.seed, Stream.CLASSIFIER), background=background
        )
        return {"scores": np.asarray(method.scores(model, inputs), dtype=np.float64)}

    d, seconds = _timed(root, "scores", key, compute)
    return d["scores"], seconds


def validation_task(
    root: str, key: str, data: Events, template: tuple[Events, float], seed: int
) -> float:
    """Task: the AUC of a classifier telling a validation window's ``data`` from the
    method's ``template`` there (:func:`~resonant_ad.search.validation.validation_auc`)."""
    from resonant_ad.search.validation import validation_auc

    def compute() -> dict[str, np.ndarray]:
        return {"auc": np.array(validation_auc(data, template[0], seed=seed))}

    return float(Cache(root).arrays("validation", key, compute)["auc"])


def score_task(
    sr: tuple[float, float],
    n_sig: int,
    k: int,
    method: str,
    scores: tuple[np.ndarray, float],
    labels: np.ndarray,
    template: tuple[Events, float] | None,
    *validation: float,
) -> MethodScore:
    """Task: the :class:`~resonant_ad.search.results.MethodScore` of ``method`` in the SR
    ``sr`` for injection ``k`` of ``n_sig`` signal events: its test ``scores`` against the
    ``labels``, the seconds of its template and scores, and its mean validation AUC."""
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
