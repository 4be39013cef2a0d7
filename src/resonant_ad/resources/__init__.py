"""Files shipped inside the package: the demo's config and the simulated reference dataset.

``demo.toml`` names its data files relative to itself (``reference/background.h5``...), so
the whole folder is made available at once. Files are found with :mod:`importlib.resources`:
from a source checkout, an editable install or an installed wheel they are the files in
place; from a zip archive they are extracted to a temporary folder.

>>> (reference_dir() / "background.h5").is_file()
True
>>> demo_config().name
'demo.toml'
"""

from __future__ import annotations

import atexit
import functools
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path

__all__ = [
    "DEMO_CONFIG_NAME",
    "REFERENCE_FILES",
    "demo_config",
    "reference_dir",
    "resources_dir",
    "resources_path",
]

DEMO_CONFIG_NAME = "demo.toml"
"""The demo's study config, at the top of the resources."""

REFERENCE_FILES = ("background.h5", "signal.h5", "extra_sr_background.h5")
"""The bundled dataset's files, in ``reference/``: background, signal pool, extra SR background."""


@contextmanager
def resources_dir() -> Iterator[Path]:
    """The resources as a folder on the file system, for the duration of the ``with`` block.

    The package's own folder when it is one; otherwise (a zip archive) a temporary copy of
    the whole tree, removed at the end of the block.
    """
    root = files(__name__)
    if isinstance(root, Path) or sys.version_info >= (3, 12):
        # ``as_file`` returns a real path unchanged and, from Python 3.12, extracts folders.
        with as_file(root) as path:
            yield Path(path)
        return
    with tempfile.TemporaryDirectory(prefix="resonant-ad-resources-") as tmp:
        _copy_tree(root, Path(tmp))
        yield Path(tmp)


def _copy_tree(src: Traversable, dst: Path) -> None:
    for item in src.iterdir():
        if item.name == "__pycache__":
            continue
        if item.is_dir():
            (dst / item.name).mkdir()
            _copy_tree(item, dst / item.name)
        else:
            with item.open("rb") as fin, (dst / item.name).open("wb") as fout:
                shutil.copyfileobj(fin, fout)


_files = ExitStack()
atexit.register(_files.close)


@functools.cache
def resources_path() -> Path:
    """The resources folder, valid until the interpreter exits (see :func:`resources_dir`)."""
    return _files.enter_context(resources_dir())


def reference_dir() -> Path:
    """The folder of the bundled simulated reference dataset (:data:`REFERENCE_FILES`)."""
    return resources_path() / "reference"


def demo_config() -> Path:
    """The demo's study config; its ``[data]`` paths point into :func:`reference_dir`."""
    return resources_path() / DEMO_CONFIG_NAME
