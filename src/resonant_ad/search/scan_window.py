"""The cut-and-count search in one window of a scan: template, classifier, counts.

The data in the window are classified against background template samples with k-fold
cross-prediction, so every data and template event gets an out-of-fold score. A cut keeps the
fraction ``eps`` of *template* events with the highest scores, and the observed count is the
number of SR data events passing it; the template's count, ``N_data * eps_template``, is the
window's own expectation, which the scan then calibrates on its other windows
(:mod:`resonant_ad.search.background`). Where the data carry labels (an injected or
simulated sample) every cut also records the true background and signal counts that passed.
Weighted data (a Poisson-bootstrap replica) are counted by their weights.

The sideband estimate (``[scan] background = "sidebands"``; always kept as a diagnostic):
the data in the two sidebands next to the window (each as wide as the window), scored by the
same classifier (the same number of ensemble members per event as the out-of-fold scores);
their pass fractions interpolated linearly in ``mjj`` to the window: the central value from
the near halves of the sidebands, and an interpolation uncertainty, the difference from the
interpolation between the whole sidebands. Measured on the Pythia dev sample it fails where
the features depend on ``mjj`` sharply (the ``dR`` edge of the leading-jet pT cut): what the
classifier learned is densest at the window's own masses, and background-only scans gave
|Z| up to 8.6.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from resonant_ad.config import StudyConfig
from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion
from resonant_ad.search.cache import Cache
from resonant_ad.search.counts import Sidebands, WindowResult, cut_and_count
from resonant_ad.search.seeds import Stream, stream_seed
from resonant_ad.search.windows import window_seed

__all__ = [
    "ScoreFunction",
    "TemplateSampler",
    "fold_scores",
    "scan_window",
    "scan_windows",
    "window_task",
    "window_template",
]

log = logging.getLogger(__name__)

SCAN_FOLDS = 5
"""Folds of a window's out-of-fold scores (fewer where ``[classifier] ensemble_size`` is
smaller: one member per fold at least)."""

TemplateSampler = Callable[[SignalRegion, Events, int], Events]
"""``(window, SR data, seed) -> template samples`` (label 0) in the window."""
ScoreFunction = Callable[[Events, Events, Events, int], tuple[np.ndarray, np.ndarray, np.ndarray]]
"""``(SR data, template, sideband data, seed) -> (data, template, sideband scores)``: SR data
and template scored out of fold, sideband data by as many members per event."""


def scan_window(
    data: Events,
    window: SignalRegion,
    sample_template: TemplateSampler,
    score: ScoreFunction,
    *,
    efficiencies: Sequence[float] = (0.1, 0.01),
    seed: int = 0,
) -> WindowResult:
    """The cut-and-count search in one window (see the module docstring).

    The counts are made with the window's template alone (``expected_template``) and, as a
    diagnostic, from its sidebands; the scan's background estimate is made afterwards, from
    all windows (:mod:`resonant_ad.search.background`). The data's labels (a simulated or
    injected sample) give the true background and signal passing each cut
    (``true_background``, ``true_signal``); weighted data (a Poisson-bootstrap replica) are
    counted by their weights.
    """
    sr_data = data.select(window.contains(data.m))
    t0 = time.perf_counter()
    template = sample_template(window, sr_data, seed)
    t1 = time.perf_counter()
    left = data.select((data.m >= window.lo - window.width) & (data.m < window.lo))
    right = data.select((data.m > window.hi) & (data.m <= window.hi + window.width))
    sb_data = Events.concatenate([left, right])
    d_scores, t_scores, sb_scores = score(sr_data, template, sb_data, seed)
    t2 = time.perf_counter()
    sidebands = Sidebands(sb_scores, sb_data.m, (window.lo, window.hi), _mean_mass(sr_data))
    weights = sr_data.weights()
    counts = cut_and_count(
        d_scores,
        t_scores,
        efficiencies,
        sidebands,
        template.weight,
        sr_data.weight,
        sr_data.label,
    )
    log.info(
        "%s: %d data, %d template, Z from its own sidebands = %s (the scan's table gives Z "
        "from the estimate calibrated across windows; template %.1f s, classifier %.1f s)",
        window,
        len(sr_data),
        len(template),
        ", ".join(f"{c.significance:+.2f}@{c.efficiency:g}" for c in counts),
        t1 - t0,
        t2 - t1,
    )
    return WindowResult(
        (window.lo, window.hi),
        float(weights.sum()),
        len(template),
        float(np.sum(weights[sr_data.label == 1])),
        tuple(counts),
        t1 - t0,
        t2 - t1,
    )


def _mean_mass(events: Events) -> float:
    return float(np.average(events.m, weights=events.weights()))


def scan_windows(
    data: Events,
    windows: Sequence[SignalRegion],
    sample_template: TemplateSampler,
    score: ScoreFunction,
    *,
    efficiencies: Sequence[float] = (0.1, 0.01),
    seed: int = 0,
    progress: bool = True,
) -> list[WindowResult]:
    """:func:`scan_window` in every window, one after the other (seeded by
    :func:`window_seed`)."""
    from tqdm.auto import tqdm

    return [
        scan_window(
            data,
            w,
            sample_template,
            score,
            efficiencies=efficiencies,
            seed=window_seed(seed, w),
        )
        for w in tqdm(windows, desc="scan", disable=not progress)
    ]


def fold_scores(
    clf: Any, X: np.ndarray, rng: np.random.Generator, rounds: bool = False
) -> np.ndarray:
    """Scores of new events from the members of one random fold each.

    Member ``i`` of a k-fold ensemble holds out fold ``i % n_folds``: an out-of-fold score
    averages the members of one fold. New events get the same kind of average (a random
    fold each), so their scores are distributed like the out-of-fold ones. ``rounds``: shape
    ``(R, n)``, row ``r`` the score by the member of repetition ``r`` of the split for the
    event's fold, as :func:`~resonant_ad.detect.weakly_supervised.out_of_fold_scores` with
    ``rounds=True`` scores the events it trained on.
    """
    k_folds = clf.n_folds
    fold = rng.integers(0, k_folds, size=len(X))
    n_rounds = len(clf.members_) // k_folds
    out = np.zeros((n_rounds, len(X)) if rounds else len(X))
    for k in range(k_folds):
        sel = fold == k
        if not sel.any():
            continue
        if rounds:
            for r in range(n_rounds):
                out[r, sel] = clf.score_members(X[sel], [r * k_folds + k])
        else:
            out[sel] = clf.score_members(X[sel], range(k, len(clf.members_), k_folds))
    return out


def window_template(
    method: Any, model: Any, sr_data: Events, window: SignalRegion, config: StudyConfig, seed: int
) -> Events:
    """The template of a registered ``method``'s trained ``model`` in a scan's ``window``: as
    many times the window's data ``sr_data`` as ``[classifier] oversampling`` says, drawn
    with the window's ``seed`` (a weighted replica's masses as the events they stand for)."""
    from resonant_ad.methods.inputs import RegionInputs

    events = sr_data.expanded()
    inputs = RegionInputs(window, events, events, config, stream_seed(seed, Stream.TEMPLATE))
    n = config.classifier.oversampling * len(events)
    return method.template(model, inputs.blind(), n)


def window_task(
    root: str,
    key: str,
    method: Any,
    model: Any,
    data: Events,
    window: SignalRegion,
    config: StudyConfig,
    seed: int,
) -> WindowResult:
    """Task: one window of a scan with a registered ``method`` (stored as JSON under ``key``)."""
    from resonant_ad.detect.weakly_supervised import out_of_fold_scores
    from resonant_ad.methods.inputs import RegionInputs

    def sample_template(region: SignalRegion, sr_data: Events, s: int) -> Events:
        return window_template(method, model, sr_data, region, config, s)

    def score(
        sr_data: Events, template: Events, sb_data: Events, s: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        seed = stream_seed(s, Stream.CLASSIFIER)
        inputs = RegionInputs(window, sr_data, sr_data, config, seed)
        # every event held out once: as many folds as members, at most SCAN_FOLDS
        size = config.classifier.ensemble_size
        clf = inputs.classifier(n_estimators=size, n_folds=min(size, SCAN_FOLDS))
        rounds = config.scan.counts == "rounds"
        d, t = out_of_fold_scores(sr_data, template, classifier=clf, rounds=rounds)
        return d, t, fold_scores(clf, sb_data.x, np.random.default_rng(seed), rounds)

    def compute() -> dict[str, Any]:
        res = scan_window(
            data, window, sample_template, score, efficiencies=config.scan.efficiencies, seed=seed
        )
        return res.to_dict()

    return WindowResult.from_dict(Cache(root).json("windows", key, compute))
