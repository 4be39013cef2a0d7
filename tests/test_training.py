"""Tests of the shared training loop: determinism, resume, best-k, stopping rules."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from resonant_ad.errors import InputError
from resonant_ad.training import TrainingConfig, train


def _problem(seed: int = 0) -> tuple[nn.Module, tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(600, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 0.0]) + 0.1 * torch.randn(600, generator=g)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 1))
    return net, (x[:500], y[:500]), (x[500:], y[500:])


def _loss(module: nn.Module, batch: tuple[Tensor, ...], gen: torch.Generator) -> Tensor:
    x, y = batch
    noise = 0.01 * torch.randn(x.shape, generator=gen)
    return ((module(x + noise).squeeze(1) - y) ** 2).mean()


def _run(config: TrainingConfig, **kwargs: object) -> tuple[nn.Module, object]:
    net, data, (xv, yv) = _problem()
    result = train(
        net,
        _loss,
        data,
        lambda mod: float(((mod(xv).squeeze(1) - yv) ** 2).mean()),
        config,
        seed=7,
        device=torch.device("cpu"),
        **kwargs,  # type: ignore[arg-type]
    )
    return net, result


def _states_equal(a: dict[str, Tensor], b: dict[str, Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_training_is_deterministic_and_keeps_best_k() -> None:
    config = TrainingConfig(batch_size=64, learning_rate=1e-2, max_epochs=8, n_best=3)
    net_a, res_a = _run(config)
    net_b, _ = _run(config)
    assert _states_equal(net_a.state_dict(), net_b.state_dict())
    scores = [m.score for m in res_a.members]  # type: ignore[attr-defined]
    assert len(scores) == 3 and scores == sorted(scores)
    all_scores = sorted(h["val_score"] for h in res_a.history)  # type: ignore[attr-defined]
    assert scores == all_scores[:3]
    assert res_a.history[-1]["val_score"] < res_a.history[0]["val_score"]  # type: ignore[attr-defined]


def test_resume_after_interruption_equals_uninterrupted(tmp_path: Path) -> None:
    base = TrainingConfig(batch_size=64, learning_rate=1e-2, max_epochs=9, n_best=3)
    net_full, res_full = _run(base)

    config = TrainingConfig(
        **{**base.__dict__, "checkpoint_path": str(tmp_path / "ck.pt"), "checkpoint_every": 2}
    )

    def interrupt(epoch: int, record: dict[str, float]) -> None:
        if epoch == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(config, on_epoch_end=interrupt)
    net_res, res_res = _run(config)
    assert res_res.epochs == 9  # type: ignore[attr-defined]
    assert _states_equal(net_full.state_dict(), net_res.state_dict())
    for a, b in zip(res_full.members, res_res.members, strict=True):  # type: ignore[attr-defined]
        assert a.epoch == b.epoch and a.score == b.score and _states_equal(a.state, b.state)
    assert [h["train_loss"] for h in res_full.history] == [h["train_loss"] for h in res_res.history]  # type: ignore[attr-defined]


def test_checkpoint_with_other_settings_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "ck.pt")
    _run(TrainingConfig(batch_size=64, max_epochs=2, checkpoint_path=path))
    with pytest.raises(InputError):
        _run(TrainingConfig(batch_size=32, max_epochs=2, checkpoint_path=path))


def test_early_stopping_and_time_budget() -> None:
    # a zero learning rate never improves: stops after the patience
    _, res = _run(
        TrainingConfig(batch_size=64, learning_rate=0.0, max_epochs=50, early_stopping_patience=3)
    )
    assert res.stop_reason == "early_stopping" and res.epochs == 4  # type: ignore[attr-defined]
    _, res = _run(TrainingConfig(batch_size=64, max_epochs=1000, max_seconds=0.0))
    assert res.stop_reason == "max_seconds" and res.epochs == 1  # type: ignore[attr-defined]
    assert len(res.members) == 1  # type: ignore[attr-defined]


def test_plateau_lowers_the_learning_rate() -> None:
    # a tiny learning rate improves the score by far less than the plateau threshold
    config = TrainingConfig(
        batch_size=500, learning_rate=1e-6, max_epochs=8, plateau_patience=1, plateau_factor=0.5
    )
    _, res = _run(config)
    lrs = [h["lr"] for h in res.history]  # type: ignore[attr-defined]
    assert lrs[0] == 1e-6 and lrs[-1] < lrs[0]


def test_a_killed_training_loses_at_most_the_epoch_in_progress(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    ckpt, log = tmp_path / "ck.pt", tmp_path / "epochs.txt"
    script = f"""
import sys, time
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_training import TrainingConfig, _run
config = TrainingConfig(batch_size=64, max_epochs=400, checkpoint_path={str(ckpt)!r})
def slow(epoch, record):
    with open({str(log)!r}, "a") as f:
        f.write(f"{{epoch}}\\n")
    time.sleep(0.05)
_run(config, on_epoch_end=slow)
"""
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 60
    while time.time() < deadline and (not log.exists() or len(log.read_text().split()) < 5):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)  # no chance to save anything
    proc.wait()
    done = int(log.read_text().split()[-1])  # the last epoch the killed run finished
    assert proc.returncode == -signal.SIGKILL and 5 <= done < 400
    resumed = torch.load(ckpt, weights_only=False)["epoch"]
    assert done - 1 <= resumed <= done  # at most the epoch in progress (or its save) is lost
    _, result = _run(
        TrainingConfig(batch_size=64, max_epochs=resumed + 2, checkpoint_path=str(ckpt))
    )
    assert result.epochs == resumed + 2  # type: ignore[attr-defined]
