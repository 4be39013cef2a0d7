"""Tests of the conditional OT path and the flow-matching loss."""

from __future__ import annotations

import torch

from resonant_ad.flows.matching import OTPath, draw_path_variables, flow_matching_loss


def test_path_endpoints_and_velocity() -> None:
    g = torch.Generator().manual_seed(0)
    x0, x1 = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    path = OTPath()
    torch.testing.assert_close(path.mu_t(x0, x1, torch.zeros(4)), x0)
    torch.testing.assert_close(path.mu_t(x0, x1, torch.ones(4)), x1)
    t, h = torch.full((4,), 0.3), 1e-3
    numeric = (path.mu_t(x0, x1, t + h) - path.mu_t(x0, x1, t - h)) / (2 * h)
    torch.testing.assert_close(numeric, path.u_t(x0, x1), atol=1e-3, rtol=0)


def test_loss_vanishes_for_the_conditional_field() -> None:
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(8, 2, generator=g)
    t, x1, _ = draw_path_variables(x0, generator=g)
    path = OTPath()
    exact = flow_matching_loss(lambda t_, x, m: x1 - x0, path, x0, torch.zeros(8), t, x1)
    assert float(exact) == 0.0
    wrong = flow_matching_loss(
        lambda t_, x, m: torch.zeros_like(x), path, x0, torch.zeros(8), t, x1
    )
    assert float(wrong) > 0.1


def test_draws_are_seeded() -> None:
    x0 = torch.zeros(5, 2)
    a = draw_path_variables(x0, generator=torch.Generator().manual_seed(3))
    b = draw_path_variables(x0, generator=torch.Generator().manual_seed(3))
    for u, v in zip(a, b, strict=True):
        assert torch.equal(u, v)
