"""Shared fixtures: small toy samples and LHCO-format files written the way pandas writes them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from resonant_ad.data.lhco import LHCO_COLUMNS
from resonant_ad.data.toy import ToySample, make_toy_sample


@pytest.fixture(scope="session")
def toy_sample() -> ToySample:
    return make_toy_sample(20_000, 3_000, 4_000, seed=7)


@pytest.fixture
def lhco_file(tmp_path: Path, toy_sample: ToySample) -> Path:
    """A small file in the published R&D format: bkg + signal, label column, key 'df'."""
    df = pd.concat([toy_sample.background, toy_sample.signal], ignore_index=True)
    df = df.sample(frac=1.0, random_state=0).reset_index(drop=True)
    path = tmp_path / "events_anomalydetection_v2.features.h5"
    df[list(LHCO_COLUMNS)].to_hdf(path, key="df", mode="w")
    return path


def write_frame(path: Path, df: pd.DataFrame) -> Path:
    df.to_hdf(path, key="df", mode="w")
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    """Tiny models train fastest on one thread (and never oversubscribe a busy machine)."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    torch.set_num_threads(1)
