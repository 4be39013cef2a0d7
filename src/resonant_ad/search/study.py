"""The config-driven study: injections x signal regions x methods, as one graph of tasks.

For every ``N_sig``, injection and SR, each method of the config becomes a few tasks of the
engine (:mod:`resonant_ad.search.engine`), added by
:class:`~resonant_ad.search.builder.StudyBuilder`: its trained model (keyed by the method's
``model_id``, its settings and the events it trained on, so SIGMA's templates share one
``v_data`` and ``cr`` trains one per SR; a method with a ``base_method`` gets that method's
trained model, e.g. ``feta`` the ``sim-nf`` flow of the simulation), its template or scores
in the SR, the weakly supervised classifier's test scores and, where asked for, the
validation windows. Every finished piece is stored in the run folder, so an interrupted
study resumes and a changed classifier setting reuses the generative models and templates.
:func:`run_study` returns a :class:`~resonant_ad.search.results.StudyResult`;
:mod:`resonant_ad.report.outputs` writes it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from resonant_ad.config import StudyConfig
from resonant_ad.data.events import Events
from resonant_ad.data.injection import Injection, make_injections, split_signal_pool
from resonant_ad.data.regions import SignalRegion
from resonant_ad.methods.inputs import RegionInputs
from resonant_ad.methods.registry import get
from resonant_ad.search.builder import StudyBuilder
from resonant_ad.search.checks import check_methods
from resonant_ad.search.engine import Executor, Ref, SerialExecutor
from resonant_ad.search.inputs import StudyInputs
from resonant_ad.search.models import recorded_seconds
from resonant_ad.search.results import StudyResult
from resonant_ad.search.tasks import model_path, score_task

__all__ = ["run_study", "study_injections"]

log = logging.getLogger(__name__)


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
    check_methods(config)
    executor = executor or SerialExecutor()
    out = Path(out_dir)
    b = StudyBuilder(config, inputs, out, progress and isinstance(executor, SerialExecutor))
    g = b.graph
    extra = inputs.extra_background
    extra_iad = None if extra is None else extra.select(slice(1, None, 2))
    pool, _ = split_signal_pool(inputs.signal)  # the supervised yardstick's signal
    methods = [get(name) for name in config.methods]
    targets: list[Ref] = []
    example_refs: list[tuple[tuple[tuple[float, float], int], str, Ref]] = []
    model_refs: dict[tuple[str, int, int, tuple[float, float]], Ref] = {}
    null_refs: dict[tuple[str, int, int, tuple[float, float]], list[Ref]] = {}
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
                    if p["nulls"]:
                        null_refs[(method.name, n_sig, k, srt)] = p["nulls"]
                    if p["background"] is not None:
                        bg_name, bg_ref = p["background"]
                        model_refs.setdefault((bg_name, n_sig, k, srt), bg_ref)
                    if k == 0 and p["template"] is not None:
                        example_refs.append(((srt, n_sig), method.name, p["template"]))
                    result = g.task(
                        f"result-{tag}-{method.name}",
                        score_task,
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
    nulls_flat = [r for refs in null_refs.values() for r in refs]
    everything = [*targets, *(r for _, _, r in example_refs), *nulls_flat]
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
    null_fits = {where: [results[r.key] for r in refs] for where, refs in null_refs.items()}
    return StudyResult(
        config, scores_out, train_seconds, examples, model_files, fractions, null_fits
    )
