"""Shared plot style: each method's colour, label and line style (declared by the method in
the registry, :mod:`resonant_ad.methods.registry`), and feature axis labels."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FEATURE_LABELS", "MethodStyle", "feature_label", "method_style"]


@dataclass(frozen=True)
class MethodStyle:
    """How one method is drawn in every plot."""

    label: str
    color: str
    linestyle: str = "-"


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
    """The style the registered method ``name`` declares; unknown names get their name as
    label and a fallback colour picked by ``index``.

    >>> method_style("sigma-context").label
    'SIGMA context'
    >>> method_style("my-template", 1).color
    '#e377c2'
    """
    from resonant_ad.methods.registry import methods

    for m in methods():
        if m.name == name:
            color = m.color or _FALLBACK_COLORS[index % len(_FALLBACK_COLORS)]
            return MethodStyle(m.label or m.name, color, m.linestyle)
    return MethodStyle(name, _FALLBACK_COLORS[index % len(_FALLBACK_COLORS)])


def feature_label(name: str) -> str:
    """Axis label of a feature, the raw name if unknown."""
    return FEATURE_LABELS.get(name, name)
