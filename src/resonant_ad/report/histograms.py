"""Histogram figures: SR features with pulls against the background, and the classifier
test's log weights and the template samples passing its cut (SIGMA paper, Figs. 2, 5, 6)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from resonant_ad.data.events import Events
from resonant_ad.detect.classifier_test import ClassifierTestResult
from resonant_ad.errors import InputError
from resonant_ad.report.figure import cms_style, grid_shape, legend_above, new_figure, save_figure
from resonant_ad.report.style import feature_label, method_style

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "plot_feature_histograms",
    "plot_log_weights",
    "plot_passing_vs_signal",
    "poisson_pulls",
]


def poisson_pulls(
    counts: np.ndarray,
    variances: np.ndarray,
    reference: np.ndarray,
    reference_variances: np.ndarray,
) -> np.ndarray:
    """Per-bin pulls ``(n - n_ref) / sqrt(var + var_ref)`` with Poisson (sum of w^2) variances.

    Bins where both variances are zero get a pull of 0.

    >>> poisson_pulls(np.array([110.0, 5.0]), np.array([110.0, 5.0]), np.array([100.0, 5.0]),
    ...               np.array([100.0, 5.0])).round(4).tolist()
    [0.6901, 0.0]
    """
    var = np.asarray(variances, dtype=np.float64) + np.asarray(reference_variances, np.float64)
    diff = np.asarray(counts, dtype=np.float64) - np.asarray(reference, dtype=np.float64)
    out = np.zeros_like(diff)
    np.divide(diff, np.sqrt(var), out=out, where=var > 0)
    return out


def _hist(
    values: np.ndarray, edges: np.ndarray, scale: float = 1.0, weight: np.ndarray | None = None
) -> Any:
    import hist

    h = hist.Hist(
        hist.axis.Variable(edges, underflow=False, overflow=False), storage=hist.storage.Weight()
    )
    h.fill(np.clip(values, edges[0], edges[-1] - 1e-12 * (edges[-1] - edges[0])), weight=weight)
    if scale != 1.0:
        h = h * scale
    return h


def plot_feature_histograms(
    background: Events,
    signal: Events | None = None,
    data: Events | None = None,
    templates: Mapping[str, Events] | None = None,
    *,
    bins: int = 40,
    normalize_to: str = "background",
    path: str | Path | None = None,
) -> Figure:
    """Per-feature histograms of SR background, signal stacked on it, data and templates,
    each with a pull panel against the background (SIGMA paper, Fig. 2).

    Templates are scaled to the background's event count (``normalize_to="background"``;
    ``"data"`` scales them to the data's count, as for an all-data model) and their pulls use
    Poisson errors of both histograms, ``sum(w^2)`` for the scaled template (a weighted
    template, :attr:`~resonant_ad.data.events.Events.weight`, is filled with its weights and
    scaled by its total weight).
    """
    import mplhep

    templates = dict(templates or {})
    names = background.feature_names
    for label, ev in [("signal", signal), ("data", data), *templates.items()]:
        if ev is not None and ev.feature_names != names:
            raise InputError(f"{label} features {ev.feature_names} differ from {names}")
    if normalize_to not in ("background", "data"):
        raise InputError(f"normalize_to {normalize_to!r}: use 'background' or 'data'")
    if normalize_to == "data" and data is None:
        raise InputError("normalize_to='data' needs the data")
    n_norm = len(background) if normalize_to == "background" or data is None else len(data)
    ncols, nrows = grid_shape(len(names), 3)
    with cms_style():
        fig = new_figure(figsize=(6.5 * ncols, 6.5 * nrows + 1.0), layout="constrained")
        outer = fig.add_gridspec(nrows, ncols)
        for j, name in enumerate(names):
            inner = outer[j // ncols, j % ncols].subgridspec(
                2, 1, height_ratios=(3, 1), hspace=0.05
            )
            ax = fig.add_subplot(inner[0])
            rax = fig.add_subplot(inner[1], sharex=ax)
            parts = [background.x[:, j]]
            if data is not None:
                parts.append(data.x[:, j])
            lo, hi = np.percentile(np.concatenate(parts), [0.5, 99.5])
            if signal is not None and len(signal):
                slo, shi = np.percentile(signal.x[:, j], [0.5, 99.5])
                lo, hi = min(lo, slo), max(hi, shi)
            if hi <= lo:
                lo, hi = lo - 0.5, hi + 0.5
            edges = np.linspace(lo, hi, bins + 1)
            hb = _hist(background.x[:, j], edges)
            if signal is not None and len(signal):
                hs = _hist(signal.x[:, j], edges)
                mplhep.histplot(
                    [hb, hs],
                    ax=ax,
                    stack=True,
                    histtype="fill",
                    color=["#d9d9d9", "#fdae6b"],
                    label=["SR background", "signal (stacked)"],
                )
            else:
                mplhep.histplot(hb, ax=ax, histtype="fill", color="#d9d9d9", label="SR background")
            if data is not None:
                hd = _hist(data.x[:, j], edges)
                mplhep.histplot(hd, ax=ax, histtype="errorbar", color="black", label="data")
                pd_ = poisson_pulls(hd.values(), hd.variances(), hb.values(), hb.variances())
                rax.stairs(pd_, edges, color="black", lw=1.2)
            for k, (tname, tev) in enumerate(templates.items()):
                st = method_style(tname, k)
                total = float(tev.weights().sum())
                scale = n_norm / total if total > 0 else 1.0
                ht = _hist(tev.x[:, j], edges, scale, tev.weight)
                mplhep.histplot(
                    ht,
                    ax=ax,
                    histtype="step",
                    yerr=False,
                    color=st.color,
                    ls=st.linestyle,
                    lw=1.5,
                    label=st.label,
                )
                pt = poisson_pulls(ht.values(), ht.variances(), hb.values(), hb.variances())
                rax.stairs(pt, edges, color=st.color, ls=st.linestyle, lw=1.5)
            ax.set_yscale("log")
            ax.set_ylabel("events / bin")
            ax.set_xlabel("")
            ax.tick_params(labelbottom=False)
            for y in (-2, 0, 2):
                rax.axhline(y, color="grey", lw=0.8, ls="-" if y == 0 else ":")
            rax.set_ylabel("pull", fontsize="small")
            rax.tick_params(labelsize="x-small")
            rax.set_xlabel(feature_label(name))
            rax.set_xlim(lo, hi)
        legend_above(fig, 5)
    save_figure(fig, path)
    return fig


def plot_log_weights(
    results: Mapping[str, ClassifierTestResult],
    *,
    bins: int = 60,
    path: str | Path | None = None,
) -> Figure:
    """Classifier-test ``log weight`` distributions per template, template samples and true
    background, with the cut and the held-out AUC (SIGMA paper, Fig. 5)."""
    if not results:
        raise InputError("no classifier-test results to plot")
    ncols, nrows = grid_shape(len(results), 2)
    all_lw = np.concatenate(
        [np.r_[r.log_weight_template, r.log_weight_background] for r in results.values()]
    )
    lo, hi = np.percentile(all_lw, [0.05, 99.95])
    span = max(abs(lo), abs(hi), 0.2)
    edges = np.linspace(-span, span, bins + 1)
    with cms_style():
        fig = new_figure(figsize=(7.0 * ncols, 5.5 * nrows))
        for k, (name, r) in enumerate(results.items()):
            st = method_style(name, k)
            ax = fig.add_subplot(nrows, ncols, k + 1)
            ax.hist(
                np.clip(r.log_weight_background, edges[0], edges[-1]),
                edges.tolist(),
                histtype="stepfilled",
                color="#d9d9d9",
                label="true background",
            )
            ax.hist(
                np.clip(r.log_weight_template, edges[0], edges[-1]),
                edges.tolist(),
                histtype="step",
                color=st.color,
                ls=st.linestyle,
                lw=2,
                label=f"{st.label} samples",
            )
            ax.set_ylim(0.5, None)
            ax.axvline(r.cut, color="black", ls="--", lw=1)
            ax.set_yscale("log")
            ax.set_xlabel(r"$\log(p_{\mathrm{samples}}/p_{\mathrm{background}})$")
            ax.set_ylabel("events / bin")
            ax.set_title(
                f"{st.label}: AUC {r.auc:.3f}, {100 * r.pass_fraction:.1f}% > {r.cut:g}",
                fontsize="small",
            )
            ax.legend(fontsize="x-small", loc="upper left")
    save_figure(fig, path)
    return fig


def plot_passing_vs_signal(
    results: Mapping[str, ClassifierTestResult],
    signal: Events,
    *,
    bins: int = 40,
    path: str | Path | None = None,
) -> Figure:
    """Normalised feature histograms of the template samples passing the classifier-test cut
    (``log weight > cut``) per template, against the signal's (SIGMA paper, Fig. 6).

    A template that learned the signal shows passing samples piled up where the signal is.
    """
    if not results:
        raise InputError("no classifier-test results to plot")
    names = signal.feature_names
    for name, r in results.items():
        if r.passing.feature_names != names:
            raise InputError(f"{name}: features {r.passing.feature_names} differ from {names}")
    ncols, nrows = grid_shape(len(names), 3)
    with cms_style():
        fig = new_figure(figsize=(6.0 * ncols, 5.0 * nrows + 0.8))
        for j, fname in enumerate(names):
            ax = fig.add_subplot(nrows, ncols, j + 1)
            parts = [signal.x[:, j]] + [r.passing.x[:, j] for r in results.values()]
            lo, hi = np.percentile(np.concatenate(parts), [0.5, 99.5])
            if hi <= lo:
                lo, hi = lo - 0.5, hi + 0.5
            edges = np.linspace(lo, hi, bins + 1).tolist()
            ax.hist(
                np.clip(signal.x[:, j], lo, hi),
                edges,
                density=True,
                histtype="stepfilled",
                color="#fdae6b",
                label="signal",
            )
            for k, (name, r) in enumerate(results.items()):
                if len(r.passing) == 0:
                    continue
                st = method_style(name, k)
                ax.hist(
                    np.clip(r.passing.x[:, j], lo, hi),
                    edges,
                    density=True,
                    histtype="step",
                    color=st.color,
                    ls=st.linestyle,
                    lw=1.8,
                    label=f"{st.label}, log w > {r.cut:g}",
                )
            ax.set_xlabel(feature_label(fname))
            ax.set_ylabel("normalised")
        legend_above(fig, 3)
    save_figure(fig, path)
    return fig
