"""The injection test of data without labels: does each template learn an artificial signal,
and does the scan find as much of it as was injected?

SIGMA's paper (its conclusions, section IV) proposes it for real data, where no label tells
a template's mismodelling from a signal: add a signal whose every event is known
(:mod:`resonant_ad.data.bump`), rerun, and look at two things.

- **The template's uptake** (:class:`Uptake`), in the scan window holding most of the bump:
  the template's count in the bump's core (normalised to the window's data) less that of
  the same method's template from a model trained on the data without the bump (the same
  window, masses and seed: what the template holds there anyway, its mismodelling
  included), over the bump's events there. A template trained on the window's events
  (``data``) takes the bump up (uptake towards 1), and a classifier against it cannot see
  it; one interpolated from the sidebands (``sigma-*``) or trained on them (``cr``) should
  leave it out (uptake near 0). An interpolation that takes up part of the bump hides that
  part from the search.
- **The scan's recovery** (:class:`Recovery`), in the same window, at every cut: the
  observed count over the background estimate, ``observed - expected``, against the bump's
  events that passed the cut, with the estimate's uncertainty and the Poisson fluctuation
  (the pull). A scan that recovers the injected size is one whose excess on the real data
  can be read as a number of signal events.

:func:`run_injection_test` runs the scan with every method on the data plus the bump (its
models and windows tasks of the engine, stored in the output folder), then draws the
templates of the bump's window from the same stored models and from models trained on the
data alone (one more training per model). On the dev sample a compact bump (spreads a tenth
of the features') was taken up by no template, a broader one by all, the interpolations
less than ``data`` (``benchmarks/scan/injection_test.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from resonant_ad.config import StudyConfig
from resonant_ad.data.bump import ArtificialBump
from resonant_ad.data.events import Events
from resonant_ad.search.counts import CutCount, WindowResult
from resonant_ad.search.scan_result import ScanResult

__all__ = ["InjectionTest", "Recovery", "Uptake", "recovery", "run_injection_test", "uptake"]


@dataclass(frozen=True)
class Uptake:
    """How much of the bump a method's template took up, in the bump's core of one window.
    Counts are normalised to the window's data."""

    method: str
    bump: float
    """The bump's events in the core."""
    data: float
    """The data's own events in the core."""
    template: float
    """The template's count in the core."""
    baseline: float
    """The count in the core of the template of a model trained without the bump."""
    sample_uncertainty: float
    """The uncertainty of ``template - baseline`` from the two templates' finite samples."""

    @property
    def fraction(self) -> float:
        """``(template - baseline) / bump``: 1 where the template took up the whole bump, 0
        where it took up none."""
        return (self.template - self.baseline) / self.bump if self.bump > 0 else float("nan")

    @property
    def uncertainty(self) -> float:
        """The fraction's uncertainty from the templates' samples (the two trainings' own
        randomness is not in it)."""
        return self.sample_uncertainty / self.bump if self.bump > 0 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fraction": self.fraction, "uncertainty": self.uncertainty}


@dataclass(frozen=True)
class Recovery:
    """The scan's excess at one cut of the bump's window against the bump events that passed."""

    method: str
    efficiency: float
    injected: float
    """The bump's events that passed the cut."""
    excess: float
    """``observed - expected``."""
    uncertainty: float
    """The excess's uncertainty: the estimate's and the expected count's Poisson
    fluctuation."""
    significance: float
    confirmed_significance: float

    @property
    def pull(self) -> float:
        """``(excess - injected) / uncertainty``."""
        return (self.excess - self.injected) / self.uncertainty

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "pull": self.pull}


def uptake(
    method: str, bump: ArtificialBump, sr_data: Events, template: Events, baseline: Events
) -> Uptake:
    """:class:`Uptake` of ``template`` against ``baseline`` (the same method's template of a
    model trained without the bump) in the window whose data (with the bump, label 1) are
    ``sr_data``."""
    core = bump.in_core(sr_data.x)
    w = sr_data.weights()

    def in_core(t: Events) -> tuple[float, float]:
        tw = t.weights()
        scale = float(w.sum() / tw.sum())
        inside = tw[bump.in_core(t.x)]
        return scale * float(inside.sum()), scale**2 * float(np.sum(inside**2))

    (t, t_var), (b, b_var) = in_core(template), in_core(baseline)
    return Uptake(
        method,
        float(w[core & (sr_data.label == 1)].sum()),
        float(w[core & (sr_data.label == 0)].sum()),
        t,
        b,
        math.sqrt(t_var + b_var),
    )


def recovery(method: str, cut: CutCount) -> Recovery:
    """:class:`Recovery` of one cut of the bump's window (its labels: the bump)."""
    return Recovery(
        method,
        cut.efficiency,
        cut.true_signal,
        cut.observed - cut.expected,
        math.sqrt(cut.expected * cut.dispersion + cut.expected_uncertainty**2),
        cut.significance,
        cut.confirmed_significance,
    )


