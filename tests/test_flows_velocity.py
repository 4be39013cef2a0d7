"""Tests of the ResNet vector field and of SIGMA's mass interpolations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from resonant_ad.flows.interpolation import InterpolatedField, MassInterpolation
from resonant_ad.flows.velocity import FastDropout, ResNetField


def _field(seed: int = 0, **kwargs: object) -> ResNetField:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = ResNetField(3, width=16, blocks=2, mass_range=(2.0, 6.0), **kwargs)  # type: ignore[arg-type]
        # move the near-zero last layers away from zero so the blocks matter
        for block in net.blocks:
            last = block.phi[-1]  # type: ignore[index]
            assert isinstance(last, torch.nn.Linear)
            torch.nn.init.normal_(last.weight, std=0.3)
    return net.eval()


def _inputs(n: int = 64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return (
        torch.rand(n, generator=g),
        torch.randn(n, 3, generator=g),
        3.0 + torch.rand(n, generator=g),
    )


def test_forward_is_head_of_input_and_context() -> None:
    net = _field()
    t, x, m = _inputs()
    torch.testing.assert_close(net(t, x, m), net.head(net.input(t, x, m), net.context(t, m)))
    scalar_t = torch.tensor(0.4)
    torch.testing.assert_close(net(scalar_t, x, m), net(torch.full((64,), 0.4), x, m))


def test_gradients_reach_every_parameter() -> None:
    net = _field().train()
    t, x, m = _inputs()
    net(t, x, m).pow(2).sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name


@pytest.mark.parametrize("level", ["field", "context"])
def test_interpolation_reproduces_the_model_at_the_anchors(level: str) -> None:
    net = _field()
    interp = InterpolatedField(net, MassInterpolation((3.2, 3.8), level=level))
    t, x, _ = _inputs()
    for anchor in (3.2, 3.8):
        m = torch.full((64,), anchor)
        torch.testing.assert_close(interp(t, x, m), net(t, x, m), atol=1e-6, rtol=1e-6)
        t0 = torch.tensor(0.7)
        torch.testing.assert_close(interp(t0, x, m), net(t0, x, m), atol=1e-6, rtol=1e-6)


def test_linear_interpolation_is_eq_12() -> None:
    net = _field()
    t, x, _ = _inputs()
    m = torch.full((64,), 3.35)
    xi = (3.35 - 3.8) / (3.2 - 3.8)
    expected = xi * net(t, x, torch.full((64,), 3.2)) + (1 - xi) * net(t, x, torch.full((64,), 3.8))
    interp = InterpolatedField(net, MassInterpolation((3.2, 3.8), level="field"))
    torch.testing.assert_close(interp(t, x, m), expected)


def test_context_interpolation_is_eq_13() -> None:
    net = _field()
    t, x, _ = _inputs()
    m = torch.full((64,), 3.6)
    xi = (3.6 - 3.8) / (3.2 - 3.8)
    lo, hi = torch.full((64,), 3.2), torch.full((64,), 3.8)
    gc = xi * net.context(t, lo) + (1 - xi) * net.context(t, hi)
    gi = xi * net.input(t, x, lo) + (1 - xi) * net.input(t, x, hi)
    interp = InterpolatedField(net, MassInterpolation((3.2, 3.8), level="context"))
    torch.testing.assert_close(interp(t, x, m), net.head(gi, gc))
    # and it differs from evaluating the network at m directly
    assert not torch.allclose(interp(t, x, m), net(t, x, m), atol=1e-3)


def test_polynomial_weights_reproduce_polynomials() -> None:
    anchors = (3.1, 3.2, 3.8, 3.9)
    m = torch.linspace(3.3, 3.7, 9, dtype=torch.float64)
    quad = MassInterpolation(anchors, degree=2)
    q = lambda u: 2.0 - 0.5 * u + 0.3 * u**2  # noqa: E731
    values = q(torch.tensor(anchors, dtype=torch.float64))
    torch.testing.assert_close(quad.weights(m) @ values, q(m))
    torch.testing.assert_close(quad.weights(m).sum(dim=1), torch.ones(9, dtype=torch.float64))


def test_interpolation_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        MassInterpolation((3.2,))
    with pytest.raises(ValueError):
        MassInterpolation((3.2, 3.8), degree=2)
    with pytest.raises(ValueError):
        MassInterpolation((3.2, 3.8), level="weights")


def test_fast_dropout_matches_dropout_statistics() -> None:
    """FastDropout drops ``p`` of the elements independently, keeps the mean, passes the
    gradient through the kept elements only, is the identity in eval mode and repeats
    with torch's seed."""

    layer = FastDropout(0.1).train()
    x = torch.ones(4096, 64, requires_grad=True)
    torch.manual_seed(3)
    y = layer(x)
    dropped = (y == 0).float()
    assert abs(float(dropped.mean()) - 0.1) < 0.003  # 262k elements: 5 sigma is 0.003
    assert abs(float(y.detach().mean()) - 1.0) < 0.005
    # no correlation between neighbouring elements (the four 16-bit parts of a draw)
    flat = dropped.reshape(-1)
    corr = np.corrcoef(flat[:-1].numpy(), flat[1:].numpy())[0, 1]
    assert abs(corr) < 0.01
    y.sum().backward()
    assert x.grad is not None
    assert torch.equal(x.grad, y.detach())  # d(x * keep * scale)/dx at x = 1
    torch.manual_seed(3)
    assert torch.equal(layer(x), y)
    assert torch.equal(layer.eval()(x), x)
    assert torch.equal(FastDropout(0.0).train()(x), x)
    with pytest.raises(ValueError):
        FastDropout(1.0)
