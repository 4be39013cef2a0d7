"""Anti-kT R = 1.0 jets of an event, the LHCO selection and the output row of one event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from resonant_ad.data.lhco import LHCO_COLUMNS
from resonant_ad.data.simulate.nsubjettiness import (
    AxesScheme,
    nsubjettiness,
    require_fastjet,
    silence_fastjet_banner,
)

__all__ = [
    "COLUMNS",
    "Jet",
    "JetSelection",
    "cluster_jets",
    "dijet_mass",
    "event_row",
    "select_event",
]

#: Output columns, in the order of the LHC Olympics R&D feature files (GeV).
COLUMNS: tuple[str, ...] = LHCO_COLUMNS


@dataclass(frozen=True)
class JetSelection:
    """The event selection (GeV).

    Jets are anti-kT ``radius`` jets of the visible final state with ``pT > jet_pt_min`` and
    ``|eta| < eta_max``: the eta cut applies to *every* jet before ordering, so ``j1`` and
    ``j2`` are the two leading-pT jets inside ``|eta| < eta_max``. An event is kept if it has at
    least two such jets, ``pT(j1) > leading_pt_min`` and, with an ``mjj_window``, ``lo <= mjj
    <= hi``.
    """

    radius: float = 1.0
    jet_pt_min: float = 20.0
    eta_max: float = 2.5
    leading_pt_min: float = 1200.0
    mjj_window: tuple[float, float] | None = None
    axes: AxesScheme = "wta"


@dataclass(frozen=True)
class Jet:
    """One jet: four-momentum ``px, py, pz, E`` (GeV) and ``tau_1..3``."""

    p4: np.ndarray
    tau: np.ndarray

    @property
    def pt(self) -> float:
        return float(np.hypot(self.p4[0], self.p4[1]))

    @property
    def mass(self) -> float:
        px, py, pz, e = self.p4
        return float(np.sqrt(max(e * e - px * px - py * py - pz * pz, 0.0)))


def dijet_mass(p4a: np.ndarray, p4b: np.ndarray) -> float:
    """Invariant mass of two four-momenta ``px, py, pz, E``.

    >>> dijet_mass(np.array([0.0, 0.0, 5.0, 5.0]), np.array([0.0, 0.0, -5.0, 5.0]))
    10.0
    """
    s = np.asarray(p4a, dtype=np.float64) + np.asarray(p4b, dtype=np.float64)
    return float(np.sqrt(max(s[3] ** 2 - s[0] ** 2 - s[1] ** 2 - s[2] ** 2, 0.0)))


def cluster_jets(particles: np.ndarray, selection: JetSelection) -> list[tuple[Any, list[Any]]]:
    """Anti-kT jets passing the jet ``pT`` and ``|eta|`` cuts, leading ``pT`` first.

    Returns ``(jet, constituents)`` pairs of ``fastjet.PseudoJet`` objects. The cluster
    sequence must outlive the jets, so each constituent list is taken here.
    """
    fastjet = require_fastjet()
    silence_fastjet_banner()
    pjs = []
    for i, row in enumerate(np.asarray(particles, dtype=np.float64).tolist()):
        pj = fastjet.PseudoJet(*row)
        pj.set_user_index(i)
        pjs.append(pj)
    jet_def = fastjet.JetDefinition(fastjet.antikt_algorithm, selection.radius)
    cs = fastjet.ClusterSequence(pjs, jet_def)
    jets = fastjet.sorted_by_pt(cs.inclusive_jets(selection.jet_pt_min))
    return [(j, list(j.constituents())) for j in jets if abs(j.eta()) < selection.eta_max]


def select_event(particles: np.ndarray, selection: JetSelection) -> tuple[Jet, Jet] | None:
    """The two leading jets with ``tau_1..3`` if the event passes ``selection``, else ``None``."""
    jets = cluster_jets(particles, selection)
    if len(jets) < 2 or jets[0][0].pt() <= selection.leading_pt_min:
        return None
    p4s = [np.array((j.px(), j.py(), j.pz(), j.E()), dtype=np.float64) for j, _ in jets[:2]]
    if selection.mjj_window is not None:
        mjj = dijet_mass(p4s[0], p4s[1])
        lo, hi = selection.mjj_window
        if not (lo <= mjj <= hi):
            return None
    out = []
    for p4, (_, constituents) in zip(p4s, jets[:2], strict=True):
        index = np.fromiter((c.user_index() for c in constituents), dtype=np.int64)
        tau = nsubjettiness(
            particles[index], n_max=3, scheme=selection.axes, pseudojets=constituents
        )
        out.append(Jet(p4, tau))
    return out[0], out[1]


def event_row(j1: Jet, j2: Jet, label: float) -> list[float]:
    """One output row in :data:`COLUMNS` order."""
    row: list[float] = []
    for jet in (j1, j2):
        row += [float(jet.p4[0]), float(jet.p4[1]), float(jet.p4[2]), jet.mass]
        row += [float(t) for t in jet.tau]
    row.append(float(label))
    return row
