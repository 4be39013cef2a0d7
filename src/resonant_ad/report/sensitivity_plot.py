"""The sensitivity curve: the scan's significance at the signal's mass against the injected
signal, one line (median) and band (16-84% over the injections) per method."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resonant_ad.report.figure import cms_style, new_figure, save_figure
from resonant_ad.report.style import method_style

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_sensitivity", "sensitivity_figure"]


def sensitivity_figure(rows: Sequence[dict[str, Any]], *, key: str = "confirmed_z") -> Figure:
    """``key`` (``confirmed_z`` or ``z``) of :func:`~resonant_ad.search.sensitivity.summarise`'s
    rows against ``N_sig``: per method the median and the 16-84% band over the injections."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    with cms_style():
        fig = new_figure(figsize=(10, 8), dpi=150)
        ax = fig.add_subplot()
        for i, method in enumerate(methods):
            mine = sorted((r for r in rows if r["method"] == method), key=lambda r: r["n_sig"])
            style = method_style(method, i)
            n = [r["n_sig"] for r in mine]
            ax.fill_between(
                n,
                [r[key]["p16"] for r in mine],
                [r[key]["p84"] for r in mine],
                color=style.color,
                alpha=0.25,
                linewidth=0,
            )
            ax.plot(
                n,
                [r[key]["median"] for r in mine],
                marker="o",
                color=style.color,
                linestyle=style.linestyle,
                label=style.label,
            )
        ax.axhline(5.0, color="0.4", linestyle=":", label="$Z = 5$")
        ax.set_xlabel("injected signal events $N_{sig}$")
        what = "confirmed " if key == "confirmed_z" else ""
        ax.set_ylabel(f"{what}$Z$ at the signal mass (median, 16-84%)", fontsize="small")
        ax.legend(fontsize="x-small", loc="upper left")
    return fig


def plot_sensitivity(
    rows: Sequence[dict[str, Any]], path: str | Path, *, key: str = "confirmed_z"
) -> Path:
    """Write :func:`sensitivity_figure` of ``rows`` to ``path``."""
    save_figure(sensitivity_figure(rows, key=key), path)
    return Path(path)
