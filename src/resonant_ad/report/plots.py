"""Paper-style figures: feature histograms with pulls, SIC curves and SIC vs N_sig, log weights.

Every function builds a :class:`matplotlib.figure.Figure` on the Agg canvas under the mplhep
CMS style (fonts and ticks only; no experiment label is drawn), returns it, and saves it when
given a ``path``. Nothing touches pyplot's global state.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from resonant_ad.data.events import Events
from resonant_ad.detect.classifier_test import ClassifierTestResult
from resonant_ad.detect.metrics import SICCurve, sic_on_grid
from resonant_ad.errors import InputError
from resonant_ad.report.report import SIC_KEY, Report, ResultRow
from resonant_ad.report.style import feature_label, method_style

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "plot_feature_histograms",
    "plot_log_weights",
    "plot_passing_vs_signal",
    "plot_sic_curves",
    "plot_sic_vs_nsig",
    "plot_training_curves",
    "poisson_pulls",
    "render_array",
]

log = logging.getLogger(__name__)


@contextmanager
def _style() -> Iterator[None]:
    import matplotlib as mpl
    import mplhep

    with mpl.rc_context(mplhep.style.CMS):
        yield


def _figure(**kwargs: Any) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    kwargs.setdefault("layout", "constrained")
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | Path | None) -> None:
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=fig.dpi)
        log.info("wrote %s", path)


def render_array(fig: Figure) -> np.ndarray:
    """The figure rendered to an RGBA pixel array (for comparisons and tests)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


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
    d = len(names)
    ncols = min(d, 3)
    nrows = math.ceil(d / ncols)
    with _style():
        fig = _figure(figsize=(6.5 * ncols, 6.5 * nrows + 1.0), layout="constrained")
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
                rax.step(edges[:-1], pd_, where="post", color="black", lw=1.2)
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
                rax.step(edges[:-1], pt, where="post", color=st.color, ls=st.linestyle, lw=1.5)
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
            if j == 0:
                handles, labels = ax.get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncol=min(len(labels), 5))
    _save(fig, path)
    return fig


