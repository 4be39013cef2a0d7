"""Typed, validated study configuration loaded from TOML (``resonant-ad run CONFIG.toml``)."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resonant_ad.data.regions import SignalRegion
from resonant_ad.errors import InputError

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


def _default_methods() -> tuple[str, ...]:
    from resonant_ad.methods.registry import default_names

    return default_names()


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


@dataclass(frozen=True)
class ModelConfig:
    preset: str = "cpu"
    interpolation_offset: float = 0.1
    max_epochs: int | None = None
    max_seconds: float | None = None
    epochs: int | None = None
    """Train exactly this many epochs (no early stopping, no time budget): models compared
    at the same training length."""
    preprocessing: str | None = None
    """Feature preprocessing of the flow (``standard``, ``logit``, ``gaussianize``)."""

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
    ensemble_size: int = 50
    oversampling: int = 4
    kind: str = "hgb"


@dataclass(frozen=True)
class DensityConfig:
    """Settings of the density methods (``r-anode``, ``r-anode-ideal``, ``anode``): the
    background model whose exact density is ``p_B`` in the SR, the ODE solver of its
    likelihoods, and the signal-density fit (:class:`~resonant_ad.detect.mixture.SignalMixture`)."""

    background: str = "sigma-context"
    solver: str = "rk4"
    solver_steps: int = 3
    folds: int = 5
    epochs: int = 40
    batch_size: int = 512
    learning_rate: float = 1e-3
    transforms: int = 2
    hidden: int = 64
    hidden_layers: int = 2
    bins: int = 8
    w_init: tuple[float, ...] = (0.01,)
    """Start values of ``w`` (a number or a list in the TOML): the whole fit is made from
    each, the one of best held-out likelihood kept (see
    :class:`~resonant_ad.detect.mixture.SignalMixture`; one start by default)."""
    warmup_epochs: int = 5
    restarts: int = 2
    profile_points: int = 9
    profile_epochs: int = 0
    tilt: int = 1
    """Degree of the polynomial exponential tilt of ``p_B`` fitted with ``p_S`` and ``w`` as
    a nuisance of the background model (0: ``p_B`` as it is); see
    :class:`~resonant_ad.detect.mixture.SignalMixture`."""
    correction: str = "sidebands"
    """``sidebands``: correct ``p_B`` by the ratio of data to the background model learned
    in the sidebands (:class:`~resonant_ad.detect.correction.SidebandCorrection`);
    ``none``: ``p_B`` as the model gives it."""
    correction_width: float = 0.4
    """Width in TeV of each sideband the correction learns in."""
    correction_members: int = 3
    """MLPs of the correction's classifier."""
    correction_samples: int = 2
    """Background-model samples per sideband data event for the correction."""
    mass: str = "sidebands"
    """The background's ``p(m)`` in the SR: ``sidebands``, the dijet function fitted to the
    data's masses within ``mass_width`` of the SR
    (:class:`~resonant_ad.data.spectrum.SidebandMassDensity`); ``data``, a KDE of the SR
    data's masses (a signal's bump included)."""
    mass_width: float = 0.4
    """Width in TeV of each sideband the ``sidebands`` mass fit uses."""
    capture: bool = True
    """Let part of the signal be distributed like the background in ``x``, with the mass
    shape of ``p_S``: its fraction is profiled in ``w``'s likelihood and interval (needs
    ``mass = "sidebands"``; see :class:`~resonant_ad.detect.mixture.SignalMixture`)."""

    def fit_key(self) -> str:
        """The settings as a density fit's key holds them: the repr without the
        ``correction`` and ``mass`` fields, which the key of the background densities (part
        of the fit's key) holds, and with ``capture`` only where it is on; fits keyed before
        these existed (with them off) keep their key.

        >>> DensityConfig().fit_key().startswith("DensityConfig(background='sigma-context'")
        True
        >>> DensityConfig().fit_key() == DensityConfig(correction="none").fit_key()
        True
        """
        kept = (
            f
            for f in dataclasses.fields(self)
            if not f.name.startswith(("correction", "mass"))
            and (f.name != "capture" or self.capture)
        )
        return f"DensityConfig({', '.join(f'{f.name}={getattr(self, f.name)!r}' for f in kept)})"

    def mixture_params(self) -> dict[str, Any]:
        """The keyword arguments of :class:`~resonant_ad.detect.mixture.SignalMixture`."""
        keep = ("folds", "epochs", "batch_size", "learning_rate", "w_init", "warmup_epochs")
        extra: tuple[str, ...] = ("transforms", "bins", "restarts", "profile_points")
        extra += ("profile_epochs", "tilt", "capture")
        params = {k: getattr(self, k) for k in (*keep, *extra)}
        params["hidden_features"] = (self.hidden,) * self.hidden_layers
        return params


