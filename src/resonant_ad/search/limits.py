"""Upper limits on the signal a window's cut passes: CLs with pyhf, one counting experiment per
window and cut.

A scan's window and cut is a one-bin counting experiment: ``observed`` events against the
calibrated background ``expected`` with its uncertainty ``expected_uncertainty``
(:mod:`resonant_ad.search.background`). Each is written as a HistFactory workspace
(:func:`workspace`): a signal sample whose normalisation, the parameter of interest
``n_signal``, is the number of signal events passing the cut (divided by a signal
efficiency, where one is given, the number in the window before the cut), and the background
sample with the estimate's uncertainty as a constrained nuisance parameter (``normsys``: a
log-normal factor, ``1 + r`` at +1 sigma and ``1 / (1 + r)`` at -1 sigma for the relative
uncertainty ``r = uncertainty / expected``, so the background stays positive however large
``r``; a Poisson-constrained ``shapesys`` made pyhf's expected band saturate from ``r``
about 0.5, which the toy scans' estimates reach). pyhf (the field's
HistFactory implementation, readable by cabinetry and ROOT's HistFactory) gives the 95% CL
CLs upper limit on ``n_signal``, observed and expected with its +-1 and +-2 sigma band, and
the discovery significance (``q0``), all from the asymptotic formulae (the profile
likelihood ratio ``q~_mu``, Cowan et al., Eur. Phys. J. C 71 (2011) 1554).

A count averaged over several cuts (``[scan] counts = "rounds"``) fluctuates like a Poisson
count scaled by its ``dispersion`` ``d``: the workspace holds ``observed / d`` and
``expected / d`` events and a signal of ``1 / d`` per unit of ``n_signal``, so ``n_signal``
stays a number of events.

The asymptotic formulae hold for counts of tens of events and more: against the textbook
CLs of a Poisson count with a known background (``test_limits.py``) the limit agrees within
3% at 100 events and is lower (anticonservative) at a few events, e.g. 6.0 against 6.8 for 3
observed over a background of 1. ``benchmarks/scan/limits_coverage.py`` measures how often
the limits of the dev-sample scans cover the true signal.

:func:`scan_limits` makes every limit of a scan a task of the engine
(:mod:`resonant_ad.search.engine`): stored in the output folder under a key of the cut's
counts and the signal efficiency, so a second run (or an interrupted one) reads back what is
done, and run in parallel on local workers or a Dask cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from resonant_ad.errors import InputError
from resonant_ad.search.cache import Cache, fingerprint
from resonant_ad.search.counts import CutCount, WindowResult

__all__ = [
    "CL",
    "Limit",
    "discovery_significance",
    "injected_efficiencies",
    "scan_limits",
    "selected_cuts",
    "upper_limit",
    "workspace",
]

CL = 0.95
"""The confidence level of the limits."""
POI = "n_signal"
"""The parameter of interest: the signal events (passing the cut, or before it over a given
efficiency)."""


@dataclass(frozen=True)
class Limit:
    """The 95% CL CLs upper limits on the signal of one window and cut."""

    signal_region: tuple[float, float]
    efficiency: float
    observed: float
    """The observed limit on ``n_signal``."""
    expected: tuple[float, float, float, float, float]
    """The expected limit at -2, -1, 0, +1 and +2 standard deviations of background-only
    pseudo-experiments."""
    discovery_significance: float
    """pyhf's significance of the excess (``q0``; 0 for a deficit)."""
    signal_efficiency: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {**d, "signal_region": list(d["signal_region"]), "expected": list(d["expected"])}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Limit:
        region, expected = tuple(d["signal_region"]), tuple(d["expected"])
        return cls(**{**d, "signal_region": region, "expected": expected})


