"""What a study makes: the scores of every piece, and the report they sum up to.

A :class:`MethodScore` is one method's test-set scores in one SR for one injection; a
:class:`StudyResult` gathers them with the study's model costs, example templates and
stored models (:func:`~resonant_ad.search.study.run_study` returns it), and
:func:`build_report` turns the scores into ``report.json``'s content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from resonant_ad.config import StudyConfig
from resonant_ad.data.events import Events
from resonant_ad.detect.metrics import DetectionMetrics, summarize
from resonant_ad.errors import InputError
from resonant_ad.methods.registry import get
from resonant_ad.report.report import Report, Timings, result_row

__all__ = ["MethodScore", "StudyResult", "build_report"]


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
    null_fits: dict[tuple[str, int, int, tuple[float, float]], list[Any]] = field(
        default_factory=dict
    )
    """The null fits (:class:`~resonant_ad.density.null.NullFit`) of the method that learns
    ``w`` at (method, N_sig, injection, SR): its fit in the validation windows of ``[density]
    null_windows``; empty where none were made."""

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
