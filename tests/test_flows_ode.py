"""Tests of ODE integration, exact divergences and likelihoods against closed forms."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from resonant_ad.flows.ode import ODESolver, divergence, log_likelihood, sample_field


@pytest.mark.parametrize(
    ("solver", "tol"),
    [
        (ODESolver("dopri5", atol=1e-8, rtol=1e-8), 1e-6),
        (ODESolver("rk4", 50), 1e-6),
        (ODESolver("midpoint", 200), 1e-4),
        (ODESolver("euler", 2000), 2e-3),
    ],
)
def test_integrator_matches_rotation(solver: ODESolver, tol: float) -> None:
    # dx/dt = t * J x with J a rotation generator: x(t) = R(t^2 / 2) x(0)
    x0 = torch.tensor([[1.0, 0.0], [0.3, -2.0]], dtype=torch.float64)

    def f(t: Tensor, x: Tensor) -> Tensor:
        return t * torch.stack((-x[:, 1], x[:, 0]), dim=1)

    x1, nfe = solver.integrate(f, x0, 0.0, 1.5)
    angle = 1.5**2 / 2
    c, s = math.cos(angle), math.sin(angle)
    expected = torch.stack((c * x0[:, 0] - s * x0[:, 1], s * x0[:, 0] + c * x0[:, 1]), dim=1)
    torch.testing.assert_close(x1, expected, atol=tol, rtol=0)
    assert nfe > 0
    back, _ = solver.integrate(f, x1, 1.5, 0.0)  # integrating backwards in time
    torch.testing.assert_close(back, x0, atol=10 * tol, rtol=0)


def test_divergence_is_exact_trace() -> None:
    a = torch.randn(4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = torch.randn(7, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    v, div = divergence(lambda y: torch.tanh(y @ a.T), x)
    # d/dx_i tanh(a_i . x) = (1 - tanh^2) a_ii
    expected = ((1 - torch.tanh(x @ a.T) ** 2) * torch.diagonal(a)).sum(dim=1)
    torch.testing.assert_close(div, expected)
    torch.testing.assert_close(v, torch.tanh(x @ a.T))


MU = torch.tensor([1.5, -0.5], dtype=torch.float64)
SIGMA = torch.tensor([0.4, 2.0], dtype=torch.float64)


def gaussian_field(t: Tensor, x: Tensor, m: Tensor) -> Tensor:
    """Marginal OT-path field from N(MU, SIGMA^2) at t = 0 to N(0, 1) at t = 1.

    x_t = (1 - t) x0 + t x1 is Gaussian with mean a = (1 - t) mu and variance
    S^2 = (1 - t)^2 s^2 + t^2, so u = a' + (S'/S)(x - a) = -mu + (t - (1 - t) s^2)/S^2 (x - a).
    """
    t = torch.as_tensor(t, dtype=x.dtype)
    var = (1 - t) ** 2 * SIGMA**2 + t**2
    return -MU + (t - (1 - t) * SIGMA**2) / var * (x - (1 - t) * MU)


@pytest.mark.parametrize(
    "solver", [ODESolver("dopri5", atol=1e-7, rtol=1e-7), ODESolver("rk4", 40)]
)
def test_log_likelihood_of_gaussian_flow(solver: ODESolver) -> None:
    x0 = MU + SIGMA * torch.randn(
        200, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64
    )
    m = torch.zeros(200, dtype=torch.float64)
    lp, _ = log_likelihood(gaussian_field, x0, m, solver)
    expected = torch.distributions.Normal(MU, SIGMA).log_prob(x0).sum(dim=1)
    torch.testing.assert_close(lp, expected, atol=1e-4, rtol=0)


def test_sampling_gaussian_flow_recovers_moments() -> None:
    x1 = torch.randn(20000, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    m = torch.zeros(20000, dtype=torch.float64)
    x0, _ = sample_field(gaussian_field, m, x1, ODESolver("rk4", 20))
    torch.testing.assert_close(x0.mean(dim=0), MU, atol=0.04, rtol=0)
    torch.testing.assert_close(x0.std(dim=0), SIGMA, atol=0.0, rtol=0.03)


def test_solver_rejects_unknown_method() -> None:
    with pytest.raises(ValueError):
        ODESolver("heun")
