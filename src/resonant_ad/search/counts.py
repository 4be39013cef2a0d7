"""What one cut passes in one window: the counts, the estimates and what they were made from.

:func:`cut_and_count` cuts at fixed template efficiencies and counts; the window's
:class:`CutCount` keeps the template's count, the data observed and the true counts where the
data carry labels; :mod:`resonant_ad.search.background` estimates the background from the
counts of all windows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from resonant_ad.detect.metrics import asimov_significance_with_uncertainty
from resonant_ad.errors import InputError

__all__ = [
    "CutCount",
    "Sidebands",
    "WindowResult",
    "cut_and_count",
    "signed_significance",
]


@dataclass(frozen=True)
class CutCount:
    """The count after one cut at template efficiency ``efficiency``.

    ``expected_uncertainty`` is the total uncertainty of ``expected``; with sidebands it
    includes the ``interpolation_uncertainty``.
    """

    efficiency: float
    threshold: float
    observed: float
    expected: float
    expected_uncertainty: float
    significance: float
    expected_template: float
    interpolation_uncertainty: float = 0.0
    expected_sideband: float = float("nan")
    """The sideband estimate of the background (a diagnostic when the expectation is
    calibrated; see the module docstring)."""
    sideband_significance: float = float("nan")
    true_background: float = float("nan")
    """Background events of the data passing the cut (from the labels of a simulated or
    injected sample)."""
    true_signal: float = float("nan")
    """Signal events of the data passing the cut."""
    estimate: str = "template"
    """How ``expected`` was estimated: ``template``, ``sidebands`` or ``calibrated``."""
    uncertainty_parts: dict[str, float] = dataclasses.field(default_factory=dict)
    """``expected_uncertainty`` split into its independent parts (added in quadrature)."""
    reference_windows: tuple[tuple[float, float], ...] = ()
    """The windows the estimate was made from."""
    dispersion: float = 1.0
    """The variance of ``observed`` over its mean for Poisson events: 1 for one cut; for
    ``observed`` averaged over ``R`` cuts, ``sum_e (k_e / R)^2 / observed`` with ``k_e`` the
    cuts event ``e`` passes (from ``1 / R`` where the cuts pass different events to 1 where
    they pass the same). Set by :func:`cut_and_count` from the window's data; the calibrated
    estimate replaces it by the background's, measured over the windows."""
    template_dispersion: float = 1.0
    """The same for the template's count (by the template's weights): how much of the
    template's binomial variance is left in the average over the cuts."""
    confirmed_significance: float = float("nan")
    """``significance`` as far as a neighbouring window confirms it: the smaller in
    magnitude of this window's ``Z`` and the more extreme one of the overlapping windows
    next to it, at the same cut (set for a whole scan by
    :func:`~resonant_ad.search.scan_result.confirmed_significances`). A resonance in one
    window lies largely in its neighbours too; an excess there alone is the window's own."""

    @property
    def oracle_significance(self) -> float:
        """The significance of ``observed`` against the true background count, without
        uncertainty: the ceiling of any background estimate."""
        return signed_significance(
            self.observed, max(self.true_background, 0.5), 0.0, self.dispersion
        )


@dataclass(frozen=True)
class Sidebands:
    """Classifier scores and masses of the data in the sidebands of a window.

    The sidebands of a window ``(lo, hi)`` of width ``w`` are ``[lo - w, lo)`` and
    ``(hi, hi + w]``; ``window_mass`` is the mean mass of the data in the window.
    """

    scores: np.ndarray
    """Shape ``(n,)``, or ``(R, n)``: one row per cut averaged (:func:`cut_and_count`)."""
    masses: np.ndarray
    window: tuple[float, float]
    window_mass: float

    def row(self, r: int) -> Sidebands:
        """The sidebands with the scores of row ``r`` only (the scores themselves if 1-d)."""
        scores = np.asarray(self.scores)
        return self if scores.ndim == 1 else dataclasses.replace(self, scores=scores[r])

    def pass_fraction(self, threshold: float) -> tuple[float, float, float]:
        """The window's expected pass fraction, its statistical and interpolation uncertainty.

        >>> m = np.r_[np.linspace(2.6, 3.0, 1000), np.linspace(3.4, 3.8, 1000)]
        >>> scores = 0.5 * (m > 3.2) + np.arange(2000) % 10 / 10  # pass 20% left, 70% right
        >>> [round(v, 3) for v in Sidebands(scores, m, (3.0, 3.4), 3.2).pass_fraction(0.75)]
        [0.45, 0.014, 0.0]
        """
        lo, hi = self.window
        w = hi - lo
        near, var = self._interpolate(threshold, lo - 0.5 * w, hi + 0.5 * w)
        full, _ = self._interpolate(threshold, lo - w, hi + w)
        return near, float(np.sqrt(var)), abs(full - near)

    def _interpolate(
        self, threshold: float, left_end: float, right_end: float
    ) -> tuple[float, float]:
        """Pass fraction and its variance, interpolated from ``[left_end, lo)`` and
        ``(hi, right_end]``."""
        lo, hi = self.window
        m = self.masses
        fractions, variances, centres = [], [], []
        for band in ((m >= left_end) & (m < lo), (m > hi) & (m <= right_end)):
            n = int(band.sum())
            if n == 0:
                raise InputError(
                    f"no sideband events in [{left_end:.3g}, {lo:.3g}) or ({hi:.3g}, "
                    f"{right_end:.3g}] TeV"
                )
            f = max(float(np.mean(self.scores[band] > threshold)), 1.0 / n)
            fractions.append(f)
            variances.append(f * (1.0 - f) / n)
            centres.append(float(np.mean(m[band])))
        w = (self.window_mass - centres[0]) / (centres[1] - centres[0])
        f = (1.0 - w) * fractions[0] + w * fractions[1]
        return f, (1.0 - w) ** 2 * variances[0] + w**2 * variances[1]


