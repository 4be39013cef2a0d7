"""SIC figures: SIC against background rejection, and a summary number against N_sig."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from resonant_ad.detect.metrics import SICCurve, sic_on_grid
from resonant_ad.errors import InputError
from resonant_ad.report.figure import cms_style, new_figure, save_figure
from resonant_ad.report.report import SIC_KEY, Report, ResultRow
from resonant_ad.report.style import method_style

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["LEGEND_INSIDE", "plot_sic_curves", "plot_sic_vs_nsig"]

LEGEND_INSIDE = 8
"""A legend of at most this many methods sits inside the axes; a longer one (a study of
every template method) beside them, the figure widened to keep the axes' size."""


def _figure(n_methods: int) -> Figure:
    return new_figure(figsize=(8.5 + (3.5 if n_methods > LEGEND_INSIDE else 0.0), 7.0))


def _legend(fig: Figure, n_methods: int, title: str | None = None) -> None:
    ax = fig.axes[0]
    if n_methods <= LEGEND_INSIDE:
        ax.legend(fontsize="small", title=title, title_fontsize="small")
        return
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside right upper",
        fontsize="x-small",
        title=title,
        title_fontsize="x-small",
    )


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
    with cms_style():
        fig = _figure(len(curves))
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
        _legend(fig, len(curves), title)
    save_figure(fig, path)
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
    with cms_style():
        fig = _figure(len(methods))
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
        _legend(fig, len(methods))
    save_figure(fig, path)
    return fig
