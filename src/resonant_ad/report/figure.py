"""How a study's figures are made: off-screen, in the mplhep CMS style, saved on request.

The plot functions of :mod:`resonant_ad.report` (SIC curves, histograms, training curves,
signal fractions) build a :class:`matplotlib.figure.Figure` with :func:`new_figure` on the
Agg canvas under :func:`cms_style` (fonts and ticks only; no experiment label is drawn),
return it, and write it with :func:`save_figure` when given a ``path``. Nothing here touches
pyplot's global state.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "cms_style",
    "grid_shape",
    "legend_above",
    "new_figure",
    "render_array",
    "save_figure",
]

log = logging.getLogger(__name__)


@contextmanager
def cms_style() -> Iterator[None]:
    """Matplotlib settings of the mplhep CMS style while the block runs, with mathematics in
    DejaVu Sans: the style's own math fonts (TeX Gyre Heros) have no radical sign, so every
    square root in a label cost a warning and an empty box."""
    import matplotlib as mpl
    import mplhep

    with (
        mpl.rc_context(mplhep.style.CMS),
        mpl.rc_context({"mathtext.fontset": "dejavusans", "mathtext.default": "regular"}),
    ):
        yield


def new_figure(**kwargs: Any) -> Figure:
    """A figure on its own Agg canvas (``layout="constrained"`` unless given)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    kwargs.setdefault("layout", "constrained")
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | Path | None) -> None:
    """Write ``fig`` to ``path`` (its folder made if missing); nothing if ``path`` is None."""
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


def grid_shape(n: int, max_columns: int) -> tuple[int, int]:
    """``(columns, rows)`` of a grid of ``n`` panels at most ``max_columns`` wide.

    >>> grid_shape(7, 3)
    (3, 3)
    """
    ncols = min(n, max_columns)
    return ncols, math.ceil(n / ncols)


def legend_above(fig: Figure, max_columns: int) -> None:
    """The legend of the figure's first panel, above all panels in at most ``max_columns``."""
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncol=min(len(labels), max_columns))