DENSITY_CORRECTIONS = ("none", "sidebands")
"""``[density] correction``: none, or the sideband ratio of data to the background model."""

DENSITY_MASSES = ("data", "sidebands")
"""``[density] mass``: the background's ``p(m)`` from the SR data or from a sideband fit."""

SCAN_BACKGROUNDS = ("calibrated", "sidebands")


@dataclass(frozen=True)
class ScanConfig:
    m_min: float = 2.6
    m_max: float = 5.0
    width: float = 0.4
    step: float = 0.2
    margin: float = 0.2
    efficiencies: tuple[float, ...] = (0.1, 0.01)
    n_sig: int = 1000
    methods: tuple[str, ...] = ("sigma-context",)
    background: str = "calibrated"
    """How the expected background after a cut is estimated: ``calibrated`` (the template's
    count calibrated on the other windows; :mod:`resonant_ad.search.background`) or
    ``sidebands`` (:mod:`resonant_ad.search.scan`)."""


@dataclass(frozen=True)
class StudyConfig:
    data: DataConfig
    signal_regions: tuple[SignalRegion, ...] = (SignalRegion(3.3, 3.7),)
    n_sig: tuple[int, ...] = (1000,)
    n_injections: int = 3
    methods: tuple[str, ...] = field(default_factory=_default_methods)
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


def _check_keys(section: str, given: dict[str, Any], cls: type) -> None:
    allowed = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise InputError(f"unknown key(s) {unknown} in [{section}]; allowed: {sorted(allowed)}")


def _typed(section: str, key: str, value: Any, kind: type | tuple[type, ...]) -> Any:
    if isinstance(value, bool) or not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise InputError(f"[{section}] {key} = {value!r}: expected {names}")
    return value


def _positive(section: str, key: str, value: float) -> None:
    if value <= 0:
        raise InputError(f"[{section}] {key} = {value!r}: must be positive")


