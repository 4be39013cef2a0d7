"""A run folder's damaged files (a model cut short, an empty scores file, a broken
checkpoint) are named, set aside and made again; temporary names never collide."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from resonant_ad.config import config_from_dict
from resonant_ad.data.features import compute_features
from resonant_ad.data.toy import make_toy_sample
from resonant_ad.search.inputs import StudyInputs
from resonant_ad.search.study import run_study
from resonant_ad.storage import DAMAGED_SUFFIX, temporary_name
from resonant_ad.training import TrainingConfig, train


@pytest.fixture(scope="module")
def inputs() -> StudyInputs:
    toy = make_toy_sample(6_000, 1_000, 1_500, seed=2)
    return StudyInputs(
        compute_features(toy.background),
        compute_features(toy.signal),
        compute_features(toy.extra_background),
    )


def _config() -> object:
    return config_from_dict(
        {
            "data": {"events": "unused.h5"},
            "study": {"n_sig": [300], "n_injections": 1, "methods": ["data"], "device": "cpu"},
            "model": {"preset": "tiny", "max_epochs": 1},
            "classifier": {"ensemble_size": 2, "oversampling": 1},
        }
    )


def test_damaged_pieces_are_set_aside_and_made_again(
    inputs: StudyInputs, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "run"
    first = run_study(_config(), inputs, out, progress=False)  # type: ignore[arg-type]
    (model,) = (out / "models").glob("*.pt")
    scores = sorted((out / "scores").glob("*.npz"))
    model.write_bytes(model.read_bytes()[:100])  # a copy cut short
    scores[0].write_bytes(b"")  # a file system that filled up
    with caplog.at_level(logging.WARNING, logger="resonant_ad"):
        again = run_study(_config(), inputs, out, progress=False)  # type: ignore[arg-type]
    for damaged in (model, scores[0]):
        assert f"{damaged} cannot be read" in caplog.text
        assert damaged.with_name(damaged.name + DAMAGED_SUFFIX).is_file()
        assert damaged.is_file()  # made again
    # the same seeds: the same results as before the damage
    assert again.scores[0].metrics.auc == first.scores[0].metrics.auc
    assert not list(out.rglob("*.tmp*"))  # no temporary file left behind


def test_a_damaged_checkpoint_is_set_aside_and_training_starts_afresh(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    x = torch.randn(256, 2)
    module = torch.nn.Linear(2, 1)

    def loss(
        m: torch.nn.Module, batch: tuple[torch.Tensor, ...], gen: torch.Generator
    ) -> torch.Tensor:
        return m(batch[0]).pow(2).mean()

    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"PK\x03\x04 not a whole checkpoint")
    config = TrainingConfig(max_epochs=2, batch_size=64, checkpoint_path=str(ckpt))
    with caplog.at_level(logging.WARNING, logger="resonant_ad"):
        result = train(
            module,
            loss,
            [x],
            lambda m: float(loss(m, (x,), torch.Generator())),
            config,
            seed=0,
            device=torch.device("cpu"),
        )
    assert result.epochs == 2 and "cannot be read" in caplog.text
    assert (tmp_path / ("model.ckpt" + DAMAGED_SUFFIX)).is_file()
    assert torch.load(ckpt, weights_only=False)["epoch"] == 2  # a new, whole checkpoint


def test_temporary_names_are_unique_and_keep_the_suffix(tmp_path: Path) -> None:
    names = {temporary_name(tmp_path / "scores.npz") for _ in range(100)}
    assert len(names) == 100 and all(n.suffix == ".npz" for n in names)
    assert all(n.parent == tmp_path and n.name.startswith("scores.") for n in names)
    np.savez(next(iter(names)), a=np.zeros(1))  # numpy keeps the name as it is
    assert len(list(tmp_path.glob("*.npz"))) == 1