def workspace(
    cut: CutCount, *, signal_efficiency: float = 1.0, name: str = "window"
) -> dict[str, Any]:
    """The HistFactory workspace (pyhf's JSON schema) of one window's cut: one channel
    ``name`` with one bin, the signal sample ``signal`` normalised by ``n_signal`` and the
    background sample ``background`` with its uncertainty (see the module docstring).

    >>> from resonant_ad.search.counts import CutCount
    >>> ws = workspace(CutCount(0.01, 0.9, 12.0, 10.0, 2.0, 0.6, 8.0))
    >>> ws["observations"], ws["channels"][0]["samples"][1]["data"]
    ([{'name': 'window', 'data': [12.0]}], [10.0])
    """
    if not 0 < signal_efficiency <= 1:
        raise InputError(f"signal efficiency {signal_efficiency}: must be in (0, 1]")
    if not (cut.expected > 0 and cut.expected_uncertainty >= 0 and cut.observed >= 0):
        raise InputError(
            f"cut at {cut.efficiency:g}: a limit needs a positive expectation, got "
            f"{cut.expected:g} +- {cut.expected_uncertainty:g} for {cut.observed:g} observed"
        )
    d = cut.dispersion
    r = cut.expected_uncertainty / cut.expected
    return {
        "version": "1.0.0",
        "channels": [
            {
                "name": name,
                "samples": [
                    {
                        "name": "signal",
                        "data": [signal_efficiency / d],
                        "modifiers": [{"name": POI, "type": "normfactor", "data": None}],
                    },
                    {
                        "name": "background",
                        "data": [cut.expected / d],
                        "modifiers": [
                            {
                                "name": "background_estimate",
                                "type": "normsys",
                                "data": {"hi": 1.0 + r, "lo": 1.0 / (1.0 + r)},
                            }
                        ],
                    },
                ],
            }
        ],
        "observations": [{"name": name, "data": [cut.observed / d]}],
        "measurements": [{"name": "limit", "config": {"poi": POI, "parameters": []}}],
    }


def _model_and_data(ws: dict[str, Any]) -> tuple[Any, list[float], list[tuple[float, float]]]:
    import pyhf

    pyhf.set_backend("numpy")
    w = pyhf.Workspace(ws)  # validates against pyhf's schema
    model = w.model()
    data = w.data(model)
    bounds = list(model.config.suggested_bounds())
    # the signal from 0 up to ten times what the data could hold
    n_obs = float(ws["observations"][0]["data"][0])
    s = float(ws["channels"][0]["samples"][0]["data"][0])
    bounds[model.config.poi_index] = (0.0, 10.0 * (n_obs + 10.0) / s)
    return model, data, bounds


def discovery_significance(ws: dict[str, Any]) -> float:
    """pyhf's asymptotic discovery significance of the workspace's excess (0 for a
    deficit)."""
    return _discovery(*_model_and_data(ws))


def _discovery(model: Any, data: list[float], bounds: list[tuple[float, float]]) -> float:
    import pyhf
    from scipy.stats import norm

    p0 = float(pyhf.infer.hypotest(0.0, data, model, test_stat="q0", par_bounds=bounds))
    return float(norm.isf(min(max(p0, 1e-300), 0.5)))


def upper_limit(
    cut: CutCount,
    signal_region: tuple[float, float] = (0.0, 0.0),
    *,
    signal_efficiency: float = 1.0,
) -> Limit:
    """The CLs upper limits (observed and expected) of one window's cut, and its discovery
    significance."""
    from pyhf.infer.intervals.upper_limits import upper_limit as pyhf_upper_limit

    ws = workspace(cut, signal_efficiency=signal_efficiency)
    model, data, bounds = _model_and_data(ws)
    kwargs = {"level": 1.0 - CL, "par_bounds": bounds, "test_stat": "qtilde"}
    try:  # root finding from 0 up
        observed, expected = pyhf_upper_limit(data, model, scan=None, **kwargs)
    except ValueError:
        # CLs is 0 / 0 at 0 where the background's uncertainty is of its size: a grid from
        # just above 0 instead, interpolated where CLs crosses the level
        top = bounds[model.config.poi_index][1]
        grid = np.geomspace(1e-4 * top, top, 200)
        observed, expected = pyhf_upper_limit(data, model, scan=grid, **kwargs)
    exp = tuple(float(e) for e in np.asarray(expected))
    return Limit(
        signal_region,
        cut.efficiency,
        float(observed),
        (exp[0], exp[1], exp[2], exp[3], exp[4]),
        _discovery(model, data, bounds),
        signal_efficiency,
    )