def _path(base: Path, value: Any, key: str) -> Path:
    p = Path(_typed("data", key, value, str)).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def config_from_dict(raw: dict[str, Any], base: Path = Path(".")) -> StudyConfig:
    """Build and validate a :class:`StudyConfig` from parsed TOML (sections as tables)."""
    sections = {"data", "study", "model", "classifier", "scan", "density", "method"}
    unknown = sorted(set(raw) - sections)
    if unknown:
        raise InputError(f"unknown section(s) {unknown}; allowed: {sorted(sections)}")
    if "data" not in raw or "events" not in raw["data"]:
        raise InputError('the config needs [data] events = "<LHCO-format file>"')

    d = dict(raw["data"])
    _check_keys("data", d, DataConfig)
    max_events = d.get("max_events")
    if max_events is not None:
        _positive("data", "max_events", _typed("data", "max_events", max_events, int))
    features = _typed("data", "features", d.get("features", "sigma"), str)
    from resonant_ad.data.features import FEATURE_SETS

    if features not in FEATURE_SETS:
        raise InputError(f"[data] features = {features!r}: choose one of {sorted(FEATURE_SETS)}")
    data = DataConfig(
        events=_path(base, d["events"], "events"),
        signal=_path(base, d["signal"], "signal") if "signal" in d else None,
        extra_background=(
            _path(base, d["extra_background"], "extra_background")
            if "extra_background" in d
            else None
        ),
        simulation=_path(base, d["simulation"], "simulation") if "simulation" in d else None,
        max_events=max_events,
        features=features,
    )

    s = dict(raw.get("study", {}))
    study_fields = {
        "signal_regions",
        "n_sig",
        "n_injections",
        "methods",
        "seed",
        "device",
        "validation_windows",
    }
    unknown = sorted(set(s) - study_fields)
    if unknown:
        raise InputError(f"unknown key(s) {unknown} in [study]; allowed: {sorted(study_fields)}")
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
        raise InputError(f"[study] signal_regions = {regions!r}: expected [[lo, hi], ...] in TeV")
    srs = tuple(SignalRegion(float(lo), float(hi)) for lo, hi in regions)
    n_sig = s.get("n_sig", [1000])
    n_sig = [n_sig] if isinstance(n_sig, int) else n_sig
    for n in _typed("study", "n_sig", n_sig, list):
        if _typed("study", "n_sig", n, int) < 0:
            raise InputError(f"[study] n_sig = {n}: must be non-negative")
    n_inj = _typed("study", "n_injections", s.get("n_injections", 3), int)
    _positive("study", "n_injections", n_inj)
    methods = tuple(_typed("study", "methods", s.get("methods", list(_default_methods())), list))
    _check_methods("study", methods)
    device = _typed("study", "device", s.get("device", "auto"), str)
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise InputError(f"[study] device = {device!r}: expected auto, cpu, cuda or cuda:N")

    seed = _typed("study", "seed", s.get("seed", 0), int)
    if seed < 0:
        raise InputError(f"[study] seed = {seed}: must be non-negative")
    n_val = _typed("study", "validation_windows", s.get("validation_windows", 0), int)
    if n_val < 0:
        raise InputError(f"[study] validation_windows = {n_val}: must be non-negative")

    m = dict(raw.get("model", {}))
    _check_keys("model", m, ModelConfig)
    model = ModelConfig(**m)
    _typed("model", "preset", model.preset, str)
    _positive(
        "model",
        "interpolation_offset",
        _typed("model", "interpolation_offset", model.interpolation_offset, (int, float)),
    )
    if model.max_epochs is not None:
        _positive("model", "max_epochs", _typed("model", "max_epochs", model.max_epochs, int))
    if model.max_seconds is not None:
        _positive(
            "model", "max_seconds", _typed("model", "max_seconds", model.max_seconds, (int, float))
        )
    if model.epochs is not None:
        _positive("model", "epochs", _typed("model", "epochs", model.epochs, int))
        if model.max_epochs is not None or model.max_seconds is not None:
            raise InputError(
                "[model] epochs fixes the training length: drop max_epochs/max_seconds"
            )
    from resonant_ad.flows.preprocessing import PREPROCESSINGS

    if model.preprocessing is not None and model.preprocessing not in PREPROCESSINGS:
        raise InputError(
            f"[model] preprocessing = {model.preprocessing!r}: expected one of {PREPROCESSINGS}"
        )

    c = dict(raw.get("classifier", {}))
    _check_keys("classifier", c, ClassifierConfig)
    classifier = ClassifierConfig(**c)
    _positive(
        "classifier",
        "ensemble_size",
        _typed("classifier", "ensemble_size", classifier.ensemble_size, int),
    )
    _positive(
        "classifier",
        "oversampling",
        _typed("classifier", "oversampling", classifier.oversampling, int),
    )
    if classifier.kind not in ("hgb", "nn"):
        raise InputError(f"[classifier] kind = {classifier.kind!r}: expected 'hgb' or 'nn'")

    sc = dict(raw.get("scan", {}))
    _check_keys("scan", sc, ScanConfig)
    for key in ("m_min", "m_max", "width", "step", "margin"):
        if key in sc:
            _typed("scan", key, sc[key], (int, float))
    if "efficiencies" in sc:
        effs = tuple(_typed("scan", "efficiencies", sc["efficiencies"], list))
        if not effs or not all(isinstance(e, float) and 0 < e < 1 for e in effs):
            raise InputError(f"[scan] efficiencies = {effs!r}: expected numbers in (0, 1)")
        sc["efficiencies"] = effs
    if "n_sig" in sc and _typed("scan", "n_sig", sc["n_sig"], int) < 0:
        raise InputError(f"[scan] n_sig = {sc['n_sig']}: must be non-negative")
    if "methods" in sc:
        sc["methods"] = tuple(_typed("scan", "methods", sc["methods"], list))
        _check_methods("scan", sc["methods"], scan=True)
    if sc.get("background", "calibrated") not in SCAN_BACKGROUNDS:
        raise InputError(
            f"[scan] background = {sc['background']!r}: expected one of {SCAN_BACKGROUNDS}"
        )
    scan = ScanConfig(**sc)
    density = _density(dict(raw.get("density", {})))

    config = StudyConfig(
        data=data,
        signal_regions=srs,
        n_sig=tuple(n_sig),
        n_injections=n_inj,
        methods=methods,
        seed=seed,
        device=device,
        validation_windows=n_val,
        model=model,
        classifier=classifier,
        scan=scan,
        density=density,
        method=_method_tables(raw.get("method", {})),
    )
    from resonant_ad.methods.registry import get

    for name in config.method:
        get(name).options(config)  # every key and value checked now, not at training
    return config


