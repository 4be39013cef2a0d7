"""Exceptions raised on bad input, caught by the command line and shown as one clear line.

The rule: inputs are validated where they enter (the config, the files, the public API:
``Events``, the flow model and its parts, templates, classifiers), and a bad one raises
:class:`InputError` with a message that names it. The command line turns every
:class:`ResonantADError` into one line on stderr and exit code 2. Any other exception is a
bug in this package and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["InputError", "ResonantADError"]


class ResonantADError(Exception):
    """Base class of every error this package raises on purpose."""


class InputError(ResonantADError, ValueError):
    """The user's input (a file, a column, a setting) cannot be used as given."""
