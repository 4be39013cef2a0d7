"""Tests of the invertible feature preprocessing and its log-Jacobian."""

from __future__ import annotations

import math

import pytest
import torch

from resonant_ad.errors import InputError
from resonant_ad.flows.preprocessing import PREPROCESSINGS, Preprocessor


def _data(n: int = 2000) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 3, generator=g, dtype=torch.float64)
    x[:, 0] = 0.1 + 0.8 * x[:, 0]  # bounded
    # a cusp like dR at pi: half the events piled up just below 3.14
    x[:, 1] = torch.where(x[:, 1] < 0.5, 3.14 - 0.01 * x[:, 1], 3.14 + 2 * x[:, 1])
    x[:, 2] = torch.where(x[:, 2] < 0.05, 0.0, 5 + 3 * x[:, 2])  # ties at 0, like masses
    return x


@pytest.mark.parametrize("kind", PREPROCESSINGS)
def test_round_trip_and_standardisation(kind: str) -> None:
    x = _data()
    pre = Preprocessor(3, kind).fit(x)
    z, _ = pre(x)
    torch.testing.assert_close(
        z.mean(dim=0), torch.zeros(3, dtype=torch.float64), atol=1e-10, rtol=0
    )
    torch.testing.assert_close(z.std(dim=0), torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(pre.inverse(z), x, atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("kind", PREPROCESSINGS)
def test_log_jacobian_matches_autograd(kind: str) -> None:
    x = _data()
    pre = Preprocessor(3, kind).fit(x)
    _, logdet = pre(x[:5])
    for i in range(5):
        jac = torch.autograd.functional.jacobian(lambda r: pre(r.reshape(1, -1))[0][0], x[i])
        torch.testing.assert_close(logdet[i], torch.linalg.slogdet(jac)[1])


def test_logit_keeps_samples_inside_the_training_range() -> None:
    x = _data()
    pre = Preprocessor(3, "logit").fit(x)
    far = pre.inverse(
        torch.full((4, 3), 50.0, dtype=torch.float64) * torch.tensor([[1], [-1], [1], [-1]])
    )
    span = x.max(dim=0).values - x.min(dim=0).values
    assert (far >= x.min(dim=0).values - 2e-3 * span).all()
    assert (far <= x.max(dim=0).values + 2e-3 * span).all()


def test_gaussianize_makes_every_marginal_normal() -> None:
    x = _data(20000)
    z, _ = Preprocessor(3, "gaussianize").fit(x)(x)
    # the cusp feature and the bounded ones come out with normal quantiles (ties aside)
    for j in (0, 1):
        q = torch.quantile(z[:, j], torch.tensor([0.05, 0.5, 0.95], dtype=torch.float64))
        torch.testing.assert_close(
            q, torch.tensor([-1.645, 0.0, 1.645]).double(), atol=0.05, rtol=0
        )
    # without it the cusp stays a spike: half of the events within 0.01 of the mode
    s, _ = Preprocessor(3, "standard").fit(x)(x)
    assert float((s[:, 1] - s[:, 1].median()).abs().lt(0.02).double().mean()) > 0.4


def test_gaussianize_density_is_normalised() -> None:
    """``p_x(x) = N(T(x)) |T'(x)|`` integrates to one over x (trapezoid on a fine grid)."""
    x = _data(5000)[:, :1]
    pre = Preprocessor(1, "gaussianize").fit(x)
    grid = torch.linspace(-2.0, 3.0, 200001, dtype=torch.float64).reshape(-1, 1)
    z, logdet = pre(grid)
    p = torch.exp(-0.5 * z[:, 0] ** 2 - 0.5 * math.log(2 * math.pi) + logdet)
    assert float(torch.trapezoid(p, grid[:, 0])) == pytest.approx(1.0, abs=1e-3)


def test_statistics_are_buffers_and_bad_kinds_are_refused() -> None:
    x = _data()
    for kind in PREPROCESSINGS:
        pre = Preprocessor(3, kind).fit(x)
        fresh = Preprocessor(3, kind)
        fresh.load_state_dict(pre.state_dict())
        torch.testing.assert_close(fresh(x)[0], pre(x)[0])
    with pytest.raises(InputError, match="choose one of"):
        Preprocessor(3, "boxcox")
