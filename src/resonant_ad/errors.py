"""Exceptions raised on bad input, caught by the command line and shown as one clear line."""

from __future__ import annotations

__all__ = ["InputError", "ResonantADError"]


class ResonantADError(Exception):
    """Base class of every error this package raises on purpose."""


class InputError(ResonantADError, ValueError):
    """The user's input (a file, a column, a setting) cannot be used as given."""
