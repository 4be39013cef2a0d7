"""A content-addressed cache of finished pieces (models, templates, scores) in a run folder."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from resonant_ad.storage import read_or_set_aside, write_atomic

__all__ = ["Cache", "events_fingerprint", "file_fingerprint", "fingerprint"]


def fingerprint(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable parts (settings that define a piece).

    >>> fingerprint({"a": 1}, "x") == fingerprint({"a": 1}, "x") != fingerprint({"a": 2}, "x")
    True
    """
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def events_fingerprint(events: Any) -> str:
    """A short hash of the exact content of an :class:`~resonant_ad.data.events.Events`
    (masses, features, labels, feature names and, for weighted events only, the weights):
    part of the key of every piece trained or evaluated on them, so a piece is reused only
    for the very same events. Unweighted events hash as they did before weights existed.

    >>> from resonant_ad.data.events import Events
    >>> a = Events(np.array([3.5]), np.ones((1, 2)), np.zeros(1), ("a", "b"))
    >>> b = Events(np.array([3.5]), np.full((1, 2), 2.0), np.zeros(1), ("a", "b"))
    >>> events_fingerprint(a) == events_fingerprint(a) != events_fingerprint(b)
    True
    """
    h = hashlib.blake2b(digest_size=8)
    for arr in (events.m, events.x, events.label):
        a = np.ascontiguousarray(arr)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    h.update(json.dumps(list(events.feature_names)).encode())
    weight = getattr(events, "weight", None)
    if weight is not None:
        w = np.ascontiguousarray(weight)
        h.update(f"weight{w.dtype.str}{w.shape}".encode())
        h.update(w.tobytes())
    return h.hexdigest()


def file_fingerprint(path: str | Path) -> str:
    """A short hash of a file's bytes (a stored model that pieces are keyed by)."""
    h = hashlib.blake2b(digest_size=8)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Cache:
    """Finished pieces under ``root/<kind>/<key>.<ext>``, written atomically.

    An interrupted run leaves only whole files behind, so a re-run picks up every piece that
    was finished and recomputes the rest; a damaged file is set aside and its piece made
    again (:mod:`resonant_ad.storage`). A piece's key is the :func:`fingerprint` of all
    the settings it depends on: changing a classifier setting does not touch the keys of the
    generative models.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, kind: str, key: str, ext: str) -> Path:
        return self.root / kind / f"{key}.{ext}"

    def arrays(
        self, kind: str, key: str, compute: Callable[[], dict[str, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        """The arrays stored under ``kind/key``, computed and stored first if missing."""
        path = self.path(kind, key, "npz")
        stored = read_or_set_aside(path, _read_arrays)
        if stored is not None:
            return stored
        value = compute()
        write_atomic(path, lambda tmp: np.savez(tmp, **value))  # type: ignore[arg-type]
        return value

    def has(self, kind: str, key: str, ext: str) -> bool:
        return self.path(kind, key, ext).is_file()

    def json(self, kind: str, key: str, compute: Callable[[], Any]) -> Any:
        path = self.path(kind, key, "json")
        stored = read_or_set_aside(path, lambda p: (json.loads(p.read_text()),))
        if stored is not None:
            return stored[0]
        value = compute()
        write_atomic(path, lambda tmp: tmp.write_text(json.dumps(value)))
        return value


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}
