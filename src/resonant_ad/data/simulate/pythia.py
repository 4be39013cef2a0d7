"""Pythia 8 settings and event generation for QCD dijets and the W' -> X Y signal, and the
import of the simulator's optional dependencies."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from resonant_ad.errors import InputError

__all__ = [
    "MHAT_WIDEN_ABOVE",
    "MHAT_WIDEN_BELOW",
    "QCD_PTHAT_MIN",
    "TUNE_SETTINGS",
    "GeneratedEvent",
    "GeneratorConfig",
    "Process",
    "SignalModel",
    "Tune",
    "generate_events",
    "make_pythia",
    "pythia_seed",
    "pythia_settings",
    "require_pythia",
    "require_simulator_module",
]

logger = logging.getLogger(__name__)

Process = Literal["qcd", "signal"]
Tune = Literal["data", "sim"]

#: ``PhaseSpace:pTHatMin`` (GeV) for QCD. The 1.2 TeV cut is on the leading *jet*; ISR recoil
#: and radiation caught in R = 1 jets let events with a lower pTHat pass it. The loss at this
#: value is measured by ``benchmarks/simulation/simulator.py --cut-study`` and quoted in
#: ``src/resonant_ad/resources/reference/README.md``.
QCD_PTHAT_MIN = 900.0

#: An ``--mjj-window LO HI`` is generated with ``PhaseSpace:mHatMin = LO - MHAT_WIDEN_BELOW`` and
#: ``mHatMax = HI + MHAT_WIDEN_ABOVE`` (GeV). ``mjj`` differs from ``mHat``: radiation lost
#: outside the R = 1 jets lowers it, ISR caught in them raises it, so a window only a little
#: wider than the ``mjj`` window loses events (and biases the jet masses). The measured loss is
#: in ``src/resonant_ad/resources/reference/README.md``.
MHAT_WIDEN_BELOW = 900.0
MHAT_WIDEN_ABOVE = 1000.0

#: Shower/hadronisation settings of the two tunes. ``data`` is Pythia's default (Monash 2013).
#: ``sim`` plays the role of a second generator (as Herwig does against Pythia in FETA): a
#: smaller final-state ``alpha_s``, a higher shower cut-off and a harder Lund fragmentation
#: function: QCD jets radiate less and come out about 8 % lighter (mean 195 against 213 GeV)
#: with nearly the same mean tau21 (measured in
#: ``src/resonant_ad/resources/reference/README.md``).
TUNE_SETTINGS: dict[str, tuple[str, ...]] = {
    "data": (),
    "sim": (
        "TimeShower:alphaSvalue = 0.120",
        "TimeShower:pTmin = 1.5",
        "StringZ:aLund = 0.90",
        "StringZ:bLund = 0.80",
    ),
}

_SEED_MAX = 900_000_000  # Pythia accepts Random:seed in [0, 900_000_000]


def require_simulator_module(module: str, what: str) -> Any:
    """Import and return ``module``, one of the simulator's optional dependencies (``what``
    in words), or raise a clear error if it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise InputError(
            f"the simulator needs {what}: pip install 'resonant-ad[simulate]' "
            "(pythia8mc==8.317.2 and fastjet)"
        ) from err


def require_pythia() -> Any:
    """Import and return the ``pythia8mc`` module, or raise a clear error if it is missing."""
    return require_simulator_module("pythia8mc", "Pythia 8")