@dataclass(frozen=True)
class InjectionTest:
    """What :func:`run_injection_test` found."""

    bump: ArtificialBump
    signal_region: tuple[float, float]
    """The scan window holding most of the bump."""
    bump_in_window: float
    scans: tuple[ScanResult, ...]
    uptakes: tuple[Uptake, ...]
    recoveries: tuple[Recovery, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "bump": self.bump.to_dict(),
            "signal_region": list(self.signal_region),
            "bump_in_window": self.bump_in_window,
            "uptake": [u.to_dict() for u in self.uptakes],
            "recovery": [r.to_dict() for r in self.recoveries],
            "largest_confirmed_excess": {
                s.method: _largest(s.windows) for s in self.scans if s.windows
            },
        }

    def table(self) -> str:
        """The findings as printed lines."""
        lo, hi = self.signal_region
        b = self.bump
        lines = [
            f"injection test: {b.n_events} bump events at {b.mass:g} +- {b.width:g} TeV, "
            f"{self.bump_in_window:.0f} of them in the window [{lo:.2f}, {hi:.2f}] TeV",
            "template uptake of the bump in its core (1: the template learned it, 0: not)",
        ]
        for u in self.uptakes:
            lines.append(
                f"  {u.method:<14} {u.fraction:+.2f} +- {u.uncertainty:.2f}  (template "
                f"{u.template:.1f}, without the bump {u.baseline:.1f}, data's own {u.data:.1f}, "
                f"bump {u.bump:.1f})"
            )
        lines.append("the scan's excess in the window against the bump events passing each cut")
        lines.append(
            f"  {'method':<14} {'cut':>7} {'injected':>9} {'excess':>16} {'pull':>6} {'Z':>6}"
        )
        for r in self.recoveries:
            lines.append(
                f"  {r.method:<14} {r.efficiency:>7g} {r.injected:>9.1f} "
                f"{r.excess:>8.1f} +- {r.uncertainty:<5.1f} {r.pull:>+6.2f} "
                f"{r.significance:>+6.2f}"
            )
        for s in self.scans:
            if not s.windows:
                continue
            top = _largest(s.windows)
            where = top["signal_region"]
            lines.append(
                f"  {s.method}: largest confirmed excess Z {top['z']:+.2f} in "
                f"[{where[0]:.2f}, {where[1]:.2f}] TeV at {top['efficiency']:g}"
            )
        return "\n".join(lines)


def _largest(windows: Sequence[WindowResult]) -> dict[str, Any]:
    w, c = max(
        ((w, c) for w in windows for c in w.counts),
        key=lambda wc: wc[1].confirmed_significance,
    )
    return {
        "signal_region": list(w.signal_region),
        "efficiency": c.efficiency,
        "z": c.confirmed_significance,
    }


def run_injection_test(
    config: StudyConfig,
    data: Events,
    bump: ArtificialBump,
    out_dir: str | Path,
    *,
    methods: Sequence[str],
    executor: Any = None,
    progress: bool = True,
) -> InjectionTest:
    """Scan ``data`` plus ``bump`` (seeded by the config's seed) with each of ``methods``
    and measure each template's uptake and the scan's recovery (see the module docstring).
    ``data``'s own labels are ignored: they are the data, the bump is the signal."""
    from resonant_ad.methods.registry import get
    from resonant_ad.search.engine import Graph, SerialExecutor
    from resonant_ad.search.graph import Fingerprints, fit_inputs, model_task
    from resonant_ad.search.scan import run_scans, training_split
    from resonant_ad.search.scan_window import window_template
    from resonant_ad.search.seeds import Stream, stream_seed
    from resonant_ad.search.windows import scan_regions, window_seed

    executor = executor or SerialExecutor()
    root = str(Path(out_dir))
    injected = bump.inject(data, config.seed)
    scans = run_scans(config, injected, root, methods=methods, executor=executor, progress=progress)
    # the window holding most of the bump, and its template from each stored model
    windows, _ = scan_regions(config, injected)
    best = max(scans[0].windows, key=lambda w: w.n_signal_true)
    window = next(w for w in windows if (w.lo, w.hi) == best.signal_region)
    sr_data = injected.select(window.contains(injected.m))
    graph, fp = Graph(), Fingerprints()
    data_ref = graph.input("window-data", sr_data)
    seed = window_seed(config.seed, window)
    refs: dict[tuple[str, str], Any] = {}
    # each method's models trained with the bump (stored by the scan) and without it, and
    # their templates at the same masses with the same seed
    model_seed = stream_seed(config.seed, Stream.MODEL)
    for kind, events in (("bump", injected), ("without", data.with_label(0))):
        train, val = training_split(events)
        for name in methods:
            method = get(name)
            fit = fit_inputs(method, train, val, window, config, model_seed)
            if fit is None:  # no model, no template (cwola)
                continue
            model_ref, _ = model_task(graph, root, method, fit, fp)
            refs[(kind, name)] = graph.task(
                f"{kind}-template-{name}",
                window_template,
                method,
                model_ref,
                data_ref,
                window,
                config,
                seed,
            )
    templates = dict(zip(refs, executor.compute(graph, list(refs.values())), strict=True))
    uptakes = tuple(
        uptake(name, bump, sr_data, templates[(kind, name)], templates[("without", name)])
        for kind, name in refs
        if kind == "bump"
    )
    recoveries = tuple(
        recovery(s.method, c)
        for s in scans
        for w in s.windows
        if w.signal_region == best.signal_region
        for c in w.counts
    )
    return InjectionTest(
        bump,
        best.signal_region,
        best.n_signal_true,
        tuple(scans),
        uptakes,
        recoveries,
    )