def plot_sic_curves(
    curves: Mapping[str, Sequence[SICCurve]],
    *,
    n_points: int = 200,
    title: str | None = None,
    path: str | Path | None = None,
) -> Figure:
    """SIC vs background rejection ``1/eps_B``: median over injections and 16-84% band
    (SIGMA paper, Fig. 3 left). Each curve stops at its 20% statistical cut."""
    if not curves:
        raise InputError("no SIC curves to plot")
    all_fpr = [c.fpr for cs in curves.values() for c in cs if len(c.fpr)]
    if not all_fpr:
        raise InputError("every SIC curve is empty (all beyond the statistical cut)")
    lo = min(float(f[0]) for f in all_fpr)
    grid = np.geomspace(max(lo, 1e-7), 1.0, n_points)
    with _style():
        fig = _figure(figsize=(8.5, 7.0))
        ax = fig.add_subplot()
        for k, (name, cs) in enumerate(curves.items()):
            st = method_style(name, k)
            vals = np.array([sic_on_grid(c, grid) for c in cs])
            ok = np.sum(~np.isnan(vals), axis=0) >= max(1, (len(cs) + 1) // 2)
            if not ok.any():
                continue
            v = vals[:, ok]
            with np.errstate(all="ignore"):
                med = np.nanmedian(v, axis=0)
                p16, p84 = np.nanpercentile(v, [16, 84], axis=0)
            x = 1.0 / grid[ok]
            ax.plot(x, med, color=st.color, ls=st.linestyle, lw=2, label=st.label)
            if len(cs) > 1:
                ax.fill_between(x, p16, p84, color=st.color, alpha=0.2, lw=0)
        ax.axhline(1.0, color="grey", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_xlabel(r"background rejection $1/\epsilon_B$")
        ax.set_ylabel(r"SIC $= \epsilon_S/\sqrt{\epsilon_B}$")
        ax.set_xlim(1.0, None)
        ax.set_ylim(0, None)
        ax.legend(fontsize="small", title=title, title_fontsize="small")
    _save(fig, path)
    return fig


def plot_sic_vs_nsig(
    rows: Report | Sequence[ResultRow],
    *,
    key: str = SIC_KEY,
    signal_region: tuple[float, float] | None = None,
    s_over_sqrt_b: Mapping[int, float] | None = None,
    path: str | Path | None = None,
) -> Figure:
    """A summary number (SIC at FPR 1e-3 by default) vs N_sig per method with 16-84% bands
    (SIGMA paper, Fig. 3 right). ``s_over_sqrt_b`` labels a top axis with ``S/sqrt(B)``."""
    results = list(rows.results if isinstance(rows, Report) else rows)
    if signal_region is not None:
        results = [r for r in results if r.signal_region == tuple(signal_region)]
    if not results:
        raise InputError("no result rows to plot")
    attr = {SIC_KEY: "sic_at_fpr_1e_3", "max_sic": "max_sic", "auc": "auc"}
    if key not in attr:
        raise InputError(f"key {key!r}: use one of {', '.join(attr)}")
    methods = list(dict.fromkeys(r.method for r in results))
    with _style():
        fig = _figure(figsize=(8.5, 7.0))
        ax = fig.add_subplot()
        for k, m in enumerate(methods):
            st = method_style(m, k)
            rs = sorted((r for r in results if r.method == m), key=lambda r: r.n_sig)
            n = np.array([r.n_sig for r in rs], dtype=float)
            s = [getattr(r, attr[key]) for r in rs]
            med = np.array([x["median"] for x in s])
            ax.plot(n, med, color=st.color, ls=st.linestyle, marker="o", lw=2, label=st.label)
            ax.fill_between(
                n,
                [x["p16"] for x in s],
                [x["p84"] for x in s],
                color=st.color,
                alpha=0.2,
                lw=0,
            )
        ax.set_xlabel(r"$N_{\mathrm{sig}}$ injected")
        ax.set_ylabel(
            {SIC_KEY: r"SIC at $\epsilon_B = 10^{-3}$", "max_sic": "max SIC", "auc": "AUC"}[key]
        )
        if key != "auc":
            ax.axhline(1.0, color="grey", lw=0.8, ls=":")
            ax.set_ylim(0, None)
        if s_over_sqrt_b:
            top = ax.secondary_xaxis("top")
            ticks = sorted(s_over_sqrt_b)
            top.set_xticks(ticks)
            top.set_xticklabels([f"{s_over_sqrt_b[t]:.1f}" for t in ticks], fontsize="x-small")
            top.set_xlabel(r"$S/\sqrt{B}$ in the SR", fontsize="small")
        ax.legend(fontsize="small")
    _save(fig, path)
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
    n = len(results)
    ncols = min(n, 2)
    nrows = math.ceil(n / ncols)
    all_lw = np.concatenate(
        [np.r_[r.log_weight_template, r.log_weight_background] for r in results.values()]
    )
    lo, hi = np.percentile(all_lw, [0.05, 99.95])
    span = max(abs(lo), abs(hi), 0.2)
    edges = np.linspace(-span, span, bins + 1)
    with _style():
        fig = _figure(figsize=(7.0 * ncols, 5.5 * nrows))
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
    _save(fig, path)
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
    d = len(names)
    ncols = min(d, 3)
    nrows = math.ceil(d / ncols)
    with _style():
        fig = _figure(figsize=(6.0 * ncols, 5.0 * nrows + 0.8))
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
            if j == 0:
                handles, labels = ax.get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncol=min(len(labels), 3))
    _save(fig, path)
    return fig


def plot_training_curves(
    histories: Mapping[str, Sequence[Mapping[str, float]]],
    *,
    keys: Sequence[str] = ("train_loss", "val_score", "val_nll"),
    title: str | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Per model (e.g. ``v_data``, ``v_CR``), its training history against the epoch.

    ``histories``: the ``history_`` records of fitted models. One panel per key of ``keys``
    that some record holds (training loss, validation score, exact validation NLL, ...),
    with the learning rate of each model as a dotted line on a second axis of the first.
    """
    present = [k for k in keys if any(k in r for h in histories.values() for r in h)]
    if not present:
        raise InputError(f"no history holds any of {list(keys)}")
    with _style():
        fig = _figure(figsize=(6.0 * len(present), 5.5))
        axes = fig.subplots(1, len(present), squeeze=False)[0]
        for k, (name, history) in enumerate(histories.items()):
            color = f"C{k}"
            for ax, key in zip(axes, present, strict=True):
                pts = [(r["epoch"], r[key]) for r in history if key in r]
                if pts:
                    ep, val = zip(*pts, strict=True)
                    ax.plot(
                        ep,
                        val,
                        color=color,
                        lw=1.5,
                        marker="." if len(pts) < 30 else None,
                        label=name,
                    )
                ax.set_xlabel("epoch")
                ax.set_ylabel(key.replace("_", " "))
            lr = [(r["epoch"], r["lr"]) for r in history if "lr" in r]
            if lr:
                twin = axes[0].twinx() if k == 0 else fig.axes[len(present)]
                ep, val = zip(*lr, strict=True)
                twin.plot(ep, val, color=color, ls=":", lw=1)
                twin.set_yscale("log")
                twin.set_ylabel("learning rate (dotted)", fontsize="small")
        axes[0].legend(fontsize="small", title=title, title_fontsize="small")
    _save(fig, path)
    return fig
