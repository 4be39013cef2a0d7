"""Fitted models written to one file: :class:`Persistent` saves a model's ``state()`` with
torch and loads it back through its ``from_state``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self, cast

__all__ = ["Persistent"]


class Persistent:
    """A fitted model that is its ``state()`` (a dict of tensors, arrays and plain values)
    and is rebuilt from it by the class method ``from_state(state, device)``; subclasses
    define those two and get :meth:`save` and :meth:`load`."""

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