@dataclass(frozen=True)
class SignalModel:
    """The LHCO-like signal ``W'(m_res) -> X(m_x) Y(m_y)``, masses in GeV.

    ``W'`` is Pythia's particle 34, ``X`` the CP-odd Higgs ``A0`` (36) and ``Y`` the charged
    Higgs ``H+`` (37), so charge is conserved. ``X -> q qbar`` (d, u, s, equal shares) for
    ``prongs_x = 2`` or ``X -> q qbar g`` (three-body phase space) for ``prongs_x = 3``;
    ``Y -> u dbar`` or ``u sbar`` (equal shares). Widths are fixed to 1 permille of the masses.
    """

    mass_resonance: float = 3500.0
    mass_x: float = 500.0
    mass_y: float = 100.0
    prongs_x: int = 2

    def validate(self) -> None:
        """Raise :class:`InputError` if the masses cannot describe an on-shell decay chain."""
        for name, value in (
            ("resonance", self.mass_resonance),
            ("X", self.mass_x),
            ("Y", self.mass_y),
        ):
            if not np.isfinite(value) or value <= 0:
                raise InputError(f"the {name} mass must be positive, got {value} GeV")
        if self.mass_y >= self.mass_x:
            raise InputError(
                f"the Y mass ({self.mass_y} GeV) must be below the X mass ({self.mass_x} GeV)"
            )
        if self.mass_x + self.mass_y >= self.mass_resonance:
            raise InputError(
                f"X + Y ({self.mass_x} + {self.mass_y} GeV) must be below the resonance mass "
                f"({self.mass_resonance} GeV)"
            )
        if self.mass_y < 10.0:
            raise InputError(
                f"the Y mass must be at least 10 GeV to decay to quarks, got {self.mass_y}"
            )
        if self.prongs_x not in (2, 3):
            raise InputError(f"X decays to 2 or 3 prongs, got {self.prongs_x}")


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate: the process, its masses, the tune and an optional ``mjj`` window.

    Attributes:
        process: ``"qcd"`` (``HardQCD:all``) or ``"signal"`` (see :class:`SignalModel`).
        signal: the signal masses and X prongs (ignored for QCD).
        tune: ``"data"`` (Pythia default) or ``"sim"`` (see :data:`TUNE_SETTINGS`).
        mjj_window: ``(lo, hi)`` in GeV or ``None``. Selected events must have ``lo <= mjj <=
            hi``; QCD is generated with ``mHat`` in ``[lo - 900, hi + 1000]`` GeV.
        pthat_min: ``PhaseSpace:pTHatMin`` in GeV for QCD.
        ecm: centre-of-mass energy in GeV.
    """

    process: Process = "qcd"
    signal: SignalModel = field(default_factory=SignalModel)
    tune: Tune = "data"
    mjj_window: tuple[float, float] | None = None
    pthat_min: float = QCD_PTHAT_MIN
    ecm: float = 13000.0

    def validate(self) -> None:
        """Raise :class:`InputError` on an unknown process/tune, bad masses or a bad window."""
        if self.process not in ("qcd", "signal"):
            raise InputError(f"unknown process {self.process!r}; choose 'qcd' or 'signal'")
        if self.tune not in TUNE_SETTINGS:
            raise InputError(f"unknown tune {self.tune!r}; choose one of {sorted(TUNE_SETTINGS)}")
        if self.process == "signal":
            self.signal.validate()
        if self.mjj_window is not None:
            lo, hi = self.mjj_window
            if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0 or hi <= lo:
                raise InputError(
                    f"the mjj window needs 0 <= LO < HI, got {lo / 1000:g} {hi / 1000:g} TeV"
                )
            if hi > self.ecm:
                raise InputError(f"the mjj window ends above sqrt(s) = {self.ecm / 1000:g} TeV")
        if not (0 <= self.pthat_min < self.ecm / 2):
            raise InputError(f"pTHatMin must be in [0, sqrt(s)/2), got {self.pthat_min} GeV")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (used to refuse resuming a shard directory with new settings)."""
        return {
            "process": self.process,
            "signal": {
                "mass_resonance": self.signal.mass_resonance,
                "mass_x": self.signal.mass_x,
                "mass_y": self.signal.mass_y,
                "prongs_x": self.signal.prongs_x,
            },
            "tune": self.tune,
            "mjj_window": list(self.mjj_window) if self.mjj_window is not None else None,
            "pthat_min": self.pthat_min,
            "ecm": self.ecm,
        }


def pythia_seed(master_seed: int, stream: int) -> int:
    """A Pythia ``Random:seed`` for one stream (shard), derived from a master seed.

    Uses :class:`numpy.random.SeedSequence` so neighbouring master seeds and streams give
    unrelated Pythia seeds; the result is in ``[1, 900_000_000]``.

    >>> pythia_seed(1, 0) == pythia_seed(1, 0) != pythia_seed(1, 1)
    True
    """
    if master_seed < 0 or stream < 0:
        raise InputError(f"seeds must be non-negative, got {master_seed} and stream {stream}")
    state = np.random.SeedSequence([master_seed, stream]).generate_state(1, dtype=np.uint64)
    return int(state[0] % _SEED_MAX) + 1


