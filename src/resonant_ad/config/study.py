"""The whole study configuration (:class:`StudyConfig`) and reading it from TOML.

The sections check their own values; which methods are registered, can scan, have a density
or settings of their own is the registry's to say, and is checked where a study or a scan
runs (:func:`resonant_ad.search.checks.check_methods`), so that this package depends on no
method.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resonant_ad.config.density import DensityConfig
from resonant_ad.config.sections import ClassifierConfig, DataConfig, ModelConfig, ScanConfig
from resonant_ad.config.values import check_keys, names, non_negative, positive, typed
from resonant_ad.data.regions import SignalRegion
from resonant_ad.errors import InputError

__all__ = ["DEFAULT_METHODS", "SECTIONS", "StudyConfig", "config_from_dict", "load_config"]

SECTIONS = ("data", "study", "model", "classifier", "scan", "density", "method")
"""The tables of a config file."""

DEFAULT_METHODS = ("data", "cr", "sigma-linear", "sigma-context", "sigma-poly", "iad", "supervised")
"""The methods of a study whose config names none: SIGMA's templates, the ``cr`` and
``data`` baselines, and the idealized and supervised yardsticks."""


@dataclass(frozen=True)
class StudyConfig:
    """A study: its ``[study]`` settings and every other section.

    >>> StudyConfig(DataConfig(Path("e.h5")), n_sig=(-1,))
    Traceback (most recent call last):
    ...
    resonant_ad.errors.InputError: [study] n_sig = -1: must be non-negative
    """

    data: DataConfig
    signal_regions: tuple[SignalRegion, ...] = (SignalRegion(3.3, 3.7),)
    n_sig: tuple[int, ...] = (1000,)
    n_injections: int = 3
    methods: tuple[str, ...] = DEFAULT_METHODS
    """Names of registered methods (:mod:`resonant_ad.methods.registry`)."""
    seed: int = 0
    device: str = "auto"
    validation_windows: int = 0
    """Validation windows per side of each SR (0: none): :mod:`resonant_ad.search.validation`."""
    model: ModelConfig = field(default_factory=ModelConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    scan: ScanConfig = field(default_factory=ScanConfig)
    density: DensityConfig = field(default_factory=DensityConfig)
    method: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The ``[method.NAME]`` tables: each method's own settings (e.g.
    ``[method.curtains-f4f] fit_window = 2.0``), read by
    :meth:`~resonant_ad.methods.registry.Method.options`."""

    def __post_init__(self) -> None:
        regions = typed("study", "signal_regions", self.signal_regions, tuple)
        if not regions or not all(isinstance(r, SignalRegion) for r in regions):
            raise InputError(f"[study] signal_regions = {regions!r}: expected signal regions")
        n_sig = typed("study", "n_sig", self.n_sig, tuple)
        for n in n_sig:
            non_negative("study", "n_sig", typed("study", "n_sig", n, int))
        if not n_sig:
            raise InputError("[study] n_sig = []: name at least one number of signal events")
        if len(set(n_sig)) < len(n_sig):
            repeated = sorted({n for n in n_sig if n_sig.count(n) > 1})
            raise InputError(
                f"[study] n_sig repeats {repeated}: each value is studied once "
                "(more injections of one value: [study] n_injections)"
            )
        positive("study", "n_injections", typed("study", "n_injections", self.n_injections, int))
        names("study", "methods", self.methods)
        device = typed("study", "device", self.device, str)
        if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
            raise InputError(f"[study] device = {device!r}: expected auto, cpu, cuda or cuda:N")
        non_negative("study", "seed", typed("study", "seed", self.seed, int))
        n_val = typed("study", "validation_windows", self.validation_windows, int)
        non_negative("study", "validation_windows", n_val)
        tables = self.method
        if not isinstance(tables, dict) or not all(isinstance(v, dict) for v in tables.values()):
            raise InputError("[method] holds one table per method: [method.NAME] key = value")

    @classmethod
    def from_dict(cls, table: Any, **sections: Any) -> StudyConfig:
        """``[study]`` from its TOML table, with the other ``sections`` already read (the
        ``method`` tables as TOML gives them)."""
        s = check_keys("study", table, cls, skip=SECTIONS)
        regions = s.get("signal_regions", [[3.3, 3.7]])
        if (
            not isinstance(regions, list)
            or not regions
            or not all(
                isinstance(r, list)
                and len(r) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in r)
                for r in regions
            )
        ):
            raise InputError(
                f"[study] signal_regions = {regions!r}: expected [[lo, hi], ...] in TeV"
            )
        s["signal_regions"] = tuple(SignalRegion(float(lo), float(hi)) for lo, hi in regions)
        n_sig = s.get("n_sig", [1000])
        n_sig = [n_sig] if isinstance(n_sig, int) else n_sig
        s["n_sig"] = tuple(typed("study", "n_sig", n_sig, list))
        if "methods" in s:
            s["methods"] = tuple(typed("study", "methods", s["methods"], list))
        tables = sections.pop("method", {})
        if isinstance(tables, dict) and all(isinstance(v, dict) for v in tables.values()):
            tables = {name: dict(t) for name, t in tables.items()}  # else refused when made
        return cls(**s, **sections, method=tables)


def config_from_dict(raw: dict[str, Any], base: Path = Path(".")) -> StudyConfig:
    """Build and validate a :class:`StudyConfig` from parsed TOML (sections as tables)."""
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise InputError(f"unknown section(s) {unknown}; allowed: {sorted(SECTIONS)}")
    if "data" not in raw:
        raise InputError('the config needs [data] events = "<LHCO-format file>"')
    return StudyConfig.from_dict(
        raw.get("study", {}),
        data=DataConfig.from_dict(raw["data"], base),
        model=ModelConfig.from_dict(raw.get("model", {})),
        classifier=ClassifierConfig.from_dict(raw.get("classifier", {})),
        scan=ScanConfig.from_dict(raw.get("scan", {})),
        density=DensityConfig.from_dict(raw.get("density", {})),
        method=raw.get("method", {}),
    )


def load_config(path: str | Path) -> StudyConfig:
    """Read a TOML study configuration; every problem is an :class:`InputError`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such config file: {path}")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{path} is not valid TOML: {err}") from err
    return config_from_dict(raw, base=path.parent.resolve())
