"""A first look at an LHCO-format file: counts, the ``mjj`` spectrum and feature summaries."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from resonant_ad.data.features import EXTRA_FEATURES, compute_features
from resonant_ad.data.regions import DEFAULT_SIGNAL_REGION, SignalRegion

__all__ = ["describe_frame", "format_description"]

QUANTILES = (0.01, 0.16, 0.5, 0.84, 0.99)


def describe_frame(
    df: pd.DataFrame, signal_region: SignalRegion = DEFAULT_SIGNAL_REGION
) -> dict[str, Any]:
    """Summary numbers of validated LHCO-format events, per class (background / signal)."""
    events = compute_features(df, extras=("mj2", "tau32_j1", "tau32_j2"))
    out: dict[str, Any] = {
        "n_events": len(events),
        "n_background": events.n_background,
        "n_signal": events.n_signal,
        "n_dropped_non_finite": int(df.attrs.get("n_dropped", 0)),
        "signal_region": [signal_region.lo, signal_region.hi],
        "classes": {},
    }
    names = events.feature_names
    assert set(EXTRA_FEATURES) <= set(names)
    for cls, value in (("background", 0), ("signal", 1)):
        sel = events.select(events.label == value)
        if len(sel) == 0:
            continue
        in_sr = signal_region.contains(sel.m)
        out["classes"][cls] = {
            "n": len(sel),
            "mjj_min": float(sel.m.min()),
            "mjj_max": float(sel.m.max()),
            "mjj_quantiles": dict(
                zip(
                    [f"q{q:g}" for q in QUANTILES],
                    np.quantile(sel.m, QUANTILES).tolist(),
                    strict=True,
                )
            ),
            "fraction_in_signal_region": float(in_sr.mean()),
            "n_in_signal_region": int(in_sr.sum()),
            "features": {
                name: {
                    "mean": float(sel.x[:, i].mean()),
                    "std": float(sel.x[:, i].std()),
                    **dict(
                        zip(
                            [f"q{q:g}" for q in QUANTILES],
                            np.quantile(sel.x[:, i], QUANTILES).tolist(),
                            strict=True,
                        )
                    ),
                }
                for i, name in enumerate(names)
            },
        }
    return out


_UNITS = {"mj1": "TeV", "delta_mj": "TeV", "mj2": "TeV"}


def format_description(summary: dict[str, Any], title: str = "") -> str:
    """The summary as a readable text table."""
    lines = []
    if title:
        lines.append(title)
    lo, hi = summary["signal_region"]
    lines.append(
        f"events: {summary['n_events']}  (background {summary['n_background']}, "
        f"signal {summary['n_signal']}; {summary['n_dropped_non_finite']} dropped as non-finite)"
    )
    qnames = [f"q{q:g}" for q in QUANTILES]
    for cls, s in summary["classes"].items():
        q = s["mjj_quantiles"]
        lines.append("")
        lines.append(f"[{cls}] {s['n']} events")
        lines.append(
            f"  mjj range [{s['mjj_min']:.3f}, {s['mjj_max']:.3f}] TeV; quantiles "
            + ", ".join(f"{k[1:]}: {q[k]:.3f}" for k in qnames)
        )
        lines.append(
            f"  in SR [{lo:g}, {hi:g}] TeV: {s['n_in_signal_region']} events "
            f"({100 * s['fraction_in_signal_region']:.2f}%)"
        )
        header = f"  {'feature':<10} {'unit':<4} {'mean':>8} {'std':>8} " + " ".join(
            f"{k:>8}" for k in qnames
        )
        lines.append(header)
        for name, f in s["features"].items():
            unit = _UNITS.get(name, "")
            lines.append(
                f"  {name:<10} {unit:<4} {f['mean']:8.4f} {f['std']:8.4f} "
                + " ".join(f"{f[k]:8.4f}" for k in qnames)
            )
    return "\n".join(lines)
