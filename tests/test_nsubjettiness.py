"""N-subjettiness against hand computations and its ordering in N."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resonant_ad.data.simulate.nsubjettiness import rapidity_phi, tau_n
from resonant_ad.errors import InputError

fastjet = pytest.importorskip("fastjet")

from resonant_ad.data.simulate.nsubjettiness import (  # noqa: E402
    exclusive_kt_axes,
    nsubjettiness,
)


def massless(pt: float, y: float, phi: float) -> list[float]:
    return [pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(y), pt * math.cosh(y)]


# Three well-separated massless particles, (pT, y, phi):
#   a = (100, 0, 0), b = (50, 0.5, 0), c = (30, 0, 0.6).
# Pairwise kT distances min(pT)^2 dR^2: ab = 625, ac = 324, bc = 549, so kT merges a+c first.
THREE = np.array([massless(100, 0, 0), massless(50, 0.5, 0), massless(30, 0, 0.6)])
SUM_PT = 180.0


def test_three_prongs_wta_axes_by_hand() -> None:
    tau = nsubjettiness(THREE, n_max=3, scheme="wta")
    # WTA axes: N=2 -> directions of a and b; N=1 -> direction of a (the hardest).
    assert tau[0] == pytest.approx((50 * 0.5 + 30 * 0.6) / SUM_PT, rel=1e-9)
    assert tau[1] == pytest.approx(30 * 0.6 / SUM_PT, rel=1e-9)
    assert tau[2] == 0.0


def test_three_prongs_unnormalised_is_in_gev() -> None:
    tau = nsubjettiness(THREE, n_max=2, scheme="wta", normalized=False)
    assert tau[0] == pytest.approx(50 * 0.5 + 30 * 0.6, rel=1e-9)
    assert tau[1] == pytest.approx(30 * 0.6, rel=1e-9)


def test_three_prongs_e_scheme_axes_by_hand() -> None:
    # E-scheme, N=2: axes are b and the four-vector sum a+c; N=3: the particles themselves.
    ac = THREE[0] + THREE[2]
    y_ac = 0.5 * math.log((ac[3] + ac[2]) / (ac[3] - ac[2]))
    phi_ac = math.atan2(ac[1], ac[0])
    d_a = math.hypot(0 - y_ac, 0 - phi_ac)
    d_c = math.hypot(0 - y_ac, 0.6 - phi_ac)
    # N=1: the jet axis is the sum of all three.
    j = THREE.sum(axis=0)
    y_j = 0.5 * math.log((j[3] + j[2]) / (j[3] - j[2]))
    phi_j = math.atan2(j[1], j[0])
    d1 = [
        math.hypot(0 - y_j, 0 - phi_j),
        math.hypot(0.5 - y_j, -phi_j),
        math.hypot(-y_j, 0.6 - phi_j),
    ]
    tau = nsubjettiness(THREE, n_max=3, scheme="e")
    assert tau[0] == pytest.approx((100 * d1[0] + 50 * d1[1] + 30 * d1[2]) / SUM_PT, rel=1e-9)
    assert tau[1] == pytest.approx((100 * d_a + 30 * d_c) / SUM_PT, rel=1e-9)
    assert tau[2] == pytest.approx(0.0, abs=1e-12)


def test_exclusive_axes_are_the_subjets() -> None:
    axes = exclusive_kt_axes(THREE, 3, scheme="e")
    order = np.argsort(-np.hypot(axes[:, 0], axes[:, 1]))
    np.testing.assert_allclose(axes[order], THREE, atol=1e-9)
    assert exclusive_kt_axes(THREE[:2], 3).shape == (2, 4)


def test_fewer_constituents_than_n_gives_zero() -> None:
    tau = nsubjettiness(THREE[:2], n_max=3)
    assert tau[0] > 0
    assert tau[1] == tau[2] == 0.0
    assert np.all(nsubjettiness(np.zeros((0, 4))) == 0.0)


def test_tau_n_wraps_phi_and_scales() -> None:
    c = np.array([massless(10, 0.0, math.pi - 0.05), massless(10, 0.0, -math.pi + 0.05)])
    axis = np.array([massless(1, 0.0, math.pi - 0.05)])
    assert tau_n(c, axis) == pytest.approx(10 * 0.1 / 20, rel=1e-9)
    assert tau_n(c * 7.0, axis) == pytest.approx(tau_n(c, axis), rel=1e-12)
    assert tau_n(c, axis, beta=2.0, r0=0.5) == pytest.approx(10 * 0.01 / (20 * 0.25), rel=1e-9)
    with pytest.raises(InputError):
        tau_n(c, np.zeros((0, 4)))


def test_rapidity_of_massive_particle() -> None:
    pt, y, phi = rapidity_phi(np.array([[0.0, 2.0, 1.0, 3.0]]))
    assert pt[0] == pytest.approx(2.0)
    assert y[0] == pytest.approx(0.5 * math.log(4.0 / 2.0))
    assert phi[0] == pytest.approx(math.pi / 2)


def random_jet(rng: np.random.Generator, n: int) -> np.ndarray:
    # A core plus two displaced hard prongs, particles spread in (y, phi).
    centres = np.array([[0.0, 0.0], [0.3, 0.2], [-0.25, 0.35]])
    which = rng.integers(0, 3, n)
    y = centres[which, 0] + rng.normal(0, 0.08, n)
    phi = centres[which, 1] + rng.normal(0, 0.08, n)
    pt = rng.exponential(15.0, n) + 0.5
    return np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(y), pt * np.cosh(y)], 1)


def test_wta_kt_axes_make_tau_non_increasing() -> None:
    # With winner-takes-all recombination the N axes are a subset of the N+1 axes (a merged
    # subjet points along its harder child), so tau_{N+1} <= tau_N holds exactly.
    rng = np.random.default_rng(3)
    taus = np.array([nsubjettiness(random_jet(rng, 60), n_max=3, scheme="wta") for _ in range(200)])
    assert np.all(np.diff(taus, axis=1) <= 1e-12)
    assert np.all(taus[:, 2] > 0)
