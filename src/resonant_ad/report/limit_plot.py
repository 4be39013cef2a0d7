"""The upper limits of a scan against the window's centre, in the field's style: the expected
limit with its +-1 and +-2 sigma bands (green and yellow) and the observed limit."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from resonant_ad.report.figure import cms_style, new_figure, save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from resonant_ad.search.limits import Limit

__all__ = ["limit_figure", "plot_limits"]


def limit_figure(limits: Sequence[Limit], *, title: str = "") -> Figure:
    """The 95% CL limits of one cut (``limits`` of one efficiency, one per window) against
    the window's centre."""
    from matplotlib.ticker import MaxNLocator

    if len({lim.efficiency for lim in limits}) > 1:
        raise ValueError("limits of one cut per figure")
    ordered = sorted(limits, key=lambda lim: sum(lim.signal_region))
    x = [0.5 * sum(lim.signal_region) for lim in ordered]
    band = list(zip(*(lim.expected for lim in ordered), strict=True))
    what = "signal events passing the cut"
    if ordered and ordered[0].signal_efficiency < 1:
        what = "signal events in the window"
    with cms_style():
        fig = new_figure(figsize=(10, 8), dpi=150)
        ax = fig.add_subplot()
        if ordered:
            ax.fill_between(x, band[0], band[4], color="#ffcc00", label="expected $\\pm 2\\sigma$")
            ax.fill_between(x, band[1], band[3], color="#00cc00", label="expected $\\pm 1\\sigma$")
            ax.plot(x, band[2], "k--", label="expected")
            ax.plot(x, [lim.observed for lim in ordered], "k-o", markersize=5, label="observed")
            ax.set_title(f"$\\epsilon_B$ = {ordered[0].efficiency:g}", fontsize="small")
        ax.set_yscale("log")
        ax.set_xlabel("signal-region centre $m_{JJ}$ [TeV]")
        ax.set_ylabel(f"95% CL upper limit on {what}", fontsize="small")
        ax.xaxis.set_major_locator(MaxNLocator(6))
        ax.legend(fontsize="x-small", loc="best")
        if title:
            fig.suptitle(title, fontsize="small")
    return fig


def plot_limits(limits: Sequence[Limit], path: str | Path, *, title: str = "") -> Path:
    """Write :func:`limit_figure` of ``limits`` to ``path``."""
    save_figure(limit_figure(limits, title=title), path)
    return Path(path)