def _method_tables(raw: Any) -> dict[str, dict[str, Any]]:
    """The ``[method.NAME]`` tables: each names a registered method with settings."""
    from resonant_ad.methods.registry import get, names

    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise InputError("[method] holds one table per method: [method.NAME] key = value")
    for name in raw:
        if name not in names():
            raise InputError(f"[method.{name}]: unknown method; choose from {list(names())}")
        if get(name).options_class is None:
            with_options = [n for n in names() if get(n).options_class is not None]
            raise InputError(
                f"[method.{name}]: {name} has no settings of its own; methods with "
                f"settings: {with_options}"
            )
    return {name: dict(table) for name, table in raw.items()}


def _density(de: dict[str, Any]) -> DensityConfig:
    from resonant_ad.flows.ode import SOLVER_METHODS
    from resonant_ad.methods.registry import get

    _check_keys("density", de, DensityConfig)
    defaults = DensityConfig()
    de = dict(de)
    if "w_init" in de:
        starts = de["w_init"] if isinstance(de["w_init"], list) else [de["w_init"]]
        if not starts:
            raise InputError("[density] w_init = []: give at least one start value")
        de["w_init"] = tuple(float(_typed("density", "w_init", w, (int, float))) for w in starts)
    for f in dataclasses.fields(DensityConfig):
        if f.name in de and f.name != "w_init":
            kind = type(getattr(defaults, f.name))
            if kind is bool:
                if not isinstance(de[f.name], bool):
                    raise InputError(f"[density] {f.name} = {de[f.name]!r}: expected true or false")
                continue
            _typed("density", f.name, de[f.name], (int, float) if kind is float else kind)
    out = DensityConfig(**de)
    try:
        background = get(out.background)
    except InputError:
        background = None
    if background is None or not background.has_density:
        raise InputError(
            f"[density] background = {out.background!r}: expected a method with a density "
            "(sigma-context, sigma-linear, sigma-poly or cr)"
        )
    if out.solver not in SOLVER_METHODS:
        raise InputError(f"[density] solver = {out.solver!r}: expected one of {SOLVER_METHODS}")
    for key in (
        "solver_steps",
        "folds",
        "epochs",
        "batch_size",
        "transforms",
        "hidden",
        "hidden_layers",
        "bins",
        "profile_points",
    ):
        _positive("density", key, getattr(out, key))
    if out.folds < 2:
        raise InputError(f"[density] folds = {out.folds}: need at least 2")
    if not all(0 < w < 1 for w in out.w_init):
        raise InputError(f"[density] w_init = {list(out.w_init)}: every start must be in (0, 1)")
    _positive("density", "learning_rate", out.learning_rate)
    for key in ("warmup_epochs", "restarts", "profile_epochs", "tilt"):
        if getattr(out, key) < 0:
            raise InputError(f"[density] {key} = {getattr(out, key)}: must be non-negative")
    if out.correction not in DENSITY_CORRECTIONS:
        raise InputError(
            f"[density] correction = {out.correction!r}: expected one of {DENSITY_CORRECTIONS}"
        )
    for key in ("correction_width", "correction_members", "correction_samples", "mass_width"):
        _positive("density", key, getattr(out, key))
    if out.mass not in DENSITY_MASSES:
        raise InputError(f"[density] mass = {out.mass!r}: expected one of {DENSITY_MASSES}")
    if out.capture and out.profile_epochs > 0:
        raise InputError("[density] capture = true needs profile_epochs = 0")
    if out.capture and out.mass != "sidebands":
        raise InputError(
            '[density] capture = true needs mass = "sidebands": with p(m) from the SR data the '
            "background-like part of the signal has nothing to be told by"
        )
    return out


def _check_methods(section: str, methods: tuple[str, ...], *, scan: bool | None = None) -> None:
    """Every name a registered method (the scan's: one it can use), none twice."""
    from resonant_ad.methods.registry import names

    allowed = names(scan=scan)
    if not methods:
        raise InputError(f"[{section}] methods: give at least one")
    bad = [m for m in methods if not isinstance(m, str) or m not in allowed]
    if bad:
        raise InputError(f"[{section}] unknown method(s) {bad}; choose from {list(allowed)}")
    if len(set(methods)) != len(methods):
        raise InputError(f"[{section}] methods {list(methods)}: a method is named twice")


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
