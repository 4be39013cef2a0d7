"""The files a run keeps: written whole or not at all, and a damaged one set aside.

Every finished piece of a run (a model, a checkpoint, a template, scores) is written under a
temporary name of its own, unique to the process and the call, and renamed into place, so
a reader never sees half a file and two writers never trip over one temporary name. A file
that cannot be read back (a disk filled up, a machine lost power mid-write on a file system
that does not order renames, a copy cut short) is renamed to ``NAME.damaged``, said in one
warning that names it, and the piece is made again.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> path = write_atomic(folder / "a.txt", lambda tmp: tmp.write_text("whole"))
>>> read_or_set_aside(path, lambda p: p.read_text())
'whole'
>>> _ = (folder / "b.txt").write_bytes(b"\\xff")
>>> read_or_set_aside(folder / "b.txt", lambda p: p.read_text()) is None
True
>>> sorted(p.name for p in folder.iterdir())
['a.txt', 'b.txt.damaged']
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

__all__ = ["DAMAGED_SUFFIX", "read_or_set_aside", "temporary_name", "write_atomic"]

log = logging.getLogger(__name__)

T = TypeVar("T")

DAMAGED_SUFFIX = ".damaged"


def temporary_name(path: Path) -> Path:
    """A name beside ``path``, unique to this process and call, with the same suffix (some
    writers, e.g. :func:`numpy.savez`, add theirs when it is missing)."""
    return path.with_name(f"{path.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp{path.suffix}")


def write_atomic(path: str | Path, write: Callable[[Path], object]) -> Path:
    """``write(tmp)`` to a :func:`temporary_name`, then rename it to ``path`` (its folder
    made if missing); the temporary file is removed if ``write`` fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_or_set_aside(path: str | Path, read: Callable[[Path], T]) -> T | None:
    """``read(path)``; ``None`` if there is no such file or it cannot be read, in which case
    it is renamed to ``path`` + :data:`DAMAGED_SUFFIX` (replacing an older one) and said so."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return read(path)
    except Exception as err:  # whatever a cut-short file makes its reader raise
        aside = path.with_name(path.name + DAMAGED_SUFFIX)
        os.replace(path, aside)
        reason = f"{type(err).__name__}: {err}".splitlines()[0][:200]
        log.warning("%s cannot be read (%s): set aside as %s, made again", path, reason, aside.name)
        return None
