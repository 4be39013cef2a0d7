"""N-subjettiness tau_N (beta = 1) of a jet from its constituents and exclusive-kT subjet axes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from resonant_ad.data.simulate.pythia import require_simulator_module
from resonant_ad.errors import InputError

__all__ = [
    "AxesScheme",
    "exclusive_kt_axes",
    "nsubjettiness",
    "rapidity_phi",
    "require_fastjet",
    "silence_fastjet_banner",
    "tau_n",
]

AxesScheme = Literal["wta", "e"]

_BANNER_SILENCED = False


def require_fastjet() -> Any:
    """Import and return the ``fastjet`` module, or raise a clear error if it is missing."""
    return require_simulator_module("fastjet", "FastJet")


def silence_fastjet_banner() -> None:
    """Let FastJet print its one-per-process banner into ``/dev/null``.

    FastJet writes the banner to C++ ``std::cout`` on the first clustering; this runs one tiny
    clustering with file descriptor 1 pointed at ``/dev/null``.
    """
    global _BANNER_SILENCED
    if _BANNER_SILENCED:
        return
    fastjet = require_fastjet()
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        jet_def = fastjet.JetDefinition(fastjet.antikt_algorithm, 0.4)
        fastjet.ClusterSequence([fastjet.PseudoJet(1.0, 0.0, 0.0, 1.0)], jet_def).inclusive_jets()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    _BANNER_SILENCED = True


def rapidity_phi(p4: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Transverse momentum, rapidity and azimuth of ``(n, 4)`` four-momenta ``px, py, pz, E``.

    >>> pt, y, phi = rapidity_phi(np.array([[3.0, 4.0, 0.0, 5.0]]))
    >>> float(pt[0]), float(y[0])
    (5.0, 0.0)
    """
    p4 = np.asarray(p4, dtype=np.float64).reshape(-1, 4)
    px, py, pz, e = p4.T
    pt = np.hypot(px, py)
    # Massless-safe rapidity; E = |pz| (a particle along the beam) is clipped.
    num = np.maximum(e + pz, 1e-300)
    den = np.maximum(e - pz, 1e-300)
    y = 0.5 * np.log(num / den)
    phi = np.arctan2(py, px)
    return pt, y, phi


def tau_n(
    constituents: np.ndarray,
    axes: np.ndarray,
    beta: float = 1.0,
    r0: float = 1.0,
    normalized: bool = True,
) -> float:
    """N-subjettiness of a jet for given axes (Thaler and Van Tilburg, arXiv:1011.2268).

    ``tau_N = sum_i pT_i min_k dR_ik^beta / d0`` with ``dR^2 = dy^2 + dphi^2`` between
    constituent ``i`` and axis ``k`` and ``d0 = sum_i pT_i r0^beta`` if ``normalized`` (as
    fjcontrib's ``NormalizedMeasure(beta, r0)``, used by Delphes for fat jets), else
    ``d0 = 1`` (GeV units, fjcontrib's ``UnnormalizedMeasure``). ``N`` is ``len(axes)``, at
    least 1.

    >>> c = np.array([[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 1.0]])
    >>> round(tau_n(c, c[:1]), 6)  # second particle at dphi = pi/2 from the only axis
    0.785398
    """
    constituents = np.asarray(constituents, dtype=np.float64).reshape(-1, 4)
    axes = np.asarray(axes, dtype=np.float64).reshape(-1, 4)
    if len(axes) == 0:
        raise InputError("tau_N needs at least one axis")
    if len(constituents) == 0:
        return 0.0
    pt, y, phi = rapidity_phi(constituents)
    _, ya, phia = rapidity_phi(axes)
    dphi = np.abs(phi[:, None] - phia[None, :])
    dphi = np.where(dphi > np.pi, 2.0 * np.pi - dphi, dphi)
    dr2 = (y[:, None] - ya[None, :]) ** 2 + dphi**2
    dmin = np.sqrt(dr2.min(axis=1))
    numerator = float(np.sum(pt * dmin**beta))
    if not normalized:
        return numerator
    d0 = float(np.sum(pt)) * r0**beta
    return numerator / d0 if d0 > 0 else 0.0


