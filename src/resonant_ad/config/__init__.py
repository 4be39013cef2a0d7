"""Typed, validated study configuration loaded from TOML (``resonant-ad run CONFIG.toml``).

- :mod:`~resonant_ad.config.sections`: ``[data]``, ``[model]``, ``[classifier]``, ``[scan]``;
- :mod:`~resonant_ad.config.density`: ``[density]``, the settings of the density methods;
- :mod:`~resonant_ad.config.study`: :class:`StudyConfig` (``[study]`` and the other
  sections), :func:`config_from_dict` and :func:`load_config`;
- :mod:`~resonant_ad.config.values`: how the sections read and check their values.

Every section is a frozen dataclass that checks its own values, each problem one line
naming section and key. What only the method registry knows (that the named methods exist,
can scan, have a density or settings of their own) is checked where a study or a scan runs:
:func:`resonant_ad.search.checks.check_methods`.
"""

from __future__ import annotations

from resonant_ad.config.density import DensityConfig
from resonant_ad.config.sections import ClassifierConfig, DataConfig, ModelConfig, ScanConfig
from resonant_ad.config.study import StudyConfig, config_from_dict, load_config

__all__ = [
    "ClassifierConfig",
    "DataConfig",
    "DensityConfig",
    "ModelConfig",
    "ScanConfig",
    "StudyConfig",
    "config_from_dict",
    "load_config",
]
