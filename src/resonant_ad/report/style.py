"""Shared plot style: one colour, label and line style per method, and feature axis labels."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FEATURE_LABELS", "METHOD_STYLES", "MethodStyle", "feature_label", "method_style"]


@dataclass(frozen=True)
class MethodStyle:
    """How one method is drawn in every plot."""

    label: str
    color: str
    linestyle: str = "-"


METHOD_STYLES: dict[str, MethodStyle] = {
    "data": MethodStyle(r"$v^{\mathrm{data}}$ (all data)", "#ff7f0e"),
    "cr": MethodStyle(r"$v^{\mathrm{CR}}$ (CATHODE-style)", "#1f77b4"),
    "sigma-linear": MethodStyle("SIGMA linear", "#d62728", "--"),
    "sigma-context": MethodStyle("SIGMA context", "#2ca02c"),
    "sigma-poly": MethodStyle("SIGMA polynomial", "#9467bd", "-."),
    "iad": MethodStyle("Idealized AD", "black", ":"),
    "supervised": MethodStyle("Supervised", "#7f7f7f", ":"),
}
"""Method name (as in ``report.json``) to its plot style."""

_FALLBACK_COLORS = ("#8c564b", "#e377c2", "#bcbd22", "#17becf")

FEATURE_LABELS: dict[str, str] = {
    "mj1": r"$m_{J_1}$ [TeV]",
    "delta_mj": r"$m_{J_2} - m_{J_1}$ [TeV]",
    "tau21_j1": r"$\tau_{21}^{J_1}$",
    "tau21_j2": r"$\tau_{21}^{J_2}$",
    "delta_r": r"$\Delta R_{JJ}$",
    "tau32_j1": r"$\tau_{32}^{J_1}$",
    "tau32_j2": r"$\tau_{32}^{J_2}$",
    "mj2": r"$m_{J_2}$ [TeV]",
}


def method_style(name: str, index: int = 0) -> MethodStyle:
    """The style of ``name``; unknown names get a fallback colour picked by ``index``.

    >>> method_style("sigma-context").label
    'SIGMA context'
    >>> method_style("my-template", 1).color
    '#e377c2'
    """
    if name in METHOD_STYLES:
        return METHOD_STYLES[name]
    return MethodStyle(name, _FALLBACK_COLORS[index % len(_FALLBACK_COLORS)])


def feature_label(name: str) -> str:
    """Axis label of a feature, the raw name if unknown."""
    return FEATURE_LABELS.get(name, name)
