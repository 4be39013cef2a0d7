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

    @property
    def oracle_significance(self) -> float:
        """The significance of ``observed`` against the true background count, without
        uncertainty: the ceiling of any background estimate."""
        return signed_significance(self.observed, max(self.true_background, 0.5), 0.0)


@dataclass(frozen=True)
class Sidebands:
    """Classifier scores and masses of the data in the sidebands of a window.

    The sidebands of a window ``(lo, hi)`` of width ``w`` are ``[lo - w, lo)`` and
    ``(hi, hi + w]``; ``window_mass`` is the mean mass of the data in the window.
    """

    scores: np.ndarray
    masses: np.ndarray
    window: tuple[float, float]
    window_mass: float

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
) -> list[CutCount]:
    """Observed vs expected counts after cuts at fixed template efficiencies.

    With ``sidebands`` the expectation is their pass fraction interpolated to the window
    (see the module docstring); without, ``N_data * eps_template`` with the template's
    binomial uncertainty. A weighted template (``template_weights``, e.g. a reweighted
    simulation) sets the cut and its efficiency by its weights, the uncertainty by its
    effective size ``(sum w)^2 / sum w^2``. Weighted data (``data_weights``, e.g. a
    Poisson-bootstrap replica) are counted by their weights.

    >>> rng = np.random.default_rng(0)
    >>> c = cut_and_count(rng.random(10_000), rng.random(40_000), [0.1])[0]
    >>> abs(c.expected - 1000) < 5 and abs(c.significance) < 3
    True
    """
    data_scores = np.asarray(data_scores, dtype=np.float64)
    template_scores = np.asarray(template_scores, dtype=np.float64)
    d_weights = np.ones(len(data_scores)) if data_weights is None else np.asarray(data_weights)
    n_data = float(d_weights.sum())
    if template_weights is None:
        weights = np.ones(len(template_scores))
    else:
        weights = np.asarray(template_weights, dtype=np.float64)
        if weights.shape != template_scores.shape or not weights.sum() > 0:
            raise InputError("template weights: one per template score, with a positive sum")
    weights = weights / weights.sum()
    n_template = 1.0 / float(np.sum(weights**2))  # the effective size
    order = np.argsort(template_scores)
    sorted_scores, upper_tail = template_scores[order], np.cumsum(weights[order][::-1])[::-1]
    out = []
    for eps in efficiencies:
        # the lowest score whose weighted upper tail (itself included) is at most eps
        k = min(int(np.searchsorted(-upper_tail, -eps * (1 + 1e-9))), len(sorted_scores) - 1)
        threshold = float(sorted_scores[k - 1]) if k > 0 else -np.inf
        eps_t = float(weights[template_scores > threshold].sum())
        # at least one template event's worth of efficiency: an empty cut says nothing
        eps_t = max(eps_t, 1.0 / n_template)
        expected_template = n_data * eps_t
        if sidebands is None:
            expected = expected_template
            sigma = n_data * np.sqrt(eps_t * (1.0 - eps_t) / n_template)
            interp, stat = 0.0, 0.0
        else:
            f, stat, interpolation = sidebands.pass_fraction(threshold)
            stat = float(stat)
            expected = n_data * max(f, 1.0 / n_data)
            sigma = n_data * float(np.hypot(stat, interpolation))
            interp = n_data * interpolation
        observed = float(np.sum(d_weights[data_scores > threshold]))
        z = signed_significance(observed, expected, float(sigma))
        out.append(
            CutCount(
                eps,
                threshold,
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
            )
        )
    return out


def signed_significance(observed: float, expected: float, uncertainty: float) -> float:
    """Cowan's significance of ``observed`` vs ``expected`` (with its uncertainty), signed:
    negative for a deficit."""
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

    def significance(self, efficiency: float | None = None) -> float:
        """``Z`` at one efficiency, or the largest in magnitude over all of them."""
        if efficiency is None:
            return max((c.significance for c in self.counts), key=abs)
        return next(c.significance for c in self.counts if c.efficiency == efficiency)

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
