"""Training-curve figures: each model's training history against the epoch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from resonant_ad.errors import InputError
from resonant_ad.report.figure import cms_style, new_figure, save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_training_curves"]


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
    with cms_style():
        fig = new_figure(figsize=(6.0 * len(present), 5.5))
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
    save_figure(fig, path)
    return fig
