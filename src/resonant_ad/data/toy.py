"""A fast toy generator of dijet events in the LHCO schema, for tests and quick experiments.

The toy is not physics-accurate, but it has the structure that makes resonant anomaly
detection hard and interesting:

* ``mjj`` follows from the jets' kinematics (``mjj ~ 2 pT cosh(d_eta / 2)``) with a
  leading-jet ``pT > 1.2 TeV`` cut, so the spectrum turns on near 2.4 TeV and falls, and
  ``dR`` is strongly correlated with ``mjj``;
* QCD jet masses scale with jet ``pT`` (so with ``mjj``) and are broad, ``tau21`` is high;
* the signal is a 3.5 TeV resonance decaying to two jets of 500 and 100 GeV with low
  ``tau21`` (two-prong), as in the LHC Olympics R&D set.

Columns and units (GeV) are exactly those of :data:`~resonant_ad.data.lhco.LHCO_COLUMNS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from resonant_ad.data.features import dijet_mass
from resonant_ad.data.lhco import LHCO_COLUMNS
from resonant_ad.data.regions import DEFAULT_SIGNAL_REGION, SignalRegion
from resonant_ad.errors import InputError

__all__ = ["ToySample", "make_toy_sample", "toy_background", "toy_signal"]

PT_MIN = 1200.0  # GeV, leading-jet cut
ETA_MAX = 2.5
MJJ_MAX = 9000.0  # GeV, the toy keeps dijet masses below this
PT_MAX = 3500.0  # GeV, truncation of the toy's pT spectrum
PT_SLOPE = 6.5  # leading-jet pT spectrum ~ pT^-slope
TAU1_ZERO_FRACTION = 1e-3  # jets with a single constituent have tau1 = 0


@dataclass(frozen=True)
class ToySample:
    """A toy data set laid out like the public files (frames in GeV, LHCO columns)."""

    background: pd.DataFrame
    signal: pd.DataFrame
    extra_background: pd.DataFrame


def _four_vectors(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    return np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], axis=-1)


def _mjj(p1: np.ndarray, m1: np.ndarray, p2: np.ndarray, m2: np.ndarray) -> np.ndarray:
    e = np.sqrt((p1**2).sum(-1) + m1**2) + np.sqrt((p2**2).sum(-1) + m2**2)
    return np.sqrt(np.clip(e**2 - ((p1 + p2) ** 2).sum(-1), 0, None))


def _substructure(
    rng: np.random.Generator, mass: np.ndarray, tau21: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(mass)
    tau1 = mass * rng.uniform(0.15, 0.45, n)
    tau2 = tau1 * tau21
    tau3 = tau2 * rng.beta(6.0, 3.0, n)
    zero = rng.random(n) < TAU1_ZERO_FRACTION
    tau1[zero] = tau2[zero] = tau3[zero] = 0.0
    return tau1, tau2, tau3


def _frame(
    rng: np.random.Generator,
    pt: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    mass: np.ndarray,
    tau21: np.ndarray,
    label: float,
) -> pd.DataFrame:
    """Assemble jets (axis 1 = jet index) into an LHCO frame, j1 = leading pT."""
    order = np.argsort(-pt, axis=1)
    cols: dict[str, np.ndarray] = {}
    for j in range(2):
        take = order[:, j]

        def pick(a: np.ndarray, take: np.ndarray = take) -> np.ndarray:
            return np.take_along_axis(a, take[:, None], axis=1)[:, 0]

        p = _four_vectors(pick(pt), pick(eta), pick(phi))
        t1, t2, t3 = _substructure(rng, pick(mass), pick(tau21))
        for name, v in zip(
            ("px", "py", "pz", "m", "tau1", "tau2", "tau3"),
            (p[:, 0], p[:, 1], p[:, 2], pick(mass), t1, t2, t3),
            strict=True,
        ):
            cols[f"{name}j{j + 1}"] = v
    cols["label"] = np.full(len(pt), label)
    return pd.DataFrame(cols)[list(LHCO_COLUMNS)]


def _background_batch(rng: np.random.Generator, n: int) -> pd.DataFrame:
    # Power law above PT_MIN, truncated at PT_MAX (inverse-CDF sampling).
    u_max = 1 - (PT_MAX / PT_MIN) ** (1 - PT_SLOPE)
    pt1 = PT_MIN * (1 - u_max * rng.random(n)) ** (-1 / (PT_SLOPE - 1))
    pt2 = pt1 * np.exp(-rng.exponential(0.06, n))
    eta = rng.normal(0.0, 0.85, (n, 2))
    phi1 = rng.uniform(-np.pi, np.pi, n)
    phi = np.stack([phi1, phi1 + np.pi + rng.normal(0, 0.08, n)], axis=1)
    pt = np.stack([pt1, pt2], axis=1)
    # Jet mass grows with jet pT; broad (log-normal) as for QCD jets.
    mass = pt * np.exp(rng.normal(np.log(0.075), 0.55, (n, 2)))
    mass = np.minimum(mass, 0.45 * pt)
    # Heavier jets (relative to pT) are a little more two-prong-like.
    rel = np.log(mass / pt / 0.075)
    tau21 = np.clip(rng.beta(6.0, 3.0, (n, 2)) - 0.05 * rel, 0.05, 1.0)
    p = _four_vectors(pt, eta, phi)
    mjj = _mjj(p[:, 0], mass[:, 0], p[:, 1], mass[:, 1])
    keep = (np.abs(eta) < ETA_MAX).all(axis=1) & (mjj < MJJ_MAX)
    return _frame(rng, pt[keep], eta[keep], phi[keep], mass[keep], tau21[keep], 0.0)


def _signal_batch(
    rng: np.random.Generator, n: int, m_res: float, m_x: float, m_y: float
) -> pd.DataFrame:
    # Narrow resonance, reconstructed with resolution and a low tail from radiation.
    target = m_res * (1 + rng.normal(0, 0.03, n)) * (1 - rng.exponential(0.02, n))
    eta_c = rng.normal(0, 0.6, n)
    d_eta = rng.normal(0, 0.9, n)
    eta = np.stack([eta_c + d_eta / 2, eta_c - d_eta / 2], axis=1)
    phi1 = rng.uniform(-np.pi, np.pi, n)
    phi = np.stack([phi1, phi1 + np.pi + rng.normal(0, 0.05, n)], axis=1)
    which = rng.random(n) < 0.5
    mx = m_x * (1 + rng.normal(0, 0.05, n)) * (1 - rng.exponential(0.03, n))
    my = m_y * (1 + rng.normal(0, 0.08, n)) * (1 - rng.exponential(0.03, n))
    mass = np.stack([np.where(which, mx, my), np.where(which, my, mx)], axis=1)
    mass = np.clip(mass, 1.0, None)
    pt = np.repeat((target / (2 * np.cosh(d_eta / 2)))[:, None], 2, axis=1)
    for _ in range(4):  # scale pT until the jets' invariant mass hits the target
        p = _four_vectors(pt, eta, phi)
        pt = pt * (target / _mjj(p[:, 0], mass[:, 0], p[:, 1], mass[:, 1]))[:, None]
    pt = pt * np.exp(rng.normal(0, 0.02, (n, 2)))
    tau21 = rng.beta(2.5, 5.0, (n, 2))
    keep = (np.abs(eta) < ETA_MAX).all(axis=1) & (pt.max(axis=1) > PT_MIN)
    return _frame(rng, pt[keep], eta[keep], phi[keep], mass[keep], tau21[keep], 1.0)


def _fill(batch: Callable[[int], pd.DataFrame], n: int) -> pd.DataFrame:
    parts, have = [batch(0)], 0
    while have < n:
        part = batch(max(2 * (n - have), 1000))
        parts.append(part)
        have += len(part)
    return pd.concat(parts, ignore_index=True).iloc[:n].reset_index(drop=True)


def toy_background(
    n: int, rng: np.random.Generator, window: SignalRegion | None = None
) -> pd.DataFrame:
    """``n`` QCD-like events (label 0); only events with ``mjj`` in ``window`` if given."""
    if n < 0:
        raise InputError(f"number of events must be non-negative, got {n}")
    if window is None:
        return _fill(lambda k: _background_batch(rng, k), n)

    def in_window(k: int) -> pd.DataFrame:
        df = _background_batch(rng, k)
        return df.loc[window.contains(dijet_mass(df) / 1000.0)]

    return _fill(in_window, n)


def toy_signal(
    n: int,
    rng: np.random.Generator,
    *,
    m_res: float = 3500.0,
    m_x: float = 500.0,
    m_y: float = 100.0,
) -> pd.DataFrame:
    """``n`` signal events (label 1): ``W'(m_res) -> X(m_x) Y(m_y)``, two-prong jets (GeV)."""
    if n < 0:
        raise InputError(f"number of events must be non-negative, got {n}")
    if not 0 < m_y <= m_x or m_x + m_y >= m_res:
        raise InputError(f"bad masses: need 0 < mY <= mX and mX + mY < mres, got {m_y, m_x, m_res}")
    return _fill(lambda k: _signal_batch(rng, k, m_res, m_x, m_y), n)


def make_toy_sample(
    n_background: int = 100_000,
    n_signal: int = 10_000,
    n_extra_background: int = 20_000,
    *,
    seed: int = 0,
    signal_region: SignalRegion = DEFAULT_SIGNAL_REGION,
) -> ToySample:
    """Background over the full spectrum, a signal pool, and extra background in the SR."""
    rng = np.random.default_rng(seed)
    return ToySample(
        background=toy_background(n_background, rng),
        signal=toy_signal(n_signal, rng),
        extra_background=toy_background(n_extra_background, rng, window=signal_region),
    )
