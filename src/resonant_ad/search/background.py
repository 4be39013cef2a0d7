"""The background expected after a cut in each window of a scan, calibrated on the others.

A weakly supervised classifier also learns where its template misses the background, so
after a cut the data pass more often than the template: ``kappa = observed /
expected_template`` is about 1.1-1.4 on realistic jets without any signal. That ratio is set
by the template's mismodelling and varies slowly with ``mjj``; a signal raises it only in the
windows that hold it. Measured on the Pythia dev sample while this estimate was designed (the
first two windows of two replicas, one with signal; not part of ``bench_scan``'s output),
the window's own classifier applied in the window's neighbours (to their data and to
templates made there) passes data and template alike (``kappa`` 0.7-1.1 where the window's
own is 1.2-1.4): what a window's classifier learns is that window's own mismodelling, which
only its size, measured in the other windows with their own classifiers, tells about.

So window ``i`` is predicted from its references, the windows that do not overlap it
(centres at least a window width away), by a robust fit of a smooth ``log kappa(m)`` to
their counts, chosen per cut among a few models by how well the windows predict each other
(:mod:`resonant_ad.search.kappa`). The expectation's uncertainty has three parts
(``uncertainty_parts``): ``fit`` (the model at the window, larger where it is
extrapolated), ``scatter`` (the windows' own scatter around the model) and ``template``
(the window's template count).

A signal raises ``kappa`` in several neighbouring windows. Windows whose ``|Z|`` exceeds
``exclude_above`` at some cut, and the windows sharing more than half of one, are neither
references nor validation windows for the others, repeated until that set no longer changes;
it starts from the windows whose ``kappa`` lies far from a robust constant or line through
all windows, or above the constant by more than ``EXCESS_START`` robust standard deviations
(a signal only raises ``kappa``). Only windows with references on both sides are excluded
so: at the ends of a scan an excess cannot be told from a background ``kappa`` that curves
there.

A scan needs, for every window, at least ``MIN_REFERENCES`` windows that do not overlap it
(:func:`check_references`, before any training); where exclusions leave fewer, the farthest
overlapping windows without an excess complete them (``reference_windows`` names them).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection, Sequence

import numpy as np

from resonant_ad.errors import InputError
from resonant_ad.search.counts import CutCount, WindowResult, signed_significance
from resonant_ad.search.kappa import (
    MODELS,
    TUKEY_C,
    Cut,
    Model,
    choose_model,
    cuts_of,
    predictions,
)

__all__ = [
    "EXCESS_EXCLUDED",
    "MIN_REFERENCES",
    "calibrated_expectations",
    "check_references",
    "references",
]

log = logging.getLogger(__name__)

EXCESS_EXCLUDED = 3.0
"""Windows with ``|Z|`` above this at any cut are not references for the others."""
MIN_REFERENCES = 2
"""The fewest windows not overlapping a window that its estimate may be made from."""
EXCESS_START = 3.5
"""Windows whose ``kappa`` exceeds the median by more than this many robust standard
deviations at some cut start the exclusion (the outlier rule of Iglewicz and Hoaglin's
modified z-score)."""


def references(
    centres: np.ndarray, i: int, width: float, excluded: set[int], reach: float | None = None
) -> list[int]:
    """The windows whose centres lie at least ``width`` (and at most ``reach``) from window
    ``i``'s, less the ``excluded``.

    >>> references(np.array([3.0, 3.2, 3.4, 3.6, 3.8]), 1, 0.4, set())
    [3, 4]
    >>> references(np.array([3.0, 3.2, 3.4, 3.6, 3.8]), 1, 0.4, set(), reach=0.4)
    [3]
    """
    d = np.abs(centres - centres[i])
    far = (d >= width - 1e-9) & (d <= (np.inf if reach is None else reach) + 1e-9)
    return [int(j) for j in np.flatnonzero(far) if int(j) not in excluded]


def _two_sided(centres: np.ndarray, width: float) -> list[int]:
    """The windows with windows that do not overlap them on both sides (their centres at
    least ``width`` below and above).

    >>> _two_sided(np.array([3.0, 3.2, 3.4, 3.6, 3.8]), 0.4)
    [2]
    """
    return [
        i
        for i, x in enumerate(centres)
        if np.any(centres <= x - width + 1e-9) and np.any(centres >= x + width - 1e-9)
    ]


def check_references(centres: Sequence[float], width: float, what: str = "the scan") -> None:
    """Refuse a scan in which some window has fewer than ``MIN_REFERENCES`` windows that do
    not overlap it (one line, before any training); otherwise say (one line, logged) which
    windows have references on both sides, where an excess is best told from the
    background's trend.

    >>> check_references([3.2, 3.4, 3.6], 0.4)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    resonant_ad.errors.InputError: the scan's windows ... leave window 3.4 TeV with 0 windows ...
    """
    c = np.asarray(centres, dtype=np.float64)
    if len(c) == 0:
        raise InputError(f"{what} has no windows")
    n = [len(references(c, i, width, set())) for i in range(len(c))]
    worst = int(np.argmin(n))
    if n[worst] < MIN_REFERENCES:
        raise InputError(
            f"{what}'s windows of {width:g} TeV at {c.min():g}-{c.max():g} TeV leave window "
            f"{c[worst]:g} TeV with {n[worst]} windows at least {width:g} TeV from its centre: "
            f"the background estimate needs {MIN_REFERENCES}; widen [scan] m_min and m_max "
            "(or make the windows narrower)"
        )
    both = [float(c[i]) for i in _two_sided(c, width)]
    if not both:
        inside = "no window has references on both sides"
    elif len(both) == 1:
        inside = f"only the window centred at {both[0]:g} TeV has references on both sides"
    else:
        inside = (
            f"the windows centred at {min(both):g}-{max(both):g} TeV have references on both sides"
        )
    log.info(
        "%s: %s; the others' background is extrapolated from one side, where an excess is "
        "told from a trend of kappa less well",
        what,
        inside,
    )


def _references(
    centres: np.ndarray, width: float, excluded: set[int], reach: float | None
) -> list[list[int]]:
    """Each window's references (:func:`references`); where fewer than ``MIN_REFERENCES``
    are left, the windows without an excess that overlap it, the farthest first (a signal
    they share with it makes its estimate higher, a smaller Z, never lower)."""
    out = []
    for i in range(len(centres)):
        r = references(centres, i, width, excluded, None if reach is None else reach * width)
        if len(r) < MIN_REFERENCES:
            near = [j for j in range(len(centres)) if j != i and j not in excluded and j not in r]
            near.sort(key=lambda j: -abs(centres[j] - centres[i]))
            r = r + near[: MIN_REFERENCES - len(r)]
        out.append(r)
    return out


def calibrated_expectations(
    windows: Sequence[WindowResult],
    width: float,
    *,
    exclude_above: float = EXCESS_EXCLUDED,
    also_excluded: Collection[int] = (),
) -> list[WindowResult]:
    """The windows with each cut's expectation calibrated on the other windows of the scan
    (see the module docstring). ``also_excluded``: windows (indices) excluded from the start
    beside the outliers, e.g. by a diagnostic that knows where a signal is.

    >>> from resonant_ad.search.counts import CutCount
    >>> w = [WindowResult((c, c + 0.4), 1000, 4000, 0,
    ...     (CutCount(0.01, 0.9, 12, 99.0, 1.0, 0.0, 10.0),), 0.0, 0.0) for c in (3.0, 3.4, 3.8)]
    >>> c = calibrated_expectations(w, 0.4)[1].counts[0]
    >>> round(c.expected, 3), round(c.significance, 3), c.reference_windows
    (12.0, 0.0, ((3.0, 3.4), (3.8, 4.2)))
    """
    if not windows:
        return []
    centres = np.array([w.center for w in windows])

    # only a window with references on both sides can be told from a curved background
    interior = set(_two_sided(centres, width))

    def grown(excess: set[int]) -> set[int]:
        """The interior windows of ``excess`` and the windows that share more than half of
        one of them."""
        return {
            int(j)
            for i in excess & interior
            for j in np.flatnonzero(np.abs(centres - centres[i]) < 0.5 * width - 1e-9)
        }

    cuts = cuts_of(windows)
    excluded = grown(_outliers(cuts) | set(also_excluded))
    out = _calibrate(windows, cuts, width, excluded)
    for _ in range(len(windows)):
        excess = grown(
            {
                i
                for i, w in enumerate(out)
                if max(abs(c.significance) for c in w.counts) > exclude_above
            }
        )
        if excess == excluded:
            break
        excluded = excess
        out = _calibrate(windows, cuts, width, excluded)
    if excluded:
        log.info(
            "calibration without the windows of |Z| > %g and their neighbours: %s",
            exclude_above,
            ", ".join(str(windows[i].signal_region) for i in sorted(excluded)),
        )
    return out


def _outliers(cuts: list[Cut]) -> set[int]:
    """The windows whose ``log kappa`` lies far from a robust constant (the median) or a
    robust line (Tukey's biweight) through all windows at some cut, beyond ``TUKEY_C`` times
    the median absolute standardised deviation (at least their statistical error), or above
    the median by more than ``EXCESS_START`` times it: where the exclusion of excess windows
    starts. A signal that spans several windows would otherwise
    be in the references and the validation of many windows and hide itself; the constant
    holds while fewer than half the windows carry the signal, the line where the background
    ``kappa`` has a slope."""
    out: set[int] = set()
    for cut in cuts:
        everything = list(range(len(cut.x)))
        y = np.log(np.maximum(cut.observed, 0.5) / cut.template)
        # (fit, how far above it an excess counts): a signal only raises kappa, so above
        # the median an excess counts sooner than a deficit
        fits = [(np.full(len(y), float(np.median(y))), EXCESS_START)]
        if len(everything) >= 4:
            beta, _ = cut.fit(everything, 1, 0.0)
            fits.append((beta[0] + beta[1] * cut.x, TUKEY_C))
        for fit, above in fits:
            u = (y - fit) / np.sqrt(
                cut.dispersion / (cut.template * np.exp(fit)) + cut.template_var
            )
            scale = max(1.0, 1.4826 * float(np.median(np.abs(u))))
            far = (np.abs(u) > TUKEY_C * scale) | (u > above * scale)
            out |= {int(i) for i in np.flatnonzero(far)}
    return out


def _calibrate(
    windows: Sequence[WindowResult], cuts: list[Cut], width: float, excluded: set[int]
) -> list[WindowResult]:
    centres = np.array([w.center for w in windows])
    refs_of = {m: _references(centres, width, excluded, m.reach) for m in MODELS}
    per_window: list[list[CutCount]] = [[] for _ in windows]
    everything = list(range(len(windows)))
    for k, cut in enumerate(cuts):
        model, s2, refs = choose_model(cut, refs_of, excluded)
        pred, v_fit, _, used = predictions(cut, refs, everything, model.degree, s2)
        for i, w in enumerate(windows):
            c = w.counts[k]
            expected = float(cut.template[i] * np.exp(pred[i]))
            parts = {
                "fit": expected * float(np.sqrt(v_fit[i])),
                "scatter": expected * float(np.sqrt(s2[i])),
                "template": expected * float(np.sqrt(cut.template_var[i])),
            }
            sigma = float(np.sqrt(sum(v * v for v in parts.values())))
            shape = model if used[i] == model.degree else Model(used[i], model.reach)
            per_window[i].append(
                dataclasses.replace(
                    c,
                    expected=expected,
                    expected_uncertainty=sigma,
                    significance=signed_significance(c.observed, expected, sigma, cut.dispersion),
                    dispersion=cut.dispersion,
                    estimate=f"calibrated: {shape}",
                    uncertainty_parts=parts,
                    reference_windows=tuple(windows[j].signal_region for j in refs[i]),
                )
            )
    return [
        dataclasses.replace(w, counts=tuple(c)) for w, c in zip(windows, per_window, strict=True)
    ]
