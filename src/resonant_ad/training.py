"""The one training loop: AdamW, plateau schedule, early stopping, best-k ensemble, resume."""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from resonant_ad.errors import InputError
from resonant_ad.storage import read_or_set_aside, write_atomic

__all__ = ["Member", "TrainingConfig", "TrainingResult", "epoch_bound", "resolve_device", "train"]

log = logging.getLogger(__name__)

LossFn = Callable[[nn.Module, tuple[Tensor, ...], torch.Generator], Tensor]
ValidateFn = Callable[[nn.Module], float]
MonitorFn = Callable[[nn.Module, int], dict[str, float]]
EpochHook = Callable[[int, dict[str, float]], None]

_CHECKPOINT_VERSION = 1


def resolve_device(device: str | torch.device) -> torch.device:
    """``'auto'`` -> CUDA when available, else CPU; anything else as given."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' asked for, but torch sees no CUDA device")
    return dev


@dataclass(frozen=True)
class TrainingConfig:
    """Settings of :func:`train`. Patiences count epochs.

    ``validate_every``/``validate_after``: the validation score (lower is better) is computed
    every ``validate_every`` epochs once ``validate_after`` epochs have passed; it drives the
    learning-rate plateau schedule, early stopping and the choice of the ``n_best`` members.
    ``max_seconds`` stops training after that much wall time (summed over resumptions).
    ``checkpoint_path``: a file written every ``checkpoint_every`` epochs (and at the end) from
    which an interrupted run resumes bit for bit (on CPU) when called again with the same file.
    """

    batch_size: int = 4096
    learning_rate: float = 3e-4
    weight_decay: float = 1e-2
    max_epochs: int = 2000
    plateau_factor: float = 0.3
    plateau_patience: int = 50
    early_stopping_patience: int = 100
    n_best: int = 10
    validate_every: int = 1
    validate_after: int = 0
    max_seconds: float | None = None
    checkpoint_path: str | None = None
    checkpoint_every: int = 1
    progress: bool = False
    grad_clip: float | None = None
    """Clip the gradient's global norm to this value before each step (``None``: no clip)."""

    def fingerprint(self) -> dict[str, Any]:
        """Settings that must match for a checkpoint to be resumed."""
        keep = asdict(self)
        for key in ("max_seconds", "checkpoint_path", "checkpoint_every", "progress", "max_epochs"):
            keep.pop(key)
        if keep["grad_clip"] is None:  # checkpoints written before the setting still match
            keep.pop("grad_clip")
        return keep


@dataclass
class Member:
    """One kept checkpoint: validation score, epoch, and the module's state (on CPU)."""

    score: float
    epoch: int
    state: dict[str, Tensor]


@dataclass
class TrainingResult:
    """Best members (best first), per-epoch history, and how training ended."""

    members: list[Member]
    history: list[dict[str, float]] = field(default_factory=list)
    epochs: int = 0
    seconds: float = 0.0
    stop_reason: str = ""


