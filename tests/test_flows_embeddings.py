"""Tests of the mass and time embeddings."""

from __future__ import annotations

import math

import pytest
import torch

from resonant_ad.flows.embeddings import MassEmbedding, TimeEmbedding, time_embedding


def test_time_embedding_formula() -> None:
    t = torch.tensor([0.0, 0.3, 1.0])
    emb = time_embedding(t, 3)
    assert emb.shape == (3, 8)
    for k in range(1, 5):
        torch.testing.assert_close(emb[:, 2 * (k - 1)], torch.sin(k * math.pi * t))
        torch.testing.assert_close(emb[:, 2 * (k - 1) + 1], torch.cos(k * math.pi * t))
    torch.testing.assert_close(TimeEmbedding(3)(t), emb)


def test_mass_rescaling_and_frequencies() -> None:
    emb = MassEmbedding("frequency", 9, (2.0, 8.0))
    m = torch.tensor([2.0, 5.0, 8.0])
    torch.testing.assert_close(emb.rescale(m), torch.tensor([-1.0, 0.0, 1.0]))
    out = emb(m)
    assert out.shape == (3, 18)
    u = emb.rescale(m)
    torch.testing.assert_close(out[:, 16], torch.sin(2**8 * math.pi * u))
    identity = MassEmbedding("identity", mass_range=(2.0, 8.0))
    torch.testing.assert_close(identity(m), u.reshape(-1, 1))


def test_mass_embedding_buffers_follow_state_dict() -> None:
    emb = MassEmbedding("frequency", 4, (3.0, 4.0))
    other = MassEmbedding("frequency", 4, (0.0, 1.0))
    other.load_state_dict(emb.state_dict())
    assert float(other.m_min) == 3.0 and float(other.m_max) == 4.0


def test_mass_embedding_rejects_bad_settings() -> None:
    with pytest.raises(ValueError):
        MassEmbedding("fourier")
    with pytest.raises(ValueError):
        MassEmbedding("identity", mass_range=(1.0, 1.0))
