"""Which code a benchmark run measured, for runs compared across code versions."""

from __future__ import annotations

import subprocess
from pathlib import Path


def code_version() -> str:
    """The commit of the ``resonant_ad`` that is imported (the one ``PYTHONPATH`` chose), and
    whether its sources differ from it."""
    import resonant_ad

    src = Path(resonant_ad.__file__).resolve().parent

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(src), *args], capture_output=True, text=True).stdout

    dirty = git("status", "--porcelain", "--", ".").strip()
    return git("rev-parse", "--short", "HEAD").strip() + (" + uncommitted changes" if dirty else "")