def _cpu_state(module: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def _insert_member(members: list[Member], member: Member, k: int) -> bool:
    if len(members) < k or member.score < members[-1].score:
        members.append(member)
        members.sort(key=lambda c: (c.score, c.epoch))
        del members[k:]
        return True
    return False


def _save_atomic(obj: Any, path: Path) -> None:
    write_atomic(path, lambda tmp: torch.save(obj, tmp))


def epoch_bound(
    epoch: int, max_epochs: int, *, seconds_per_epoch: float, seconds_left: float | None
) -> int:
    """The epoch at which training will end at the latest: ``max_epochs``, or earlier when the
    time left (``None``: no budget) runs out at the measured pace (for the progress bar).

    >>> epoch_bound(10, 2000, seconds_per_epoch=2.0, seconds_left=100.0)
    60
    >>> epoch_bound(10, 40, seconds_per_epoch=2.0, seconds_left=100.0)
    40
    """
    if seconds_left is None or seconds_per_epoch <= 0:
        return max_epochs
    by_time = epoch + math.ceil(max(seconds_left, 0.0) / seconds_per_epoch)
    return max(epoch, min(max_epochs, by_time))


def train(
    module: nn.Module,
    loss_fn: LossFn,
    data: Sequence[Tensor],
    validate: ValidateFn,
    config: TrainingConfig,
    *,
    seed: int,
    device: torch.device,
    monitor: MonitorFn | None = None,
    on_epoch_end: EpochHook | None = None,
) -> TrainingResult:
    """Minimise ``loss_fn(module, batch, generator)`` over mini-batches of ``data``.

    A module may define ``parameter_groups(learning_rate, weight_decay)`` returning
    AdamW's parameter groups (e.g. a scalar parameter without weight decay); otherwise all
    parameters share the config's learning rate and weight decay.

    ``data`` are tensors with a common first dimension (already on ``device``); each epoch
    shuffles them with a seeded generator and hands ``loss_fn`` a tuple of batch slices and
    a ``torch.Generator`` on ``device`` for its own random draws. ``validate(module)`` is
    called in eval mode without gradients and returns the selection score. Dropout draws are
    seeded from the loop's generator inside a forked global RNG, so training is reproducible
    for a ``seed`` without touching the caller's global random state. ``monitor`` adds
    extra numbers to the history at validation epochs; ``on_epoch_end(epoch, record)`` is
    called after each epoch (and after the checkpoint is written).
    """
    from tqdm.auto import tqdm

    module.to(device)
    n = int(data[0].shape[0])
    if any(int(d.shape[0]) != n for d in data):
        raise InputError("training tensors differ in length")
    if n < 2:
        raise InputError(f"{n} training events: too few to train on")
    batch = min(config.batch_size, n)
    steps_per_epoch = max(1, n // batch)
    groups = getattr(module, "parameter_groups", None)
    params = (
        groups(config.learning_rate, config.weight_decay)
        if groups is not None
        else module.parameters()
    )
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer,
        factor=config.plateau_factor,
        patience=max(0, math.ceil(config.plateau_patience / config.validate_every) - 1),
    )
    shuffle_gen = torch.Generator().manual_seed(seed)
    loss_gen = torch.Generator(device=device).manual_seed(seed + 1)

    members: list[Member] = []
    history: list[dict[str, float]] = []
    start_epoch, best, best_epoch, elapsed = 0, math.inf, 0, 0.0
    stop_reason = "max_epochs"
    ckpt = Path(config.checkpoint_path) if config.checkpoint_path else None
    fingerprint = {**config.fingerprint(), "seed": seed, "n": n}

    state = None
    if ckpt is not None:
        state = read_or_set_aside(
            ckpt, lambda p: torch.load(p, map_location="cpu", weights_only=False)
        )
    if state is not None:
        if state.get("version") != _CHECKPOINT_VERSION or state["fingerprint"] != fingerprint:
            raise InputError(
                f"checkpoint {ckpt} was written with other training settings or data; "
                "remove it or choose another checkpoint path"
            )
        module.load_state_dict(state["module"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        shuffle_gen.set_state(state["shuffle_gen"])
        loss_gen.set_state(state["loss_gen"].to(loss_gen.get_state().device))
        members = [Member(**c) for c in state["members"]]
        history = state["history"]
        start_epoch, best, best_epoch = state["epoch"], state["best"], state["best_epoch"]
        elapsed = state["elapsed"]
        stop_reason = state.get("stop_reason", stop_reason)
        log.info("resuming training from %s at epoch %d", ckpt, start_epoch)

    def save_checkpoint(epoch: int, finished: str = "") -> None:
        if ckpt is None:
            return
        _save_atomic(
            {
                "version": _CHECKPOINT_VERSION,
                "fingerprint": fingerprint,
                "module": _cpu_state(module),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "shuffle_gen": shuffle_gen.get_state(),
                "loss_gen": loss_gen.get_state(),
                "members": [asdict(c) for c in members],
                "history": history,
                "epoch": epoch,
                "best": best,
                "best_epoch": best_epoch,
                "elapsed": elapsed,
                "stop_reason": finished,
            },
            ckpt,
        )

    finished_before = bool(history) and history[-1].get("finished", 0.0) == 1.0
    fork_devices = [device.index or 0] if device.type == "cuda" else []
    bar = tqdm(
        total=config.max_epochs,
        initial=start_epoch,
        disable=not config.progress,
        desc="training",
        unit="epoch",
    )
    epoch = start_epoch
    t_start = time.perf_counter() - elapsed
    elapsed_at_start = elapsed
    try:
        while not finished_before and epoch < config.max_epochs:
            epoch_seed = int(torch.randint(0, 2**62, (1,), generator=shuffle_gen))
            perm = torch.randperm(n, generator=shuffle_gen).to(device)
            module.train()
            total = 0.0
            with torch.random.fork_rng(devices=fork_devices):
                torch.manual_seed(epoch_seed)
                for s in range(steps_per_epoch):
                    idx = perm[s * batch : (s + 1) * batch]
                    loss = loss_fn(module, tuple(d[idx] for d in data), loss_gen)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if config.grad_clip is not None:
                        nn.utils.clip_grad_norm_(module.parameters(), config.grad_clip)
                    optimizer.step()
                    total += float(loss.detach())
            epoch += 1
            record: dict[str, float] = {
                "epoch": float(epoch),
                "train_loss": total / steps_per_epoch,
                "lr": float(optimizer.param_groups[0]["lr"]),
            }
            elapsed = time.perf_counter() - t_start
            out_of_time = config.max_seconds is not None and elapsed >= config.max_seconds
            due = epoch > config.validate_after and (epoch % config.validate_every == 0)
            if due or out_of_time or epoch == config.max_epochs:
                module.eval()
                with torch.no_grad():
                    score = float(validate(module))
                    if monitor is not None:
                        record.update(monitor(module, epoch))
                record["val_score"] = score
                scheduler.step(score)
                _insert_member(members, Member(score, epoch, _cpu_state(module)), config.n_best)
                if score < best:
                    best, best_epoch = score, epoch
            elapsed = time.perf_counter() - t_start
            record["seconds"] = elapsed
            history.append(record)
            bar.total = epoch_bound(
                epoch,
                config.max_epochs,
                seconds_per_epoch=(elapsed - elapsed_at_start) / (epoch - start_epoch),
                seconds_left=None if config.max_seconds is None else config.max_seconds - elapsed,
            )
            bar.update(1)
            bar.set_postfix(loss=f"{record['train_loss']:.4f}", val=f"{best:.4f}")
            stop = ""
            if epoch - best_epoch >= config.early_stopping_patience and best_epoch > 0:
                stop = "early_stopping"
            elif out_of_time:
                stop = "max_seconds"
            elif epoch >= config.max_epochs:
                stop = "max_epochs"
            if stop:
                stop_reason = stop
                record["finished"] = 1.0
            if stop or epoch % config.checkpoint_every == 0:
                save_checkpoint(epoch, stop)
            if on_epoch_end is not None:
                on_epoch_end(epoch, record)
            if stop:
                break
    finally:
        bar.close()
    module.eval()
    if not members:
        with torch.no_grad():
            members.append(Member(float(validate(module)), epoch, _cpu_state(module)))
    log.info(
        "training stopped (%s) after %d epochs, %.0f s; best score %.5f at epoch %d",
        stop_reason,
        epoch,
        elapsed,
        members[0].score,
        members[0].epoch,
    )
    return TrainingResult(
        members=[copy.copy(c) for c in members],
        history=history,
        epochs=epoch,
        seconds=elapsed,
        stop_reason=stop_reason,
    )
