"""The sliding-window bump hunt: a template, a classifier and a cut-and-count in every window.

For each signal-region window the data in the window are classified against background
template samples with k-fold cross-prediction, so every data and template event gets an
out-of-fold score. A cut keeps the fraction ``eps`` of *template* events with the highest
scores, and the observed count is the number of SR data events passing it.

The expected background after a cut is the template's count, ``N_data * eps_template``,
calibrated by the scan itself (``background = "calibrated"``, the default): a classifier
that learned template mismodelling passes more data than template events even without
signal, and the ratio is predicted for each window from the other windows of the scan
(:mod:`resonant_ad.search.background`). Where the data carry labels (an injected or
simulated sample) every cut also records the true background and signal counts that passed.
A scan runs on weighted data too (a Poisson-bootstrap replica): counts are sums of weights,
the classifier trains with them, and the models train on the events they stand for.

The sideband estimate (``background = "sidebands"``; always kept as a diagnostic): the data
in the two sidebands next to the window (each as wide as the window), scored by the same
classifier (the same number of ensemble members per event as the out-of-fold scores); their
pass fractions interpolated linearly in ``mjj`` to the window: the central value from the
near halves of the sidebands, and an interpolation uncertainty, the difference from the
interpolation between the whole sidebands. Measured on the Pythia dev sample it fails where
the features depend on ``mjj`` sharply (the ``dR`` edge of the leading-jet pT cut): what the
classifier learned is densest at the window's own masses, and background-only scans gave
|Z| up to 8.6. The Poisson significance (Cowan et al., with the
background uncertainty) is signed: a deficit gives a negative ``Z``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from resonant_ad.config import StudyConfig
from resonant_ad.data.events import Events
from resonant_ad.data.injection import inject_signal
from resonant_ad.data.regions import SignalRegion, sliding_windows
from resonant_ad.errors import InputError
from resonant_ad.search.background import calibrated_expectations, check_references
from resonant_ad.search.cache import Cache, file_fingerprint, fingerprint
from resonant_ad.search.counts import (
    CutCount,
    Sidebands,
    WindowResult,
    cut_and_count,
    signed_significance,
)
from resonant_ad.search.engine import Ref
from resonant_ad.search.inputs import StudyInputs
from resonant_ad.search.seeds import Stream, stream_seed

__all__ = [
    "CutCount",
    "ScanResult",
    "Sidebands",
    "WindowResult",
    "calibrated_expectations",
    "check_scan_range",
    "cut_and_count",
    "fold_scores",
    "global_significance",
    "run_scan",
    "run_scans",
    "scan_data",
    "scan_regions",
    "scan_window",
    "scan_windows",
    "signed_significance",
    "window_seed",
    "window_task",
]

log = logging.getLogger(__name__)

MIN_WINDOW_EVENTS = 500
"""Windows with fewer data events than this are skipped."""
MIN_SIDEBAND_EVENTS = 250
"""Windows whose sidebands' near halves hold fewer events than this are skipped."""

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
    counts = []
    for c in cut_and_count(
        d_scores, t_scores, efficiencies, sidebands, template.weight, sr_data.weight
    ):
        passed = d_scores > c.threshold
        counts.append(
            dataclasses.replace(
                c,
                true_background=float(np.sum(weights[passed & (sr_data.label == 0)])),
                true_signal=float(np.sum(weights[passed & (sr_data.label == 1)])),
            )
        )
    log.info(
        "%s: %d data, %d template, Z = %s (template %.1f s, classifier %.1f s)",
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


def window_seed(base: int, window: SignalRegion) -> int:
    """The base seed of a window's template and classifier: the scan's seed and the window.

    >>> window_seed(0, SignalRegion(3.3, 3.7)) != window_seed(0, SignalRegion(3.4, 3.8))
    True
    """
    parts = [base, round(window.lo * 1e6), round(window.hi * 1e6)]
    return int(np.random.SeedSequence(parts).generate_state(1)[0])


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


def fold_scores(clf: Any, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scores of new events from the members of one random fold each.

    Member ``i`` of a k-fold ensemble holds out fold ``i % n_folds``: an out-of-fold score
    averages the members of one fold. New events get the same kind of average (a random
    fold each), so their scores are distributed like the out-of-fold ones.
    """
    fold = rng.integers(0, clf.n_folds, size=len(X))
    out = np.zeros(len(X))
    for k in range(clf.n_folds):
        sel = fold == k
        if sel.any():
            out[sel] = clf.score_members(X[sel], range(k, len(clf.members_), clf.n_folds))
    return out


def global_significance(
    z_by_cut: Sequence[Sequence[float]], level: float = 0.5
) -> dict[str, float]:
    """The largest local excess and its global significance (look-elsewhere effect).

    Gross and Vitells (Eur. Phys. J. C 70 (2010) 525): the chance that background alone
    gives an excess of ``u`` somewhere in the scan is about ``p_local(u) + N(u0)
    exp(-(u^2 - u0^2) / 2)``, with ``N(u0)`` the number of up-crossings of a low reference
    level ``u0`` (``level``) by ``Z`` along the scan, counted here in the observed scan (a
    start above ``u0`` counts as one). Each cut is a scan of its own: their ``N(u0)`` add
    up, as do their ``p_local`` (a bound for correlated cuts).

    >>> g = global_significance([[0.2, 1.1, -0.3, 0.9, 4.0, 1.0, -0.5]])
    >>> round(g["local"], 2), g["upcrossings"], round(g["global"], 2)
    (4.0, 2.0, 3.16)
    """
    from scipy.stats import norm

    z = [np.asarray(c, dtype=np.float64) for c in z_by_cut if len(c)]
    if not z:
        return {"local": float("nan"), "global": float("nan"), "upcrossings": 0.0}
    u = max(float(c.max()) for c in z)
    crossings = sum(
        float(c[0] >= level) + float(np.sum((c[:-1] < level) & (c[1:] >= level))) for c in z
    )
    if u <= level:  # no excess beyond the reference level: nothing to correct
        return {"local": u, "global": u, "upcrossings": crossings}
    p = len(z) * float(norm.sf(u)) + crossings * float(np.exp(-(u * u - level * level) / 2))
    return {"local": u, "global": float(norm.isf(min(p, 0.5))), "upcrossings": crossings}


@dataclass(frozen=True)
class ScanResult:
    """A whole scan: its windows and what it cost."""

    method: str
    n_sig: int
    efficiencies: tuple[float, ...]
    windows: tuple[WindowResult, ...]
    skipped: tuple[str, ...]
    train_seconds: float
    total_seconds: float

    def to_dict(self) -> dict[str, object]:
        n = max(len(self.windows), 1)
        return {
            "method": self.method,
            "n_sig": self.n_sig,
            "efficiencies": list(self.efficiencies),
            "train_seconds": self.train_seconds,
            "total_seconds": self.total_seconds,
            "seconds_per_window": self.total_seconds / n,
            "max_abs_significance": max((abs(w.significance()) for w in self.windows), default=0),
            "global_significance": global_significance(
                [
                    [w.significance(e) for w in self.windows]
                    for e in self.efficiencies
                    if self.windows
                ]
            ),
            "skipped": list(self.skipped),
            "windows": [w.to_dict() for w in self.windows],
        }


def scan_data(config: StudyConfig, inputs: StudyInputs, n_sig: int | None = None) -> Events:
    """All background plus ``n_sig`` (default ``[scan] n_sig``) signal events, seeded."""
    n_sig = config.scan.n_sig if n_sig is None else n_sig
    return inject_signal(
        inputs.background, inputs.signal, n_sig, np.random.default_rng([config.seed, n_sig])
    )


def check_scan_range(config: StudyConfig, windows: Sequence[SignalRegion] | None = None) -> None:
    """Refuse, in one line and before any training, a scan whose range leaves some window
    too few others to calibrate its background on (:func:`.background.check_references`);
    ``windows`` defaults to all windows of ``[scan]``."""
    sc = config.scan
    if sc.background != "calibrated":
        return
    if windows is None:
        windows = sliding_windows(sc.m_min, sc.m_max, sc.width, sc.step, margin=sc.margin)
    what = f"[scan] {sc.m_min:g}-{sc.m_max:g} TeV"
    check_references([0.5 * (w.lo + w.hi) for w in windows], sc.width, what)


def scan_regions(config: StudyConfig, data: Events) -> tuple[list[SignalRegion], list[str]]:
    """The windows of ``[scan]`` with events enough, and why the others were skipped."""
    sc = config.scan
    skipped: list[str] = []
    windows = []
    for w in sliding_windows(sc.m_min, sc.m_max, sc.width, sc.step, margin=sc.margin):
        try:
            w.check(data.m, min_events=MIN_WINDOW_EVENTS)
            # the near half of each sideband sets the expectation: it needs the events
            half = 0.5 * w.width
            for name, band in (("left", (w.lo - half, w.lo)), ("right", (w.hi, w.hi + half))):
                n_band = int(np.sum((data.m >= band[0]) & (data.m <= band[1])))
                if n_band < MIN_SIDEBAND_EVENTS:
                    raise InputError(
                        f"{w}: the near half of its {name} sideband [{band[0]:.3g}, "
                        f"{band[1]:.3g}] TeV holds {n_band} events, fewer than "
                        f"{MIN_SIDEBAND_EVENTS}"
                    )
            windows.append(w)
        except InputError as err:
            log.info("window skipped: %s", err)
            skipped.append(f"{w}: {err}")
    return windows, skipped


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
    from resonant_ad.detect.classifier import out_of_fold_scores
    from resonant_ad.methods.registry import RegionInputs

    def sample_template(region: SignalRegion, sr_data: Events, s: int) -> Events:
        # a weighted replica's masses as the events they stand for
        events = sr_data.expanded()
        inputs = RegionInputs(region, events, events, config, stream_seed(s, Stream.TEMPLATE))
        n = config.classifier.oversampling * len(events)
        return method.template(model, inputs, n)

    def score(
        sr_data: Events, template: Events, sb_data: Events, s: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        seed = stream_seed(s, Stream.CLASSIFIER)
        inputs = RegionInputs(window, sr_data, sr_data, config, seed)
        # at least one member per fold, so that every event is held out once
        clf = inputs.classifier(n_estimators=max(config.classifier.ensemble_size, 5), n_folds=5)
        d, t = out_of_fold_scores(sr_data, template, classifier=clf)
        return d, t, fold_scores(clf, sb_data.x, np.random.default_rng(seed))

    def compute() -> dict[str, Any]:
        res = scan_window(
            data, window, sample_template, score, efficiencies=config.scan.efficiencies, seed=seed
        )
        return res.to_dict()

    return WindowResult.from_dict(Cache(root).json("windows", key, compute))


def run_scans(
    config: StudyConfig,
    data: Events,
    out_dir: str | Path,
    *,
    methods: Sequence[str],
    model_file: Path | None = None,
    executor: Any = None,
    progress: bool = True,
) -> list[ScanResult]:
    """The sliding-window search of ``config.scan`` on ``data`` with each template method.

    Every method's models and windows are tasks of one graph (:mod:`.engine`): a method
    trained on all data (SIGMA's ``v_data``) trains once, here on 85% of ``data`` (or is read
    from ``model_file``, stored by an earlier training; the windows are keyed by its
    content), and is interpolated into every window; ``cr`` trains one
    sideband model per window (the expensive comparison). Each finished window is stored in
    ``out_dir``, so an interrupted scan resumes.
    """
    from resonant_ad.methods.registry import get
    from resonant_ad.search.engine import Graph, SerialExecutor
    from resonant_ad.search.models import recorded_seconds
    from resonant_ad.search.study import Fingerprints, fit_inputs, model_path, model_task

    executor = executor or SerialExecutor()
    sc = config.scan
    root = str(Path(out_dir))
    # the models train on the events a weighted replica stands for
    events = data.expanded()
    n_val = round(0.15 * len(events))
    train, val = events.select(slice(n_val, None)), events.select(slice(0, n_val))
    check_scan_range(config)
    windows, skipped = scan_regions(config, data)
    check_scan_range(config, windows)
    fp = Fingerprints()
    graph = Graph()
    data_ref = graph.input("scan-data", data)
    given_key = None if model_file is None else file_fingerprint(model_file)
    model_seed = stream_seed(config.seed, Stream.MODEL)
    per_method: list[tuple[str, list[Ref], list[Ref]]] = []
    for name in methods:
        method = get(name)
        if not method.in_scan:
            raise InputError(f"method {name!r} cannot scan: {method!r}")
        window_refs, model_refs = [], []
        for w in windows:
            fit = fit_inputs(method, train, val, w, config, model_seed, progress=progress)
            m_ref: Ref | None = None
            m_key = None
            if fit is not None and fit.region is None and model_file is not None:
                m_key = f"file-{given_key}"
                m_ref = graph.task(
                    f"model-{method.shared_model_id}-{m_key}",
                    method.load_model,
                    model_file,
                    config.device,
                )
            elif fit is not None:
                m_ref, m_key = model_task(graph, root, method, fit, fp)
                model_refs.append(m_ref)
            seed = window_seed(config.seed, w)
            key = fingerprint(
                "window",
                name,
                m_key,
                method.template_settings(config),
                fp(data),
                (w.lo, w.hi),
                asdict(config.classifier),
                list(sc.efficiencies),
                seed,
            )
            window_refs.append(
                graph.task(
                    f"window-{key}",
                    window_task,
                    root,
                    key,
                    method,
                    m_ref,
                    data_ref,
                    w,
                    config,
                    seed,
                )
            )
        per_method.append((name, window_refs, list(dict.fromkeys(model_refs))))
    targets = [r for _, ws, _ in per_method for r in ws]
    values = dict(zip([r.key for r in targets], executor.compute(graph, targets), strict=True))
    out = []
    for name, window_refs, model_refs in per_method:
        results = [values[r.key] for r in window_refs]
        if sc.background == "calibrated":
            results = calibrated_expectations(results, sc.width)
        train_seconds = sum(recorded_seconds(model_path(root, r.key)) for r in model_refs)
        work = sum(w.template_seconds + w.classifier_seconds for w in results)
        out.append(
            ScanResult(
                name,
                round(float(data.weights()[data.label == 1].sum())),
                tuple(sc.efficiencies),
                tuple(results),
                tuple(skipped),
                train_seconds,
                # the cost of the scan in compute seconds: the training of every model it
                # used (whether trained now or read back) and its window work
                train_seconds + work,
            )
        )
    return out


def run_scan(
    config: StudyConfig,
    data: Events,
    out_dir: str | Path,
    *,
    method: str | None = None,
    model_file: Path | None = None,
    executor: Any = None,
    progress: bool = True,
) -> ScanResult:
    """:func:`run_scans` with one method (default: the first of ``[scan] methods``)."""
    name = method or config.scan.methods[0]
    return run_scans(
        config,
        data,
        out_dir,
        methods=[name],
        model_file=model_file,
        executor=executor,
        progress=progress,
    )[0]
