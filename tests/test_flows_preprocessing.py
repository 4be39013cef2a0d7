"""Tests of the invertible feature preprocessing and its log-Jacobian."""

from __future__ import annotations

import torch

from resonant_ad.flows.preprocessing import Preprocessor


def _data() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(500, 3, generator=g, dtype=torch.float64)
    x[:, 0] = 0.1 + 0.8 * x[:, 0]  # bounded in (0, 1)
    x[:, 2] = 5 + 3 * x[:, 2]
    return x


def test_round_trip_and_standardisation() -> None:
    x = _data()
    pre = Preprocessor(3, {0: (0.0, 1.0)}).fit(x)
    z, _ = pre(x)
    torch.testing.assert_close(
        z.mean(dim=0), torch.zeros(3, dtype=torch.float64), atol=1e-10, rtol=0
    )
    torch.testing.assert_close(z.std(dim=0), torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(pre.inverse(z), x)


def test_log_jacobian_matches_autograd() -> None:
    x = _data()
    pre = Preprocessor(3, {0: (0.0, 1.0)}).fit(x)
    _, logdet = pre(x[:5])
    for i in range(5):
        jac = torch.autograd.functional.jacobian(lambda r: pre(r.reshape(1, -1))[0][0], x[i])
        torch.testing.assert_close(logdet[i], torch.linalg.slogdet(jac)[1])


def test_statistics_are_buffers() -> None:
    x = _data()
    pre = Preprocessor(3).fit(x)
    fresh = Preprocessor(3)
    fresh.load_state_dict(pre.state_dict())
    torch.testing.assert_close(fresh(x)[0], pre(x)[0])
