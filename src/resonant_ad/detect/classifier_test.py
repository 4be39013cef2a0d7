"""The classifier test of a background template: template vs true background, AUC and log weights.

SIGMA paper (Das & Shih), appendix B, after Das, Kasieczka, Shih (FETA/classifier test): a
classifier separates template samples (class 1) from true SR background (class 0); its
calibrated output ``p`` gives ``weight(x) = p_samples(x) / p_background(x) = p / (1 - p)``
(times the inverse class ratio). A good template has AUC near 0.5 and a narrow log-weight
distribution; a template that learned the signal has a tail at ``log weight > 0`` whose events
look like the signal.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from resonant_ad.data.events import Events
from resonant_ad.detect.classifier import RandomState, ScoreClassifier
from resonant_ad.detect.hgb import HGBEnsemble
from resonant_ad.detect.metrics import auc, roc_curve
from resonant_ad.errors import InputError

__all__ = [
    "ClassifierTestResult",
    "classifier_test",
    "histogram_overlap",
    "log_weight",
    "signal_box",
]

log = logging.getLogger(__name__)

DEFAULT_CUT = 0.1
"""The paper's cut on ``log weight`` for the events compared to the signal."""


def log_weight(p: np.ndarray, class_ratio: float = 1.0, eps: float = 1e-7) -> np.ndarray:
    """``log(p_samples / p_background)`` from a classifier output ``p = P(sample | x)``.

    With the training classes weighted ``n_samples : n_background = class_ratio`` the odds
    ``p / (1 - p)`` equal ``class_ratio * weight``, so ``log weight = logit(p) -
    log(class_ratio)``; class-balanced training has ``class_ratio = 1``. ``p`` is clipped to
    ``[eps, 1 - eps]``.

    >>> log_weight(np.array([0.5, 0.75])).round(4).tolist()
    [0.0, 1.0986]
    >>> float(log_weight(np.array([0.5]), class_ratio=2.0)[0]) == -math.log(2.0)
    True
    """
    if class_ratio <= 0:
        raise InputError(f"class ratio {class_ratio}: must be positive")
    q = np.clip(np.asarray(p, dtype=np.float64), eps, 1.0 - eps)
    return np.log(q) - np.log1p(-q) - math.log(class_ratio)