def _pseudojets(constituents: np.ndarray) -> list[Any]:
    fastjet = require_fastjet()
    return [fastjet.PseudoJet(*row) for row in np.asarray(constituents, dtype=np.float64).tolist()]


def _kt_definition(scheme: AxesScheme) -> Any:
    fastjet = require_fastjet()
    radius = fastjet.JetDefinition.max_allowable_R  # no beam distance: pure pairwise kT
    if scheme == "wta":
        return fastjet.JetDefinition(fastjet.kt_algorithm, radius, fastjet.WTA_pt_scheme)
    if scheme == "e":
        return fastjet.JetDefinition(fastjet.kt_algorithm, radius, fastjet.E_scheme)
    raise InputError(f"unknown axes scheme {scheme!r}; choose 'wta' or 'e'")


def exclusive_kt_axes(
    constituents: np.ndarray | Sequence[Any], n: int, scheme: AxesScheme = "wta"
) -> np.ndarray:
    """The ``n`` exclusive-kT subjets of a jet's constituents as ``(n, 4)`` four-momenta.

    ``constituents`` is an ``(m, 4)`` array ``px, py, pz, E`` or a list of
    ``fastjet.PseudoJet``. ``scheme`` is the recombination scheme of the kT clustering:
    ``"wta"`` (winner-takes-all in pT, fjcontrib's ``WTA_KT_Axes``, the Delphes default)
    or ``"e"`` (four-vector sum, fjcontrib's ``KT_Axes``). Fewer than ``n`` constituents
    give fewer axes.
    """
    if n < 1:
        raise InputError(f"need n >= 1 axes, got {n}")
    pjs = _pseudojets(constituents) if isinstance(constituents, np.ndarray) else list(constituents)
    if len(pjs) == 0:
        return np.zeros((0, 4))
    fastjet = require_fastjet()
    silence_fastjet_banner()
    cs = fastjet.ClusterSequence(pjs, _kt_definition(scheme))
    subjets = cs.exclusive_jets(min(n, len(pjs)))
    return np.array([(j.px(), j.py(), j.pz(), j.E()) for j in subjets], dtype=np.float64)


def nsubjettiness(
    constituents: np.ndarray,
    n_max: int = 3,
    scheme: AxesScheme = "wta",
    beta: float = 1.0,
    r0: float = 1.0,
    normalized: bool = True,
    pseudojets: Sequence[Any] | None = None,
) -> np.ndarray:
    """``(tau_1, ..., tau_n_max)`` of one jet, axes from exclusive-kT subjets.

    One kT clustering of the constituents serves every ``N``. A jet with at most ``N``
    constituents has ``tau_N = 0``. ``pseudojets``, if given, are the same constituents as
    ``fastjet.PseudoJet`` (saves building them again).
    """
    constituents = np.asarray(constituents, dtype=np.float64).reshape(-1, 4)
    out = np.zeros(n_max, dtype=np.float64)
    m = len(constituents)
    if m == 0:
        return out
    fastjet = require_fastjet()
    silence_fastjet_banner()
    pjs = list(pseudojets) if pseudojets is not None else _pseudojets(constituents)
    cs = fastjet.ClusterSequence(pjs, _kt_definition(scheme))
    for n in range(1, n_max + 1):
        if m <= n:
            break  # every constituent is its own axis: tau_N = 0
        subjets = cs.exclusive_jets(n)
        axes = np.array([(j.px(), j.py(), j.pz(), j.E()) for j in subjets], dtype=np.float64)
        out[n - 1] = tau_n(constituents, axes, beta=beta, r0=r0, normalized=normalized)
    return out
