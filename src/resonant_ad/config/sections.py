"""The ``[data]``, ``[model]``, ``[classifier]`` and ``[scan]`` sections of a study config.

Each is a frozen dataclass that checks its values when made (``__post_init__``) and is read
from its TOML table by ``from_dict``, which refuses unknown keys and turns TOML values into
the fields' types (lists into tuples, paths relative to the config file).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resonant_ad.config.values import check_keys, names, non_negative, positive, typed
from resonant_ad.errors import InputError

if TYPE_CHECKING:
    from resonant_ad.data.formats import ColumnMap

__all__ = [
    "SCAN_BACKGROUNDS",
    "SCAN_COUNTS",
    "ClassifierConfig",
    "DataConfig",
    "ModelConfig",
    "ScanConfig",
]

DATA_PATHS = ("events", "signal", "extra_background", "simulation")
"""The ``[data]`` keys that name files."""


@dataclass(frozen=True)
class DataConfig:
    """Input files as published. Relative paths are relative to the config file."""

    events: Path
    signal: Path | None = None
    extra_background: Path | None = None
    simulation: Path | None = None
    """Simulated background (LHCO format) for the methods that train on simulation."""
    max_events: int | None = None
    features: str = "sigma"
    """The feature set (:data:`~resonant_ad.data.features.FEATURE_SETS`): ``sigma``, the five
    of the SIGMA paper, or ``cvae``, the six of the cVAE study (jet masses, tau21 and tau32)."""
    columns: dict[str, str] | None = None
    """For ROOT and Parquet files: which of the file's columns holds what (the jet columns,
    or ``mjj`` and precomputed features; :class:`~resonant_ad.data.formats.ColumnMap`)."""
    tree: str | None = None
    """The ROOT tree to read, where a file holds several."""

    def column_map(self) -> ColumnMap | None:
        """``columns`` and ``tree`` as a :class:`~resonant_ad.data.formats.ColumnMap`."""
        from resonant_ad.data.formats import ColumnMap

        return None if self.columns is None else ColumnMap(self.columns, self.tree)

    def __post_init__(self) -> None:
        from resonant_ad.data.features import FEATURE_SETS
        from resonant_ad.data.formats import is_table_file

        if self.columns is not None:
            typed("data", "columns", self.columns, dict)
            self.column_map()
        if self.tree is not None:
            typed("data", "tree", self.tree, str)
            if self.columns is None:
                raise InputError("[data] tree is read with [data] columns: map the columns")
        for key in DATA_PATHS:
            path = getattr(self, key)
            if path is not None and is_table_file(path) and self.columns is None:
                raise InputError(
                    f"[data] {key} = {str(path)!r} is a ROOT or Parquet file: map its columns "
                    "in [data] columns (jets pxj1 ... tau3j2, or mjj and features)"
                )

        if self.max_events is not None:
            positive("data", "max_events", typed("data", "max_events", self.max_events, int))
        features = typed("data", "features", self.features, str)
        if features not in FEATURE_SETS:
            raise InputError(
                f"[data] features = {features!r}: choose one of {sorted(FEATURE_SETS)}"
            )

    @classmethod
    def from_dict(cls, table: Any, base: Path = Path(".")) -> DataConfig:
        """``[data]``, its relative paths taken relative to ``base`` (the config's folder)."""
        d = check_keys("data", table, cls)
        if "events" not in d:
            raise InputError('the config needs [data] events = "<LHCO-format file>"')
        for key in DATA_PATHS:
            if key in d:
                p = Path(typed("data", key, d[key], str)).expanduser()
                d[key] = p if p.is_absolute() else (base / p).resolve()
        return cls(**d)


@dataclass(frozen=True)
class ModelConfig:
    """``[model]``: the training preset of the generative models and what a study changes."""

    preset: str = "cpu"
    interpolation_offset: float = 0.1
    max_epochs: int | None = None
    max_seconds: float | None = None
    epochs: int | None = None
    """Train exactly this many epochs (no early stopping, no time budget): models compared
    at the same training length."""
    preprocessing: str | None = None
    """Feature preprocessing of the flow (``standard``, ``logit``, ``gaussianize``)."""

    def __post_init__(self) -> None:
        from resonant_ad.flows.preprocessing import PREPROCESSINGS

        typed("model", "preset", self.preset, str)
        offset = typed("model", "interpolation_offset", self.interpolation_offset, (int, float))
        positive("model", "interpolation_offset", offset)
        if self.max_epochs is not None:
            positive("model", "max_epochs", typed("model", "max_epochs", self.max_epochs, int))
        if self.max_seconds is not None:
            seconds = typed("model", "max_seconds", self.max_seconds, (int, float))
            positive("model", "max_seconds", seconds)
        if self.epochs is not None:
            positive("model", "epochs", typed("model", "epochs", self.epochs, int))
            if self.max_epochs is not None or self.max_seconds is not None:
                raise InputError(
                    "[model] epochs fixes the training length: drop max_epochs/max_seconds"
                )
        if self.preprocessing is not None and self.preprocessing not in PREPROCESSINGS:
            raise InputError(
                f"[model] preprocessing = {self.preprocessing!r}: expected one of {PREPROCESSINGS}"
            )

    @classmethod
    def from_dict(cls, table: Any) -> ModelConfig:
        """``[model]`` from its TOML table."""
        return cls(**check_keys("model", table, cls))

    def overrides(self) -> dict[str, Any]:
        """The preset's hyper-parameters this config changes."""
        out: dict[str, Any] = {}
        if self.max_epochs is not None:
            out["max_epochs"] = self.max_epochs
        if self.max_seconds is not None:
            out["max_seconds"] = self.max_seconds
        if self.epochs is not None:
            out.update(
                max_epochs=self.epochs, early_stopping_patience=self.epochs + 1, max_seconds=None
            )
        if self.preprocessing is not None:
            out["preprocessing"] = self.preprocessing
        return out


@dataclass(frozen=True)
class ClassifierConfig:
    """``[classifier]``: the weakly supervised classifier's ensemble."""

    ensemble_size: int = 50
    oversampling: int = 4
    kind: str = "hgb"
    template_events: str = "oversampling"
    """How many template events the classifier sees in a study: ``oversampling`` times the
    SR data, or (``yardstick``) at most as many as the idealized classifier's true
    background sample (``[data] extra_background``), so that the ``iad`` and every template
    are compared at the same number of background events."""

    def __post_init__(self) -> None:
        size = typed("classifier", "ensemble_size", self.ensemble_size, int)
        positive("classifier", "ensemble_size", size)
        oversampling = typed("classifier", "oversampling", self.oversampling, int)
        positive("classifier", "oversampling", oversampling)
        if self.kind not in ("hgb", "nn"):
            raise InputError(f"[classifier] kind = {self.kind!r}: expected 'hgb' or 'nn'")
        if self.template_events not in TEMPLATE_EVENTS:
            raise InputError(
                f"[classifier] template_events = {self.template_events!r}: expected one of "
                f"{TEMPLATE_EVENTS}"
            )

    @classmethod
    def from_dict(cls, table: Any) -> ClassifierConfig:
        """``[classifier]`` from its TOML table."""
        return cls(**check_keys("classifier", table, cls))


TEMPLATE_EVENTS = ("oversampling", "yardstick")
"""``[classifier] template_events``: how many template events the classifier sees."""

SCAN_BACKGROUNDS = ("calibrated", "sidebands")
"""``[scan] background``: how the expected background after a cut is estimated."""
SCAN_COUNTS = ("ensemble", "rounds")
"""``[scan] counts``: what a cut counts."""


@dataclass(frozen=True)
class ScanConfig:
    """``[scan]``: the sliding-window search (:mod:`resonant_ad.search.scan`)."""

    m_min: float = 2.6
    m_max: float = 5.0
    width: float = 0.4
    step: float = 0.2
    margin: float = 0.2
    efficiencies: tuple[float, ...] = (0.1, 0.01)
    n_sig: int = 1000
    methods: tuple[str, ...] = ("sigma-context",)
    """Names of registered template methods the scan can use (checked where the scan runs:
    :func:`resonant_ad.search.checks.check_methods`)."""
    background: str = "calibrated"
    """How the expected background after a cut is estimated: ``calibrated`` (the template's
    count calibrated on the other windows; :mod:`resonant_ad.search.background`) or
    ``sidebands`` (:mod:`resonant_ad.search.scan`)."""
    counts: str = "ensemble"
    """What a cut counts: ``ensemble`` (the data passing one cut on the ensemble's
    out-of-fold score) or ``rounds`` (each repetition of the classifier's k-fold split, a
    complete out-of-fold scoring by its own members, cut at the efficiency on its own, and
    the counts averaged; :func:`resonant_ad.search.counts.cut_and_count`)."""

    def __post_init__(self) -> None:
        for key in ("m_min", "m_max", "width", "step", "margin"):
            typed("scan", key, getattr(self, key), (int, float))
        positive("scan", "width", self.width)
        positive("scan", "step", self.step)
        non_negative("scan", "margin", self.margin)
        if self.m_max - self.m_min < self.width + 2 * self.margin - 1e-9:  # as the windows
            raise InputError(
                f"[scan] m_min = {self.m_min:g}, m_max = {self.m_max:g}: no window of "
                f"{self.width:g} TeV fits with margins of {self.margin:g} TeV"
            )
        effs = typed("scan", "efficiencies", self.efficiencies, tuple)
        if not effs or not all(isinstance(e, float) and 0 < e < 1 for e in effs):
            raise InputError(f"[scan] efficiencies = {effs!r}: expected numbers in (0, 1)")
        non_negative("scan", "n_sig", typed("scan", "n_sig", self.n_sig, int))
        names("scan", "methods", self.methods)
        if self.background not in SCAN_BACKGROUNDS:
            raise InputError(
                f"[scan] background = {self.background!r}: expected one of {SCAN_BACKGROUNDS}"
            )
        if self.counts not in SCAN_COUNTS:
            raise InputError(f"[scan] counts = {self.counts!r}: expected one of {SCAN_COUNTS}")

    @classmethod
    def from_dict(cls, table: Any) -> ScanConfig:
        """``[scan]`` from its TOML table (its lists as tuples)."""
        sc = check_keys("scan", table, cls)
        for key in ("efficiencies", "methods"):
            if key in sc:
                sc[key] = tuple(typed("scan", key, sc[key], list))
        return cls(**sc)