def cut_and_count(
    data_scores: np.ndarray,
    template_scores: np.ndarray,
    efficiencies: Sequence[float],
    sidebands: Sidebands | None = None,
    template_weights: np.ndarray | None = None,
    data_weights: np.ndarray | None = None,
    data_labels: np.ndarray | None = None,
) -> list[CutCount]:
    """Observed vs expected counts after cuts at fixed template efficiencies.

    With ``sidebands`` the expectation is their pass fraction interpolated to the window
    (see the module docstring); without, ``N_data * eps_template`` with the template's
    binomial uncertainty. A weighted template (``template_weights``, e.g. a reweighted
    simulation) sets the cut and its efficiency by its weights, the uncertainty by its
    effective size ``(sum w)^2 / sum w^2``. Weighted data (``data_weights``, e.g. a
    Poisson-bootstrap replica) are counted by their weights. ``data_labels`` (simulated or
    injected data) give the true background and signal counts that pass.

    Scores of shape ``(R, n)`` (the same events scored ``R`` times, e.g. by the members of
    each repetition of a k-fold split): each row is cut at the efficiency by its own template
    scores, and the counts, efficiencies and sideband fractions are averaged over the rows;
    ``dispersion`` says how much the average fluctuates (:class:`CutCount`).

    >>> rng = np.random.default_rng(0)
    >>> c = cut_and_count(rng.random(10_000), rng.random(40_000), [0.1])[0]
    >>> abs(c.expected - 1000) < 5 and abs(c.significance) < 3
    True
    >>> c = cut_and_count(rng.random((4, 10_000)), rng.random((4, 40_000)), [0.1])[0]
    >>> abs(c.observed - 1000) < 30 and 0.25 <= round(c.dispersion, 2) <= 0.35
    True
    """
    d_rows = np.atleast_2d(np.asarray(data_scores, dtype=np.float64))
    t_rows = np.atleast_2d(np.asarray(template_scores, dtype=np.float64))
    if len(d_rows) != len(t_rows):
        raise InputError(f"{len(d_rows)} rows of data scores for {len(t_rows)} of template")
    n_rows = len(d_rows)
    d_weights = np.ones(d_rows.shape[1]) if data_weights is None else np.asarray(data_weights)
    n_data = float(d_weights.sum())
    if template_weights is None:
        weights = np.ones(t_rows.shape[1])
    else:
        weights = np.asarray(template_weights, dtype=np.float64)
        if weights.shape != t_rows.shape[1:] or not weights.sum() > 0:
            raise InputError("template weights: one per template score, with a positive sum")
    weights = weights / weights.sum()
    n_template = 1.0 / float(np.sum(weights**2))  # the effective size
    tails = [_upper_tail(t, weights) for t in t_rows]
    out = []
    for eps in efficiencies:
        thresholds = np.array([_threshold(*tail, eps) for tail in tails])
        t_passed = t_rows > thresholds[:, None]
        # at least one template event's worth of efficiency: an empty cut says nothing
        eps_t = float(np.mean([max(weights[row].sum(), 1.0 / n_template) for row in t_passed]))
        expected_template = n_data * eps_t
        passes = (d_rows > thresholds[:, None]).sum(axis=0)  # how many cuts each event passes
        observed = float(np.sum(d_weights * passes)) / n_rows
        dispersion = _dispersion(passes, d_weights, n_rows)
        t_dispersion = _dispersion(t_passed.sum(axis=0), weights, n_rows)
        if sidebands is None:
            expected = expected_template
            sigma = n_data * np.sqrt(eps_t * (1.0 - eps_t) / n_template * t_dispersion)
            interp, stat = 0.0, 0.0
        else:
            f, stat, interpolation = np.mean(
                [sidebands.row(r).pass_fraction(c) for r, c in enumerate(thresholds)], axis=0
            )
            stat = float(stat)
            expected = n_data * max(float(f), 1.0 / n_data)
            sigma = n_data * float(np.hypot(stat, interpolation))
            interp = n_data * float(interpolation)
        z = signed_significance(observed, expected, float(sigma), dispersion)
        true_b, true_s = (
            (float("nan"), float("nan"))
            if data_labels is None
            else (
                float(np.sum((d_weights * passes)[data_labels == label])) / n_rows
                for label in (0, 1)
            )
        )
        out.append(
            CutCount(
                eps,
                float(np.mean(thresholds)),
                observed,
                expected,
                float(sigma),
                z,
                expected_template,
                float(interp),
                expected if sidebands is not None else float("nan"),
                z if sidebands is not None else float("nan"),
                estimate="template" if sidebands is None else "sidebands",
                uncertainty_parts=(
                    {"template": float(sigma)}
                    if sidebands is None
                    else {"statistical": n_data * stat, "interpolation": float(interp)}
                ),
                dispersion=dispersion,
                template_dispersion=t_dispersion,
                true_background=true_b,
                true_signal=true_s,
            )
        )
    return out


