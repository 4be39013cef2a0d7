"""Sensitivity by injection: the scan's significance at the signal's mass against the size of
an injected signal.

For each ``N_sig`` of a grid and each of several injections (its own draw of the signal
events), the scan runs on the background plus the injected signal, and the largest ``Z``
(and the largest confirmed ``Z``) over the cuts of the windows holding the signal's mass is
kept, with the signal's ``S / sqrt(B)`` in the window that holds most of it. The median and
the 16-84% band over the injections, against ``N_sig``, is the curve by which the CMS
search of arXiv:2412.03747 compares methods ("significance against injected cross
section"): one curve per method, from the same injections.

Every scan is stored in its own folder of the output (``nsigN_injK``), so an interrupted run
resumes, and a longer grid reuses what is done.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from resonant_ad.config import StudyConfig
from resonant_ad.errors import InputError
from resonant_ad.search.counts import WindowResult
from resonant_ad.search.inputs import StudyInputs

__all__ = ["SensitivityPoint", "run_sensitivity", "signal_point", "summarise"]


@dataclass(frozen=True)
class SensitivityPoint:
    """One scan of one injection: the significance in the windows of the signal's mass."""

    method: str
    n_sig: int
    injection: int
    z: float
    """The largest ``Z`` over the cuts of the windows holding the signal's mass."""
    confirmed_z: float
    """The same for the ``Z`` confirmed by a neighbouring window (what the scan reports)."""
    s_over_sqrt_b: float
    """The injected signal over the square root of the background in the window that holds
    most of it."""


def signal_point(
    method: str, n_sig: int, injection: int, windows: Sequence[WindowResult], signal_mass: float
) -> SensitivityPoint:
    """The significance of one scan in the windows holding ``signal_mass`` (TeV)."""
    held = [w for w in windows if w.signal_region[0] <= signal_mass <= w.signal_region[1]]
    if not held:
        raise InputError(f"no window of the scan holds the signal mass {signal_mass:g} TeV")
    most = max(held, key=lambda w: w.n_signal_true)
    background = max(most.n_data - most.n_signal_true, 1.0)
    return SensitivityPoint(
        method,
        n_sig,
        injection,
        max(c.significance for w in held for c in w.counts),
        max(c.confirmed_significance for w in held for c in w.counts),
        float(most.n_signal_true / np.sqrt(background)),
    )


def run_sensitivity(
    config: StudyConfig,
    inputs: StudyInputs,
    out_dir: str | Path,
    *,
    methods: Sequence[str],
    n_sigs: Sequence[int],
    injections: int,
    signal_mass: float,
    executor: Any = None,
    progress: bool = True,
) -> list[SensitivityPoint]:
    """The scans of every ``N_sig`` and injection with each method (see the module
    docstring), each stored in ``out_dir/nsigN_injK``."""
    from resonant_ad.search.scan import run_scans, scan_data

    if injections < 1 or not n_sigs or min(n_sigs) < 0:
        raise InputError("sensitivity: at least one injection and N_sig values >= 0")
    points = []
    for n_sig in sorted(set(n_sigs)):
        for k in range(injections):
            data = scan_data(config, inputs, n_sig, injection=k)
            results = run_scans(
                config,
                data,
                Path(out_dir) / f"nsig{n_sig}_inj{k}",
                methods=methods,
                executor=executor,
                progress=progress,
            )
            points += [signal_point(r.method, n_sig, k, r.windows, signal_mass) for r in results]
    return points


def summarise(points: Sequence[SensitivityPoint]) -> list[dict[str, Any]]:
    """Per method and ``N_sig``: the median and the 16% and 84% quantiles over the injections
    of ``Z``, the confirmed ``Z`` and ``S / sqrt(B)``, and the points themselves."""
    out = []
    keys = sorted({(p.method, p.n_sig) for p in points})
    for method, n_sig in keys:
        group = [p for p in points if p.method == method and p.n_sig == n_sig]
        row: dict[str, Any] = {"method": method, "n_sig": n_sig, "injections": len(group)}
        for name in ("z", "confirmed_z", "s_over_sqrt_b"):
            v = np.array([getattr(p, name) for p in group])
            row[name] = {
                "median": float(np.median(v)),
                "p16": float(np.quantile(v, 0.16)),
                "p84": float(np.quantile(v, 0.84)),
            }
        row["points"] = [asdict(p) for p in group]
        out.append(row)
    return out