def signal_box(signal: np.ndarray, coverage: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature central interval holding ``coverage`` of the signal: the signal's region.

    Returns ``(lo, hi)`` arrays of shape ``(d,)``.

    >>> lo, hi = signal_box(np.arange(101.0).reshape(-1, 1), coverage=0.5)
    >>> lo.tolist(), hi.tolist()
    ([25.0], [75.0])
    """
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    if not 0 < coverage < 1:
        raise InputError(f"coverage {coverage}: must be in (0, 1)")
    q = 50.0 * (1.0 - coverage)
    return np.percentile(x, q, axis=0), np.percentile(x, 100.0 - q, axis=0)


def _in_box(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.all((x >= lo) & (x <= hi), axis=1)


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    """Weighted mean of ``values`` (NaN for no events or zero total weight)."""
    total = float(np.sum(weights))
    return float(np.dot(values, weights) / total) if len(values) and total > 0 else math.nan


def _fraction_in_box(events: Events, lo: np.ndarray, hi: np.ndarray) -> float:
    """The (weighted) fraction of ``events`` inside the box ``[lo, hi]``."""
    return _weighted_mean(_in_box(events.x, lo, hi), events.weights())


def histogram_overlap(
    a: np.ndarray,
    b: np.ndarray,
    bins: int = 40,
    *,
    weight_a: np.ndarray | None = None,
    weight_b: np.ndarray | None = None,
) -> np.ndarray:
    """Per-feature overlap ``sum_i min(p_i, q_i)`` of two normalised histograms (0 to 1).

    Binning spans the union of both samples' 0.5-99.5% quantiles (unweighted), per feature;
    ``weight_a`` / ``weight_b``: per-event weights of the histograms (``None``: ones).

    >>> x = np.random.default_rng(0).normal(size=(5000, 1))
    >>> bool(histogram_overlap(x, x + 10.0)[0] < 0.01), bool(histogram_overlap(x, x)[0] == 1.0)
    (True, True)
    """
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    b = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    if a.shape[1] != b.shape[1]:
        raise InputError(f"feature counts differ: {a.shape[1]} vs {b.shape[1]}")
    out = np.full(a.shape[1], np.nan)
    wa = np.ones(len(a)) if weight_a is None else np.asarray(weight_a, dtype=np.float64)
    wb = np.ones(len(b)) if weight_b is None else np.asarray(weight_b, dtype=np.float64)
    if len(a) == 0 or len(b) == 0 or not (wa.sum() > 0 and wb.sum() > 0):
        return out
    for j in range(a.shape[1]):
        both = np.r_[a[:, j], b[:, j]]
        lo, hi = np.percentile(both, [0.5, 99.5])
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)
        ha = np.histogram(np.clip(a[:, j], lo, hi), edges, weights=wa)[0] / wa.sum()
        hb = np.histogram(np.clip(b[:, j], lo, hi), edges, weights=wb)[0] / wb.sum()
        out[j] = float(np.minimum(ha, hb).sum())
    return out


@dataclass(frozen=True)
class ClassifierTestResult:
    """Outcome of one classifier test (all numbers on held-out events).

    Attributes:
        auc: AUC of template samples vs true background (0.5: indistinguishable).
        log_weight_template: log weights of the held-out template samples.
        log_weight_background: log weights of the held-out true background.
        cut: the ``log weight`` cut.
        passing: held-out template samples with ``log weight > cut``.
        pass_fraction: fraction of held-out template samples passing.
        signal_box_fraction_passing: fraction of the passing samples inside the signal's
            region (:func:`signal_box`); NaN without a signal sample or with none passing.
        (With weighted samples, :attr:`~resonant_ad.data.events.Events.weight`, the AUC,
        the fractions and the overlaps are weighted; ``passing`` keeps its weights.)
        signal_box_fraction_template: the same fraction for all held-out template samples.
        signal_box_fraction_background: the same fraction for the held-out true background.
        signal_overlap: per-feature :func:`histogram_overlap` of the passing samples with
            the signal (empty without a signal sample).
    """

    auc: float
    log_weight_template: np.ndarray
    log_weight_background: np.ndarray
    cut: float
    passing: Events
    pass_fraction: float
    signal_box_fraction_passing: float = math.nan
    signal_box_fraction_template: float = math.nan
    signal_box_fraction_background: float = math.nan
    signal_overlap: np.ndarray = field(default_factory=lambda: np.zeros(0))
    feature_names: tuple[str, ...] = ()

    @property
    def signal_enrichment(self) -> float:
        """How much more often passing samples sit in the signal's region than background.

        ~1 for a template whose excess over background is not signal-like; >> 1 for a
        template that learned the signal.
        """
        if not self.signal_box_fraction_background > 0:
            return math.nan
        return self.signal_box_fraction_passing / self.signal_box_fraction_background

    def summary(self) -> str:
        parts = [
            f"AUC {self.auc:.4f}",
            f"log w > {self.cut:g}: {100 * self.pass_fraction:.2f}% of samples",
        ]
        if not math.isnan(self.signal_box_fraction_passing):
            parts.append(
                f"{100 * self.signal_box_fraction_passing:.2f}% of them in the signal's region "
                f"(background {100 * self.signal_box_fraction_background:.2f}%, enrichment "
                f"{self.signal_enrichment:.2f})"
            )
        return ", ".join(parts)


def _split(n: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    perm = rng.permutation(n)
    k = round(fraction * n)
    return np.sort(perm[k:]), np.sort(perm[:k])


def classifier_test(
    template: Events,
    background: Events,
    *,
    signal: Events | None = None,
    classifier: ScoreClassifier | None = None,
    class_ratio: float = 1.0,
    test_fraction: float = 0.3,
    cut: float = DEFAULT_CUT,
    signal_coverage: float = 0.9,
    random_state: RandomState = None,
) -> ClassifierTestResult:
    """Train template-vs-background on part of both samples and test on the held-out rest.

    ``classifier`` defaults to an :class:`HGBEnsemble` (class-balanced, so
    ``class_ratio = 1``); pass ``class_ratio = n_template / n_background`` for a classifier
    trained without class balancing (the ratio of the total weights, for weighted samples).
    ``signal`` (e.g. the labelled SR signal) enables the comparison of the passing samples
    with the signal. Per-event weights of the template or the background
    (:attr:`~resonant_ad.data.events.Events.weight`) are the classifier's ``sample_weight``
    and weight the held-out AUC and fractions, so an event of weight ``k`` counts as ``k``
    copies of it (not passed to the classifier when neither sample is weighted).
    """
    if template.feature_names != background.feature_names:
        raise InputError(
            f"feature names differ: {template.feature_names} vs {background.feature_names}"
        )
    if not 0 < test_fraction < 1:
        raise InputError(f"test fraction {test_fraction}: must be in (0, 1)")
    if len(template) < 10 or len(background) < 10:
        raise InputError(
            f"classifier test needs at least 10 template ({len(template)}) and background "
            f"({len(background)}) events"
        )
    rng = np.random.default_rng(random_state)
    t_tr, t_te = _split(len(template), test_fraction, rng)
    b_tr, b_te = _split(len(background), test_fraction, rng)
    X = np.concatenate([template.x[t_tr], background.x[b_tr]])
    y = np.r_[np.ones(len(t_tr), dtype=np.int64), np.zeros(len(b_tr), dtype=np.int64)]
    weighted = template.weight is not None or background.weight is not None
    w_t, w_b = template.weights(), background.weights()
    clf: ScoreClassifier
    if classifier is None:
        clf = HGBEnsemble(random_state=int(rng.integers(0, 2**31 - 1)))
    else:
        clf = classifier
    if weighted:
        clf.fit(X, y, sample_weight=np.r_[w_t[t_tr], w_b[b_tr]])
    else:
        clf.fit(X, y)
    p_t = clf.score(template.x[t_te])
    p_b = clf.score(background.x[b_te])
    scores = np.r_[p_t, p_b]
    labels = np.r_[np.ones(len(p_t), dtype=np.int64), np.zeros(len(p_b), dtype=np.int64)]
    test_w = np.r_[w_t[t_te], w_b[b_te]] if weighted else None
    test_auc = auc(*roc_curve(scores, labels, test_w)[:2])
    lw_t = log_weight(p_t, class_ratio)
    lw_b = log_weight(p_b, class_ratio)
    held = template.select(t_te)
    passing = held.select(lw_t > cut)
    held_bkg = background.select(b_te)
    kwargs: dict[str, object] = {}
    if signal is not None:
        if signal.feature_names != template.feature_names:
            raise InputError(
                f"signal feature names {signal.feature_names} differ from the template's "
                f"{template.feature_names}"
            )
        lo, hi = signal_box(signal.x, signal_coverage)
        kwargs["signal_box_fraction_passing"] = _fraction_in_box(passing, lo, hi)
        kwargs["signal_box_fraction_template"] = _fraction_in_box(held, lo, hi)
        kwargs["signal_box_fraction_background"] = _fraction_in_box(held_bkg, lo, hi)
        kwargs["signal_overlap"] = histogram_overlap(
            passing.x, signal.x, weight_a=passing.weight, weight_b=signal.weight
        )
    result = ClassifierTestResult(
        auc=test_auc,
        log_weight_template=lw_t,
        log_weight_background=lw_b,
        cut=cut,
        passing=passing,
        pass_fraction=_weighted_mean(lw_t > cut, held.weights()),
        feature_names=template.feature_names,
        **kwargs,  # type: ignore[arg-type]
    )
    log.info("classifier test: %s", result.summary())
    return result