def _dispersion(passes: np.ndarray, weights: np.ndarray, n_rows: int) -> float:
    """The variance over the mean of ``sum_e w_e k_e / R`` for Poisson events, ``k_e`` of the
    ``R`` cuts passed by event ``e`` (1 for one cut, or where nothing passes)."""
    total = float(np.sum(weights * passes))
    if n_rows == 1 or total <= 0:
        return 1.0
    return float(np.sum(weights * passes**2)) / (n_rows * total)


def _upper_tail(scores: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The scores sorted and, at each, the weight of the scores from it up."""
    order = np.argsort(scores)
    return scores[order], np.cumsum(weights[order][::-1])[::-1]


def _threshold(sorted_scores: np.ndarray, upper_tail: np.ndarray, eps: float) -> float:
    """The cut that keeps at most the fraction ``eps`` of the template (by weight): the lowest
    score whose upper tail (itself included) is at most ``eps``; the cut is ``>``."""
    k = min(int(np.searchsorted(-upper_tail, -eps * (1 + 1e-9))), len(sorted_scores) - 1)
    return float(sorted_scores[k - 1]) if k > 0 else -np.inf


def signed_significance(
    observed: float, expected: float, uncertainty: float, dispersion: float = 1.0
) -> float:
    """Cowan's significance of ``observed`` vs ``expected`` (with its uncertainty), signed:
    negative for a deficit. A count whose variance is ``dispersion`` times its mean (an
    average over several cuts) is tested as the Poisson count ``observed / dispersion``
    against ``expected / dispersion`` (a scaled Poisson count)."""
    observed, expected, uncertainty = (v / dispersion for v in (observed, expected, uncertainty))
    s = observed - expected
    return float(np.sign(s) * asimov_significance_with_uncertainty(s, expected, uncertainty))


@dataclass(frozen=True)
class WindowResult:
    """One window of the scan."""

    signal_region: tuple[float, float]
    n_data: float
    n_template: int
    n_signal_true: float
    counts: tuple[CutCount, ...]
    template_seconds: float
    classifier_seconds: float

    @property
    def center(self) -> float:
        return 0.5 * (self.signal_region[0] + self.signal_region[1])

    def significance(self, efficiency: float | None = None, confirmed: bool = False) -> float:
        """``Z`` at one efficiency, or the largest in magnitude over all of them
        (``confirmed``: ``confirmed_significance``)."""

        def z(c: CutCount) -> float:
            return c.confirmed_significance if confirmed else c.significance

        if efficiency is None:
            return max((z(c) for c in self.counts), key=abs)
        return next(z(c) for c in self.counts if c.efficiency == efficiency)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["signal_region"] = list(self.signal_region)
        d["center"] = self.center
        return d

    @staticmethod
    def from_dict(d: dict[str, Any]) -> WindowResult:
        """The window written by :meth:`to_dict` (JSON-parsed)."""
        fields = {f.name for f in dataclasses.fields(WindowResult)}
        d = {k: v for k, v in d.items() if k in fields}
        d["signal_region"] = tuple(d["signal_region"])
        d["counts"] = tuple(cut_from_dict(c) for c in d["counts"])
        return WindowResult(**d)


def cut_from_dict(c: dict[str, Any]) -> CutCount:
    c = dict(c)
    c["reference_windows"] = tuple(tuple(r) for r in c.get("reference_windows", ()))
    return CutCount(**c)
