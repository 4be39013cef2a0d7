"""Fitted models written to one file: :class:`Persistent` saves a model's ``state()`` with
torch and loads it back through its ``from_state`` (checking the format and version it
declares); :class:`TrainedEnsemble` adds the record of a training whose kept epochs are the
model's members, which :func:`member_states` writes and :func:`load_members` rebuilds."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar, cast

from resonant_ad.errors import InputError

if TYPE_CHECKING:
    import torch
    from torch import Tensor, nn

    from resonant_ad.data.regions import SignalRegion
    from resonant_ad.training import TrainingResult

__all__ = ["Persistent", "TrainedEnsemble", "load_members", "member_states", "seeded_generator"]

M = TypeVar("M", bound="nn.Module")


def member_states(modules: Sequence[nn.Module]) -> list[dict[str, Tensor]]:
    """The parameters of each of ``modules`` (an ensemble's members), detached on the CPU."""
    return [{k: v.detach().cpu() for k, v in m.state_dict().items()} for m in modules]


def load_members(
    build: Callable[[], M], states: Sequence[dict[str, Tensor]], device: torch.device
) -> list[M]:
    """An ensemble's members from their ``states``: each a module made by ``build`` with its
    state loaded, on ``device`` in evaluation mode."""
    members = []
    for state in states:
        member = build()
        member.load_state_dict(state)
        members.append(member.to(device).eval())
    return members


def seeded_generator(seed: int | None) -> torch.Generator:
    """A CPU torch generator seeded with ``seed`` (``None``: from fresh entropy)."""
    import torch

    gen = torch.Generator()
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(int(seed))
    return gen


class Persistent:
    """A fitted model that is its ``state()`` (a dict of tensors, arrays and plain values)
    and is rebuilt from it by the class method ``from_state(state, device)``; subclasses
    define those two and get :meth:`save` and :meth:`load`. A subclass that declares its
    ``FORMAT`` (and ``VERSION``) writes them with :meth:`_format` and checks them with
    :meth:`_check_format`."""

    FORMAT: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1

    def _format(self) -> dict[str, Any]:
        """The state entries naming the format and its version."""
        return {"format": self.FORMAT, "version": self.VERSION}

    @classmethod
    def _check_format(cls, state: Mapping[str, Any], what: str) -> None:
        """Raise unless ``state`` was written by this class's format and version."""
        if state.get("format") != cls.FORMAT or state.get("version") != cls.VERSION:
            raise InputError(f"not a saved {what} (or one of another version)")

    def state(self) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} defines no state()")

    @classmethod
    def from_state(cls, state: Any, device: str = "auto") -> Any:
        raise NotImplementedError(f"{cls.__name__} defines no from_state()")

    def save(self, path: str | Path) -> None:
        """Write the fitted model to ``path``."""
        import torch

        torch.save(self.state(), Path(path))

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> Self:
        """Read a model written by :meth:`save`, onto ``device`` (``cpu``, ``cuda``, ``auto``)."""
        import torch

        state = torch.load(Path(path), map_location="cpu", weights_only=False)
        return cast(Self, cls.from_state(state, device))


class TrainedEnsemble(Persistent):
    """A :class:`Persistent` model whose members are the epochs that
    :func:`resonant_ad.training.train` kept. It records how they were trained
    (``member_scores_``, ``member_epochs_``, ``history_``, ``train_seconds_``) and the
    ``signal_region_`` it was made for, and writes and reads them with its state."""

    def _record_training(self, result: TrainingResult, signal_region: SignalRegion | None) -> None:
        """Keep ``result``'s members' scores and epochs, its history and its time."""
        self.signal_region_ = signal_region
        self.member_scores_ = [member.score for member in result.members]
        self.member_epochs_ = [member.epoch for member in result.members]
        self.history_ = result.history
        self.train_seconds_ = result.seconds

    def _training_state(self) -> dict[str, Any]:
        """The record of :meth:`_record_training` as state entries (no history)."""
        sr = getattr(self, "signal_region_", None)
        return {
            "member_scores": list(getattr(self, "member_scores_", [])),
            "member_epochs": list(getattr(self, "member_epochs_", [])),
            "signal_region": None if sr is None else [sr.lo, sr.hi, sr.sideband_width],
            "train_seconds": float(getattr(self, "train_seconds_", math.nan)),
        }

    def _restore_training(self, state: Mapping[str, Any]) -> None:
        """Set the record from the entries of :meth:`_training_state`."""
        from resonant_ad.data.regions import SignalRegion

        sr = state.get("signal_region")
        self.signal_region_ = None if sr is None else SignalRegion(*sr)
        self.member_scores_ = list(state.get("member_scores", []))
        self.member_epochs_ = list(state.get("member_epochs", []))
        self.train_seconds_ = float(state.get("train_seconds", math.nan))