def selected_cuts(
    windows: Sequence[WindowResult], efficiencies: Sequence[float] | None = None
) -> list[tuple[WindowResult, CutCount]]:
    """Every window's cuts at ``efficiencies`` (default: all), window by window."""
    return [
        (w, c)
        for w in windows
        for c in w.counts
        if efficiencies is None or any(np.isclose(c.efficiency, e) for e in efficiencies)
    ]


def injected_efficiencies(
    windows: Sequence[WindowResult],
) -> dict[tuple[tuple[float, float], float], float]:
    """The signal efficiency of each window's cut measured in a scan of data with a signal
    injected (labels known): the signal events passing the cut over those in the window, by
    ``(signal_region, efficiency)``; windows without injected signal, or whose cut passed
    none of it, are left out."""
    return {
        (w.signal_region, c.efficiency): c.true_signal / w.n_signal_true
        for w in windows
        for c in w.counts
        if w.n_signal_true > 0 and c.true_signal > 0
    }


def stored_limit(
    root: str,
    key: str,
    cut: CutCount,
    signal_region: tuple[float, float],
    signal_efficiency: float,
) -> Limit:
    """Task: :func:`upper_limit`, stored as JSON in ``root/limits`` under ``key`` (read back
    when it is there)."""
    d = Cache(root).json(
        "limits",
        key,
        lambda: upper_limit(cut, signal_region, signal_efficiency=signal_efficiency).to_dict(),
    )
    return Limit.from_dict(d)


def scan_limits(
    windows: Sequence[WindowResult],
    root: str | Path,
    *,
    efficiencies: Sequence[float] | None = None,
    signal_efficiency: float | Mapping[tuple[tuple[float, float], float], float] = 1.0,
    executor: Any = None,
    progress: bool = False,
) -> tuple[list[tuple[WindowResult, CutCount, Limit]], list[tuple[WindowResult, CutCount]]]:
    """The limits of every window's cut at ``efficiencies`` (default: all) of one scan, each a
    task of the engine stored under ``root`` (see the module docstring), with the window and
    cut each limit is for.

    ``signal_efficiency`` is one number for every cut or, measured by injection
    (:func:`injected_efficiencies`), one per ``(signal_region, efficiency)``; the cuts that
    mapping has no efficiency for get no limit and are returned second.
    """
    from resonant_ad.search.engine import Graph, SerialExecutor

    executor = executor or SerialExecutor()
    graph = Graph()
    refs, cuts, missing = [], [], []
    for w, c in selected_cuts(windows, efficiencies):
        if isinstance(signal_efficiency, Mapping):
            if (w.signal_region, c.efficiency) not in signal_efficiency:
                missing.append((w, c))
                continue
            eff = signal_efficiency[(w.signal_region, c.efficiency)]
        else:
            eff = signal_efficiency
        # the key holds everything the limit depends on: the cut's counts, the signal's
        # efficiency, the confidence level
        key = fingerprint("limit", CL, asdict(c), list(w.signal_region), eff)
        refs.append(
            graph.task(f"limit-{key}", stored_limit, str(root), key, c, w.signal_region, eff)
        )
        cuts.append((w, c))
    limits = executor.compute(graph, refs, progress=progress) if refs else []
    return [(w, c, lim) for (w, c), lim in zip(cuts, limits, strict=True)], missing
