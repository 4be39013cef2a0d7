"""Event features from the two jets: ``mjj`` and the SIGMA feature vector, in TeV."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from resonant_ad.data.events import Events
from resonant_ad.errors import InputError

__all__ = [
    "BASE_FEATURES",
    "EXTRA_FEATURES",
    "FEATURE_SETS",
    "compute_feature_set",
    "compute_features",
    "delta_r",
    "dijet_mass",
    "safe_ratio",
]

BASE_FEATURES: tuple[str, ...] = ("mj1", "delta_mj", "tau21_j1", "tau21_j2", "delta_r")
"""The SIGMA features ``x = [mJ1, mJ2 - mJ1, tau21(J1), tau21(J2), dR(J1, J2)]``."""

EXTRA_FEATURES: tuple[str, ...] = ("tau32_j1", "tau32_j2", "mj2")
"""Optional extras a user may append: ``tau32`` of both jets and the heavier jet's mass."""

FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "sigma": BASE_FEATURES,
    "lhco": BASE_FEATURES[:4],
    "cvae": ("mj1", "mj2", "tau21_j1", "tau21_j2", "tau32_j1", "tau32_j2"),
}
"""Named feature sets: ``sigma`` (the default five), ``lhco`` (the four of CATHODE, ANODE
and R-ANODE: ``sigma`` without ``delta_r``) and ``cvae`` (the six of the cVAE
template study: both jet masses, ``tau21`` and ``tau32`` of both jets)."""

GEV_PER_TEV = 1000.0


def safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with 0 where ``den`` is 0 (a jet with ``tau1 = 0`` has ``tau21 = 0``).

    >>> safe_ratio(np.array([1.0, 2.0]), np.array([2.0, 0.0])).tolist()
    [0.5, 0.0]
    """
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _energy(p: np.ndarray, m: np.ndarray) -> np.ndarray:
    return np.sqrt(np.sum(p**2, axis=1) + m**2)


def dijet_mass(df: pd.DataFrame) -> np.ndarray:
    """Invariant mass of the two jets in GeV, from their four-vectors (columns in GeV)."""
    p1 = df[["pxj1", "pyj1", "pzj1"]].to_numpy(np.float64)
    p2 = df[["pxj2", "pyj2", "pzj2"]].to_numpy(np.float64)
    e = _energy(p1, df["mj1"].to_numpy(np.float64)) + _energy(p2, df["mj2"].to_numpy(np.float64))
    p = p1 + p2
    m2 = e**2 - np.sum(p**2, axis=1)
    return np.sqrt(np.clip(m2, 0.0, None))


def _pseudorapidity(px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> np.ndarray:
    return np.arcsinh(pz / np.hypot(px, py))


def delta_r(df: pd.DataFrame) -> np.ndarray:
    """Angular distance ``sqrt(d_eta^2 + d_phi^2)`` between the two jets."""
    eta1 = _pseudorapidity(df["pxj1"].to_numpy(), df["pyj1"].to_numpy(), df["pzj1"].to_numpy())
    eta2 = _pseudorapidity(df["pxj2"].to_numpy(), df["pyj2"].to_numpy(), df["pzj2"].to_numpy())
    phi1 = np.arctan2(df["pyj1"].to_numpy(), df["pxj1"].to_numpy())
    phi2 = np.arctan2(df["pyj2"].to_numpy(), df["pxj2"].to_numpy())
    dphi = np.mod(phi1 - phi2 + np.pi, 2 * np.pi) - np.pi
    return np.hypot(eta1 - eta2, dphi)


def compute_features(df: pd.DataFrame, extras: Sequence[str] = ()) -> Events:
    """Features of validated LHCO-format events (see :func:`~resonant_ad.data.lhco.read_lhco`).

    Jets are ordered by mass, ``J1`` the lighter. Masses in the result are in TeV.
    ``extras`` appends any of :data:`EXTRA_FEATURES`.
    """
    unknown = [e for e in extras if e not in EXTRA_FEATURES]
    if unknown:
        raise InputError(f"unknown extra feature(s) {unknown}; choose from {list(EXTRA_FEATURES)}")
    mj_a = df["mj1"].to_numpy(np.float64)
    mj_b = df["mj2"].to_numpy(np.float64)
    swap = mj_b < mj_a
    light, heavy = np.where(swap, mj_b, mj_a), np.where(swap, mj_a, mj_b)

    def by_mass(col: str) -> tuple[np.ndarray, np.ndarray]:
        a = df[f"{col}j1"].to_numpy(np.float64)
        b = df[f"{col}j2"].to_numpy(np.float64)
        return np.where(swap, b, a), np.where(swap, a, b)

    tau1 = by_mass("tau1")
    tau2 = by_mass("tau2")
    tau3 = by_mass("tau3")
    columns = {
        "mj1": light / GEV_PER_TEV,
        "delta_mj": (heavy - light) / GEV_PER_TEV,
        "tau21_j1": safe_ratio(tau2[0], tau1[0]),
        "tau21_j2": safe_ratio(tau2[1], tau1[1]),
        "delta_r": delta_r(df),
        "tau32_j1": safe_ratio(tau3[0], tau2[0]),
        "tau32_j2": safe_ratio(tau3[1], tau2[1]),
        "mj2": heavy / GEV_PER_TEV,
    }
    names = BASE_FEATURES + tuple(extras)
    label = df["label"].to_numpy() if "label" in df else np.zeros(len(df))
    return Events(
        m=dijet_mass(df) / GEV_PER_TEV,
        x=np.column_stack([columns[n] for n in names]),
        label=np.rint(label).astype(np.int64),
        feature_names=names,
    )


def compute_feature_set(df: pd.DataFrame, name: str) -> Events:
    """Features of the named set :data:`FEATURE_SETS` ``[name]``, in that order.

    >>> FEATURE_SETS["cvae"][:2], FEATURE_SETS["lhco"][-1]
    (('mj1', 'mj2'), 'tau21_j2')
    """
    if name not in FEATURE_SETS:
        raise InputError(f"unknown feature set {name!r}; choose from {sorted(FEATURE_SETS)}")
    names = FEATURE_SETS[name]
    extras = [n for n in EXTRA_FEATURES if n in names]
    events = compute_features(df, extras)
    columns = [events.feature_names.index(n) for n in names]
    return Events(events.m, events.x[:, columns], events.label, names)