def _signal_settings(model: SignalModel) -> list[str]:
    mx, my, mw = model.mass_x, model.mass_y, model.mass_resonance
    if model.prongs_x == 2:
        x_channels = ["1 -1", "2 -2", "3 -3"]
    else:
        x_channels = ["1 -1 21", "2 -2 21", "3 -3 21"]
    settings = [
        "NewGaugeBoson:ffbar2Wprime = on",
        f"34:m0 = {mw:g}",
        # W' -> H+ A0 is not a channel Pythia's W' width knows, so the fixed BR (meMode 100) is
        # used; H+ A0 plays Y X.
        "34:oneChannel = 1 1.0 100 37 36",
        f"36:m0 = {mx:g}",
        f"36:mWidth = {mx * 1e-3:g}",
        f"36:mMin = {mx * 0.9:g}",
        f"36:mMax = {mx * 1.1:g}",
        "36:doForceWidth = on",
        f"37:m0 = {my:g}",
        f"37:mWidth = {my * 1e-3:g}",
        f"37:mMin = {my * 0.9:g}",
        f"37:mMax = {my * 1.1:g}",
        "37:doForceWidth = on",
        f"36:oneChannel = 1 {1 / 3:.6f} 100 {x_channels[0]}",
        f"36:addChannel = 1 {1 / 3:.6f} 100 {x_channels[1]}",
        f"36:addChannel = 1 {1 / 3:.6f} 100 {x_channels[2]}",
        "37:oneChannel = 1 0.5 100 2 -1",
        "37:addChannel = 1 0.5 100 2 -3",
    ]
    return settings


def pythia_settings(config: GeneratorConfig, seed: int) -> list[str]:
    """The full list of ``readString`` settings for one Pythia instance.

    >>> s = pythia_settings(GeneratorConfig("qcd"), 7)
    >>> "HardQCD:all = on" in s and "PartonLevel:MPI = off" in s and "Random:seed = 7" in s
    True
    """
    config.validate()
    settings = [
        f"Beams:eCM = {config.ecm:g}",
        "PartonLevel:MPI = off",
        "Random:setSeed = on",
        f"Random:seed = {int(seed)}",
        "Print:quiet = on",
        "Next:numberCount = 0",
        "Next:numberShowEvent = 0",
        "Next:numberShowInfo = 0",
        "Next:numberShowProcess = 0",
    ]
    if config.process == "qcd":
        settings += ["HardQCD:all = on", f"PhaseSpace:pTHatMin = {config.pthat_min:g}"]
        if config.mjj_window is not None:
            lo, hi = config.mjj_window
            settings += [
                f"PhaseSpace:mHatMin = {max(lo - MHAT_WIDEN_BELOW, 0.0):g}",
                f"PhaseSpace:mHatMax = {hi + MHAT_WIDEN_ABOVE:g}",
            ]
    else:
        settings += _signal_settings(config.signal)
    settings += list(TUNE_SETTINGS[config.tune])
    return settings


def make_pythia(config: GeneratorConfig, seed: int) -> Any:
    """An initialised, silent ``pythia8mc.Pythia`` for ``config`` and a Pythia ``seed``."""
    pythia8mc = require_pythia()
    pythia = pythia8mc.Pythia("", False)
    for line in pythia_settings(config, seed):
        if not pythia.readString(line):
            raise InputError(f"Pythia rejected the setting {line!r}")
    if not pythia.init():
        raise InputError(f"Pythia failed to initialise for {config.to_dict()}")
    return pythia


@dataclass(frozen=True)
class GeneratedEvent:
    """One generated event: visible final-state four-momenta and the hard-process scales.

    Attributes:
        particles: ``(n, 4)`` array of ``px, py, pz, E`` in GeV (neutrinos dropped).
        pthat: the hard process's ``pTHat`` in GeV.
        mhat: the hard process's ``mHat`` in GeV.
    """

    particles: np.ndarray
    pthat: float
    mhat: float


def generate_events(pythia: Any, max_failures: int = 100) -> Iterator[GeneratedEvent]:
    """Endless stream of events from an initialised Pythia instance.

    A failed ``pythia.next()`` is skipped (and logged); ``max_failures`` in a row raise.
    """
    failures = 0
    event = pythia.event
    while True:
        if not pythia.next():
            failures += 1
            logger.debug("pythia.next() failed (%d in a row)", failures)
            if failures >= max_failures:
                raise RuntimeError(f"Pythia failed {failures} times in a row")
            continue
        failures = 0
        rows = [
            (p.px(), p.py(), p.pz(), p.e())
            for p in event.particles()
            if p.isFinal() and p.isVisible()
        ]
        particles = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
        info = pythia.infoPython()  # a snapshot: must be taken after each next()
        yield GeneratedEvent(particles, float(info.pTHat()), float(info.mHat()))
