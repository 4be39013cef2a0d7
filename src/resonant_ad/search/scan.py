"""The sliding-window bump hunt: a template, a classifier and a cut-and-count in every window.

Every window of ``[scan]`` that holds events enough (:mod:`resonant_ad.search.windows`) gets
a background template of the method, a weakly supervised classifier of its data against the
template and, at each template efficiency, a cut-and-count
(:mod:`resonant_ad.search.scan_window`). The expected background after a cut is the
template's count calibrated by the scan itself (``background = "calibrated"``, the default):
a classifier that learned template mismodelling passes more data than template events even
without signal, and the ratio is predicted for each window from the other windows of the
scan (:mod:`resonant_ad.search.background`); ``background = "sidebands"`` takes the
interpolation of the window's sidebands instead. The Poisson significance (Cowan et al.,
with the background uncertainty) is signed: a deficit gives a negative ``Z``; the scan's
result (:mod:`resonant_ad.search.scan_result`) adds each window's significance as far as its
neighbours confirm it and the global significance of the largest confirmed excess. A scan
runs on weighted data too (a Poisson-bootstrap replica): counts are sums of weights, the
classifier trains with them, and the models train on the events they stand for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from resonant_ad.config import StudyConfig
from resonant_ad.data.events import Events
from resonant_ad.data.injection import inject_signal
from resonant_ad.errors import InputError
from resonant_ad.search.background import calibrated_expectations
from resonant_ad.search.cache import file_fingerprint, fingerprint
from resonant_ad.search.checks import check_methods
from resonant_ad.search.engine import Ref
from resonant_ad.search.inputs import StudyInputs
from resonant_ad.search.scan_result import ScanResult, confirmed_significances
from resonant_ad.search.scan_window import window_task
from resonant_ad.search.seeds import Stream, stream_seed
from resonant_ad.search.windows import check_scan_range, scan_regions, window_seed

__all__ = ["run_scan", "run_scans", "scan_data", "training_split"]


def scan_data(
    config: StudyConfig, inputs: StudyInputs, n_sig: int | None = None, injection: int | None = None
) -> Events:
    """All background plus ``n_sig`` (default ``[scan] n_sig``) signal events, the draw
    seeded by the study's seed and ``n_sig`` (and ``injection``, the number of one of
    several draws of the same size; injection 0 is the draw without a number, NumPy's seed
    sequences padding with zeros)."""
    n_sig = config.scan.n_sig if n_sig is None else n_sig
    if n_sig > 0 and len(inputs.signal) == 0:
        raise InputError(
            f"{n_sig} signal events to inject, but {config.data.events} has no signal (label 1) "
            "events and no [data] signal file is given: for data without signal labels set "
            "[scan] n_sig = 0 (or --n-sig 0)"
        )
    seed = [config.seed, n_sig, *(() if injection is None else (injection,))]
    return inject_signal(inputs.background, inputs.signal, n_sig, np.random.default_rng(seed))


def training_split(data: Events) -> tuple[Events, Events]:
    """The events a scan's models train on: 85% of ``data`` for training, the first 15% to
    validate, a weighted replica as the events it stands for."""
    events = data.expanded()
    n_val = round(0.15 * len(events))
    return events.select(slice(n_val, None)), events.select(slice(0, n_val))


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
    from resonant_ad.search.graph import Fingerprints, fit_inputs, model_task
    from resonant_ad.search.models import recorded_seconds
    from resonant_ad.search.tasks import model_path

    check_methods(config)
    executor = executor or SerialExecutor()
    sc = config.scan
    root = str(Path(out_dir))
    train, val = training_split(data)
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
                # keys of scans that count the ensemble's cut stay as they were
                *(() if sc.counts == "ensemble" else (sc.counts,)),
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
        results = confirmed_significances(results, sc.width)
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
