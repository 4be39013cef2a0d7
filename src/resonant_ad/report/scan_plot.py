"""The result of a sliding-window scan: local significance against the window's centre."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_scan"]


def plot_scan(scans: Sequence[dict[str, Any]], path: str | Path, *, title: str = "") -> Path:
    """Plot ``Z`` vs SR centre for one or more scans (``ScanResult.to_dict()`` each).

    One line per scan and cut efficiency; the ``|Z| = 3`` band is shaded.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    mplhep.style.use("CMS")
    fig, ax = plt.subplots(figsize=(9, 6))
    markers = ("o", "s", "^", "D")
    for i, scan in enumerate(scans):
        windows = scan["windows"]
        g = scan.get("global_significance") or {}
        if g.get("local", float("nan")) > 0:
            ax.text(
                0.98,
                0.97 - 0.06 * i,
                f"{scan['method']} ($N_{{sig}}$={scan['n_sig']}): largest local Z = "
                f"{g['local']:.2f}, global Z = {g['global']:.2f}",
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=11,
            )
        centers = [w["center"] for w in windows]
        for j, eps in enumerate(scan["efficiencies"]):
            z = [c["significance"] for w in windows for c in w["counts"] if c["efficiency"] == eps]
            ax.plot(
                centers,
                z,
                marker=markers[j % len(markers)],
                linestyle="-" if i == 0 else "--",
                label=f"{scan['method']} ($N_{{sig}}$={scan['n_sig']}), $\\epsilon_B$={eps:g}",
            )
    ax.axhspan(-3, 3, color="0.9", zorder=0, label="$|Z| < 3$")
    ax.axhline(0, color="0.5", linewidth=1)
    ax.set_xlabel("signal-region centre $m_{JJ}$ [TeV]")
    ax.set_ylabel("local significance $Z$")
    if title:
        ax.set_title(title, fontsize=16)
    ax.legend(fontsize=12, loc="upper left")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
