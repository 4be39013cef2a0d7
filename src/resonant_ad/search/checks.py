"""A study config checked against the method registry, before any data are read.

The config checks its own values (:mod:`resonant_ad.config`); what only the registered
methods can tell is checked here, where a study (:func:`~resonant_ad.search.study.run_study`)
or a scan (:func:`~resonant_ad.search.scan.run_scans`) runs and in the commands that read a
config, each problem one line naming section and key.

>>> from pathlib import Path
>>> from resonant_ad.config import DataConfig, ScanConfig, StudyConfig
>>> config = StudyConfig(DataConfig(Path("e.h5")), scan=ScanConfig(methods=("iad",)))
>>> check_methods(config)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
resonant_ad.errors.InputError: [scan] unknown method(s) ['iad']; choose from [...]
"""

from __future__ import annotations

from resonant_ad.config import StudyConfig
from resonant_ad.errors import InputError
from resonant_ad.methods.registry import get, names

__all__ = ["check_methods"]


def check_methods(config: StudyConfig) -> None:
    """Refuse a config whose methods the registry does not hold as it names them: every
    ``[study] methods`` name registered, every ``[scan] methods`` name a method the scan can
    use, ``[density] background`` a method with a density, every ``[method.NAME]``
    table a method with settings of its own whose keys and values those settings take, and
    the settings of every method named (``[model] preset`` one its model family has)."""
    _registered("study", config.methods, names())
    _registered("scan", config.scan.methods, names(scan=True))
    with_density = [n for n in names() if get(n).has_density]
    if config.density.background not in with_density:
        raise InputError(
            f"[density] background = {config.density.background!r}: expected a method with a "
            f"density ({', '.join(with_density)})"
        )
    with_options = [n for n in names() if get(n).options_class is not None]
    for name in config.method:
        if name not in names():
            raise InputError(f"[method.{name}]: unknown method; choose from {list(names())}")
        if name not in with_options:
            raise InputError(
                f"[method.{name}]: {name} has no settings of its own; methods with "
                f"settings: {with_options}"
            )
        get(name).options(config)  # every key and value checked now, not at training
    # each model's settings (its family's [model] preset among them) now, not at training
    for name in {*config.methods, *config.scan.methods, config.density.background}:
        get(name).settings(config)


def _registered(section: str, methods: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    bad = [m for m in methods if m not in allowed]
    if bad:
        raise InputError(f"[{section}] unknown method(s) {bad}; choose from {list(allowed)}")
