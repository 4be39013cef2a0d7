"""The result of a sliding-window scan: local significance against the window's centre."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resonant_ad.report.figure import cms_style, new_figure, save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["SCAN_DPI", "plot_scan", "scan_figure"]

SCAN_DPI = 150
MARKERS = ("o", "s", "^", "D")


def _summary(scan: dict[str, Any], name: str) -> str | None:
    """``name: largest confirmed local Z = ..., global Z = ...`` (``None`` without an
    excess)."""
    g = scan.get("global_significance") or {}
    local = g.get("local")
    if local is None or not local > 0:
        return None
    return f"{name}: largest confirmed local Z = {local:.2f} (global {g['global']:.2f})"


def _confirmed(c: dict[str, Any]) -> float | None:
    """A cut's confirmed significance (its ``Z`` in scans written without one)."""
    z = c.get("confirmed_significance")
    return c["significance"] if z is None else z


def scan_figure(scans: Sequence[dict[str, Any]], *, title: str = "") -> Figure:
    """``Z`` vs SR centre for one or more scans (``ScanResult.to_dict()`` each): one line per
    scan and cut efficiency, the largest confirmed excess of each scan starred, the ``|Z| < 3``
    band shaded. The legend (below) and the largest-excess summary (above) sit outside the
    axes, so neither hides a point; ``N_sig`` is named once (in the title) where every scan
    shares it."""
    from matplotlib.ticker import MaxNLocator

    one_n_sig = len({s["n_sig"] for s in scans}) <= 1
    summaries: list[str] = []
    with cms_style():
        fig = new_figure(figsize=(12, 9), dpi=SCAN_DPI)
        ax = fig.add_subplot()
        for i, scan in enumerate(scans):
            name = (
                scan["method"] if one_n_sig else f"{scan['method']} ($N_{{sig}}$={scan['n_sig']})"
            )
            centers = [w["center"] for w in scan["windows"]]
            best: tuple[float, float, float] | None = None
            for j, eps in enumerate(scan["efficiencies"]):
                cuts = [c for w in scan["windows"] for c in w["counts"] if c["efficiency"] == eps]
                z = [c["significance"] for c in cuts]
                ax.plot(
                    centers,
                    z,
                    marker=MARKERS[j % len(MARKERS)],
                    linestyle="-" if i == 0 else "--",
                    label=f"{name}, $\\epsilon_B$ = {eps:g}",
                )
                for centre, c in zip(centers, cuts, strict=True):
                    zc = _confirmed(c)
                    if zc is not None and (best is None or zc > best[2]):
                        best = (centre, c["significance"], zc)
            summary = _summary(scan, name)
            if summary and best is not None:
                summaries.append(summary)
                ax.plot(*best[:2], marker="*", markersize=18, color="black", zorder=5, linestyle="")
        ax.axhspan(-3, 3, color="0.9", zorder=0, label="$|Z| < 3$")
        ax.axhline(0, color="0.5", linewidth=1)
        ax.set_xlabel("signal-region centre $m_{JJ}$ [TeV]")
        ax.set_ylabel("local significance $Z$")
        ax.xaxis.set_major_locator(MaxNLocator(6))
        handles, labels = ax.get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize="x-small")
        heading = [title] if title else []
        fig.suptitle("\n".join(heading + summaries), fontsize="small")
    return fig


def plot_scan(scans: Sequence[dict[str, Any]], path: str | Path, *, title: str = "") -> Path:
    """Write :func:`scan_figure` of ``scans`` to ``path``."""
    save_figure(scan_figure(scans, title=title), path)
    return Path(path)
