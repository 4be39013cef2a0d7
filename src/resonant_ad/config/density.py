"""The ``[density]`` section of a study config: the settings of the density methods."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from resonant_ad.config.values import check_keys, non_negative, positive, typed
from resonant_ad.errors import InputError

__all__ = ["DENSITY_CORRECTIONS", "DENSITY_MASSES", "DensityConfig"]

DENSITY_CORRECTIONS = ("none", "sidebands")
"""``[density] correction``: none, or the sideband ratio of data to the background model."""

DENSITY_MASSES = ("data", "sidebands")
"""``[density] mass``: the background's ``p(m)`` from the SR data or from a sideband fit."""


@dataclass(frozen=True)
class DensityConfig:
    """Settings of the density methods (``r-anode``, ``r-anode-x``, ``r-anode-ideal``,
    ``anode``): the background model whose exact density is ``p_B`` in the SR, the ODE
    solver of its likelihoods, and the signal-density fit
    (:class:`~resonant_ad.density.mixture.SignalMixture`).

    Each value is checked when the settings are made; that ``background`` names a
    registered method with a density is checked where the study runs
    (:func:`resonant_ad.search.checks.check_methods`).
    """

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
    :class:`~resonant_ad.density.mixture.SignalMixture`). One start by default, at 0.01: the
    start the held-out likelihood preferred over 0.05 on background-only replicas (the
    documentation's "Where w starts")."""
    warmup_epochs: int = 5
    restarts: int = 2
    profile_points: int = 9
    profile_epochs: int = 0
    tilt: int = 1
    """Degree of the polynomial exponential tilt of ``p_B`` fitted with ``p_S`` and ``w`` as
    a nuisance of the background model (0: ``p_B`` as it is); see
    :class:`~resonant_ad.density.mixture.SignalMixture`."""
    correction: str = "sidebands"
    """``sidebands``: correct ``p_B`` by the ratio of data to the background model learned
    in the sidebands (:class:`~resonant_ad.density.correction.SidebandCorrection`);
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
    ``mass = "sidebands"``; see :class:`~resonant_ad.density.mixture.SignalMixture`)."""
    capture_penalty: float = 1.0
    """With ``capture``: ``w``'s likelihood is the envelope of the scans with and without
    the background-like fraction ``a``, the one with it plus this penalty in ``-2 log L``
    (discrete profiling, arXiv:1408.6865: one unit per parameter). 0: the profile over
    ``a`` alone. A setting of the scan: a stored fit is rescanned, not trained again, when
    it changes."""
    null_windows: int = 0
    """Validation windows per side of the SR (its width, nearest first) in which ``r-anode``'s
    fit is repeated, each window in the role of the SR with ``p_B`` from the same background
    training and the window's own sidebands (which reach into the SR, so an injected signal
    is partly seen there too): the null fits whose spurious ``w`` sets
    ``w``'s systematic and the p-value of ``w = 0`` (:mod:`~resonant_ad.density.null`). 0: no
    null fits (the interval is statistical only). Each window costs a fit and its background
    densities, as much as the SR's; the default is set by that cost, not by any result."""

    def __post_init__(self) -> None:
        from resonant_ad.flows.ode import SOLVER_METHODS

        starts = typed("density", "w_init", self.w_init, tuple)
        if not starts:
            raise InputError("[density] w_init = []: give at least one start value")
        for w in starts:
            typed("density", "w_init", w, float)
        for f in dataclasses.fields(self):
            value, kind = getattr(self, f.name), type(f.default)
            if kind is bool:
                if not isinstance(value, bool):
                    raise InputError(f"[density] {f.name} = {value!r}: expected true or false")
            elif f.name != "w_init":
                typed("density", f.name, value, (int, float) if kind is float else kind)
        if self.solver not in SOLVER_METHODS:
            raise InputError(
                f"[density] solver = {self.solver!r}: expected one of {SOLVER_METHODS}"
            )
        for key in ("solver_steps", "folds", "epochs", "batch_size", "transforms", "hidden"):
            positive("density", key, getattr(self, key))
        for key in ("hidden_layers", "bins", "profile_points"):
            positive("density", key, getattr(self, key))
        if self.folds < 2:
            raise InputError(f"[density] folds = {self.folds}: need at least 2")
        if not all(0 < w < 1 for w in self.w_init):
            raise InputError(
                f"[density] w_init = {list(self.w_init)}: every start must be in (0, 1)"
            )
        positive("density", "learning_rate", self.learning_rate)
        non_negative("density", "capture_penalty", self.capture_penalty)
        for key in ("warmup_epochs", "restarts", "profile_epochs", "tilt", "null_windows"):
            non_negative("density", key, getattr(self, key))
        if self.correction not in DENSITY_CORRECTIONS:
            raise InputError(
                f"[density] correction = {self.correction!r}: expected one of {DENSITY_CORRECTIONS}"
            )
        for key in ("correction_width", "correction_members", "correction_samples", "mass_width"):
            positive("density", key, getattr(self, key))
        if self.mass not in DENSITY_MASSES:
            raise InputError(f"[density] mass = {self.mass!r}: expected one of {DENSITY_MASSES}")
        if self.capture and self.profile_epochs > 0:
            raise InputError("[density] capture = true needs profile_epochs = 0")
        if self.capture and self.mass != "sidebands":
            raise InputError(
                '[density] capture = true needs mass = "sidebands": with p(m) from the SR data '
                "the background-like part of the signal has nothing to be told by"
            )

    @classmethod
    def from_dict(cls, table: Any) -> DensityConfig:
        """``[density]`` from its TOML table (``w_init`` one number or a list of them)."""
        de = check_keys("density", table, cls)
        if "w_init" in de:
            starts = de["w_init"] if isinstance(de["w_init"], list) else [de["w_init"]]
            de["w_init"] = tuple(float(typed("density", "w_init", w, (int, float))) for w in starts)
        return cls(**de)

    def fit_key(self) -> str:
        """The settings as a density fit's key holds them: the repr without the
        ``correction`` and ``mass`` fields, which the key of the background densities (part
        of the fit's key) holds, without ``null_windows`` (the fits in the windows are keyed
        by their own regions), without ``capture_penalty`` (a setting of the scan alone, which
        a study redoes on a stored fit: ``DensityMethod.refresh``), and with ``capture`` only
        where it is on; fits keyed before these existed (with them off) keep their key.

        >>> DensityConfig().fit_key().startswith("DensityConfig(background='sigma-context'")
        True
        >>> DensityConfig().fit_key() == DensityConfig(correction="none").fit_key()
        True
        >>> DensityConfig().fit_key() == DensityConfig(null_windows=1, capture_penalty=0).fit_key()
        True
        """
        kept = (
            f
            for f in dataclasses.fields(self)
            if not f.name.startswith(("correction", "mass", "null"))
            and f.name != "capture_penalty"
            and (f.name != "capture" or self.capture)
        )
        return f"DensityConfig({', '.join(f'{f.name}={getattr(self, f.name)!r}' for f in kept)})"

    def mixture_params(self) -> dict[str, Any]:
        """The keyword arguments of :class:`~resonant_ad.density.mixture.SignalMixture`."""
        keep = ("folds", "epochs", "batch_size", "learning_rate", "w_init", "warmup_epochs")
        extra: tuple[str, ...] = ("transforms", "bins", "restarts", "profile_points")
        extra += ("profile_epochs", "tilt", "capture", "capture_penalty")
        params = {k: getattr(self, k) for k in (*keep, *extra)}
        params["hidden_features"] = (self.hidden,) * self.hidden_layers
        return params
