"""Reading the values of a config's TOML tables: each problem one line naming section and key."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import Any

from resonant_ad.errors import InputError

__all__ = ["check_keys", "names", "non_negative", "positive", "typed"]


def check_keys(
    section: str, given: Any, cls: type, *, skip: Collection[str] = ()
) -> dict[str, Any]:
    """``given`` as a dict, if it is a table whose keys are all fields of the dataclass ``cls``
    (less those in ``skip``).

    >>> from resonant_ad.config import ClassifierConfig
    >>> check_keys("classifier", {"knd": "hgb"}, ClassifierConfig)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    resonant_ad.errors.InputError: unknown key(s) ['knd'] in [classifier]; allowed: [...]
    """
    if not isinstance(given, dict):
        raise InputError(f"[{section}] must be a table of key = value, not {given!r}")
    allowed = {f.name for f in dataclasses.fields(cls)} - set(skip)
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise InputError(f"unknown key(s) {unknown} in [{section}]; allowed: {sorted(allowed)}")
    return dict(given)


def typed(section: str, key: str, value: Any, kind: type | tuple[type, ...]) -> Any:
    """``value`` if it is a ``kind`` (a boolean is never a number).

    >>> typed("study", "seed", True, int)
    Traceback (most recent call last):
    ...
    resonant_ad.errors.InputError: [study] seed = True: expected int
    """
    if isinstance(value, bool) or not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise InputError(f"[{section}] {key} = {value!r}: expected {names}")
    return value


def positive(section: str, key: str, value: float) -> None:
    """Refuse ``value <= 0``."""
    if value <= 0:
        raise InputError(f"[{section}] {key} = {value!r}: must be positive")


def non_negative(section: str, key: str, value: float) -> None:
    """Refuse ``value < 0``."""
    if value < 0:
        raise InputError(f"[{section}] {key} = {value}: must be non-negative")


def names(section: str, key: str, value: Any) -> tuple[str, ...]:
    """A non-empty list of distinct names (of methods) as a tuple; whether they are
    registered is checked where the study runs (:func:`resonant_ad.search.checks.check_methods`).

    >>> names("study", "methods", ["cr", "cr"])
    Traceback (most recent call last):
    ...
    resonant_ad.errors.InputError: [study] methods ['cr', 'cr']: a method is named twice
    """
    given = tuple(typed(section, key, value, (list, tuple)))
    if not given:
        raise InputError(f"[{section}] {key}: give at least one")
    for name in given:
        typed(section, key, name, str)
    if len(set(given)) != len(given):
        raise InputError(f"[{section}] {key} {list(given)}: a method is named twice")
    return given
