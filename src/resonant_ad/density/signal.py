"""The signal density of a fit made in folds, and what is computed from it.

:class:`SignalDensity` is the part of :class:`~resonant_ad.density.mixture.SignalMixture`
that holds the fitted ``p_S``: the standardisation of the inputs, ``z = ((x - mean) / scale,
(m - centre) / half-width)`` with the SR's centre and half-width, the scaling of the tilt's
features, and every fold's kept flows (:class:`~resonant_ad.density.folds.Fold`). From it:
``log p_S(x, m)`` (the mean density of the folds' models), what the fitted tilt adds to
``log p_B``, the anomaly score ``log p_S - log p_B - log p(m)``, samples of ``p_S`` and the
mass density of each fold's ``p_S``.

With ``mass_input`` off the flows see ``x`` alone: ``p_S(x, m) = p_S(x) p(m)``, its mass
density the background's ``p(m)`` (given per event as ``log_mass``), so the score is
``log p_S(x) - log p_B(x | m)`` and uses ``m`` only through ``p_B``, as a classifier of
``x`` does.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from resonant_ad.data.spectrum import MassDensity
from resonant_ad.density.folds import Fold
from resonant_ad.density.likelihood import SignalFlow
from resonant_ad.density.tilt import tilt_features
from resonant_ad.errors import InputError

__all__ = ["SignalDensity"]


class SignalDensity:
    """A fitted ``p_S`` over ``(x, m)``, or over ``x`` with ``p(m)`` (set by a subclass's
    ``fit``: the settings ``transforms``, ``hidden_features``, ``bins``, ``tilt``,
    ``mass_input`` and the fitted attributes below)."""

    transforms: int
    mass_input: bool
    hidden_features: tuple[int, ...]
    bins: int
    tilt: int
    n_features_in_: int
    x_mean_: np.ndarray
    x_scale_: np.ndarray
    m_centre_: float
    m_scale_: float
    signal_region_: tuple[float, float]
    phi_mean_: Tensor
    phi_scale_: Tensor
    folds_: list[Fold]

    def _standardise(
        self,
        x: np.ndarray,
        signal_region: tuple[float, float],
        reference: tuple[np.ndarray, np.ndarray] | None,
    ) -> Tensor | None:
        """Set the standardisation from the SR data's ``x`` and the SR; with a tilt, the
        scaling of its features on the ``reference`` events, whose scaled features it
        returns (``None`` without a tilt)."""
        lo, hi = signal_region
        self.n_features_in_ = x.shape[1]
        self.x_mean_ = x.mean(axis=0)
        self.x_scale_ = np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
        self.m_centre_, self.m_scale_ = 0.5 * (lo + hi), 0.5 * (hi - lo)
        self.signal_region_ = (float(lo), float(hi))
        if self.tilt <= 0 or reference is None:
            return None
        raw = tilt_features(
            self._to_z(*(np.asarray(a, dtype=np.float64) for a in reference)), self.tilt
        )
        self.phi_mean_, self.phi_scale_ = raw.mean(0), raw.std(0).clamp_min(1e-6)
        return (raw - self.phi_mean_) / self.phi_scale_

    def _prepare(
        self,
        x: np.ndarray,
        m: np.ndarray,
        log_background: np.ndarray,
        signal_region: tuple[float, float],
        reference: tuple[np.ndarray, np.ndarray] | None,
        log_mass: np.ndarray | None,
    ) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """A fit's events checked and standardised (the standardisation set from them): what
        the flows see of ``z``, ``log p_B`` of each event in ``z`` (``log_background`` less
        the Jacobian, and less ``log p(m)`` over ``x`` alone), and the tilt's features of
        the events and of the ``reference`` events (``None`` without a tilt)."""
        x = np.asarray(x, dtype=np.float64)
        m = np.asarray(m, dtype=np.float64).reshape(-1)
        log_bg = np.asarray(log_background, dtype=np.float64).reshape(-1)
        if x.ndim != 2 or len(x) != len(m) or len(m) != len(log_bg):
            raise InputError("x, m and log_background must describe the same events")
        if not np.all(np.isfinite(log_bg)):
            raise InputError("log_background has non-finite values")
        if log_mass is not None and np.shape(log_mass) != m.shape:
            raise InputError("log_mass must hold one value per event")
        if self.tilt > 0 and reference is None:
            raise InputError(f"tilt = {self.tilt} needs a reference sample of the background")
        phi_ref = self._standardise(x, signal_region, reference)
        z = self._to_z(x, m)
        # over x alone, p(m) (a factor of both terms of the mixture) leaves
        log_bg = log_bg - self._mass_term(log_mass, len(m))
        bg = torch.as_tensor(log_bg - self._log_jacobian, dtype=torch.float32)
        phi = None if phi_ref is None else self._phi(z)
        return self._signal_inputs(z), bg, phi, phi_ref  # the tilt sees (x, m) whatever

    def _to_z(self, x: np.ndarray, m: np.ndarray) -> Tensor:
        z = np.column_stack(
            ((x - self.x_mean_) / self.x_scale_, (m - self.m_centre_) / self.m_scale_)
        )
        return torch.as_tensor(z, dtype=torch.float32)

    @property
    def _log_jacobian(self) -> float:
        """``log |dz / d(x, m)|`` of the flow's inputs (``x`` alone without ``mass_input``):
        added to a density in z to get it in (x, m)."""
        log_m = float(np.log(self.m_scale_)) if self.mass_input else 0.0
        return -float(np.log(self.x_scale_).sum() + log_m)

    def _signal_inputs(self, z: Tensor) -> Tensor:
        """What the flows of ``p_S`` see of ``z``: all of it, or ``x`` alone."""
        return z if self.mass_input else z[:, :-1]

    def _mass_term(self, log_mass: np.ndarray | None, n: int) -> np.ndarray | float:
        """What ``log p(m)`` adds to the flows' ``log p_S``: nothing with ``mass_input``,
        else the background's ``log p(m)`` of each of the ``n`` events (required)."""
        if self.mass_input:
            return 0.0
        if log_mass is None or np.shape(log_mass) != (n,):
            raise InputError(
                "a p_S over x alone needs log_mass, the background's log p(m) of each event"
            )
        return np.asarray(log_mass, dtype=np.float64)

    def _phi(self, z: Tensor) -> Tensor:
        """The tilt's features of ``z``, scaled as on the reference sample."""
        return (tilt_features(z, self.tilt) - self.phi_mean_) / self.phi_scale_

    @property
    def _flow(self) -> SignalFlow:
        features = self.n_features_in_ + int(self.mass_input)
        return SignalFlow(features, self.transforms, self.hidden_features, self.bins)

    def _mass_excess(
        self,
        folds: list[Fold],
        z: Tensor,
        held: list[Tensor],
        log_mass: np.ndarray,
        n: int,
        seed: int,
    ) -> np.ndarray:
        """``log g(m) - log p(m)`` of each fold's ``held`` events (``z``: standardised, with
        ``log_mass``, the background's ``log p(m)``), ``g`` a KDE of about ``n`` masses
        drawn from the fold's ``p_S`` in the SR."""
        lo, hi = self.signal_region_
        dm = []
        for j, (fold, h) in enumerate(zip(folds, held, strict=True)):
            g = MassDensity(lo, hi).fit(self._fold_masses(fold, n, seed + j))
            m = z[h][:, -1].double().numpy() * self.m_scale_ + self.m_centre_
            dm.append(g.log_prob(m) - log_mass[h.numpy()])
        return np.concatenate(dm)

    def _fold_masses(self, fold: Fold, n: int, seed: int) -> np.ndarray:
        """About ``n`` masses drawn from ``fold``'s ``p_S`` (its kept epochs equally), those
        inside the SR."""
        per = max(1, n // len(fold.states))
        parts = self._flow.sample(fold.states, np.full(len(fold.states), per), seed)
        m = np.concatenate([p[:, -1] for p in parts]) * self.m_scale_ + self.m_centre_
        lo, hi = self.signal_region_
        return m[(m >= lo) & (m <= hi)]

    def _check_fitted(self) -> None:
        if not hasattr(self, "folds_"):
            raise InputError(f"this {type(self).__name__} is not fitted: call fit()")

    def log_prob_signal(
        self, x: np.ndarray, m: np.ndarray, log_mass: np.ndarray | None = None
    ) -> np.ndarray:
        """``log p_S(x, m)``: the mean density of every fold's model (times ``p(m)``,
        ``log_mass`` of each event, for a ``p_S`` over ``x`` alone)."""
        z = self._inputs(x, m)
        return self._log_signal(z) + self._mass_term(log_mass, len(z))

    def background_correction(self, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        """What the fitted tilt adds to ``log p_B(x | m)`` (the mean over folds; zeros
        without a tilt)."""
        return self._background_correction(self._inputs(x, m))

    def score(
        self,
        x: np.ndarray,
        m: np.ndarray,
        log_background: np.ndarray,
        log_mass: np.ndarray | None = None,
    ) -> np.ndarray:
        """The anomaly score ``log p_S(x, m) - log p_B(x | m) - log p(m)``, with ``p_B``
        tilted where the fit has a tilt (``log_mass``: ``log p(m)`` of each event, needed
        for a ``p_S`` over ``x`` alone)."""
        z = self._inputs(x, m)
        log_bg = np.asarray(log_background, dtype=np.float64) + self._background_correction(z)
        return self._log_signal(z) + self._mass_term(log_mass, len(z)) - log_bg

    def _inputs(self, x: np.ndarray, m: np.ndarray) -> Tensor:
        """The standardised ``(x, m)`` of a fitted density."""
        self._check_fitted()
        return self._to_z(
            np.asarray(x, dtype=np.float64), np.asarray(m, dtype=np.float64).reshape(-1)
        )

    def _log_signal(self, z: Tensor) -> np.ndarray:
        flow = self._flow
        inputs = self._signal_inputs(z)
        parts = torch.stack([flow.log_prob(f.states, inputs) for f in self.folds_])
        lp = torch.logsumexp(parts.double(), dim=0) - math.log(len(self.folds_))
        return lp.numpy() + self._log_jacobian

    def _background_correction(self, z: Tensor) -> np.ndarray:
        if self.folds_[0].beta is None:  # fitted without a tilt
            return np.zeros(len(z))
        phi = self._phi(z)
        parts = [torch.as_tensor(f.tilt_correction(phi)) for f in self.folds_]
        return torch.stack(parts).mean(0).double().numpy()

    def sample(self, n: int, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``n`` events ``(x, m)`` from ``p_S`` (every fold's kept epochs equally); for a
        ``p_S`` over ``x`` alone the masses are NaN (its mass density is the background's
        ``p(m)``, which the fit holds only as numbers per event)."""
        self._check_fitted()
        states = [s for f in self.folds_ for s in f.states]
        gen = np.random.default_rng(seed)
        owner = gen.integers(0, len(states), n)
        counts = np.bincount(owner, minlength=len(states))
        parts = self._flow.sample(states, counts, int(gen.integers(0, 2**62)))
        out = np.full((n, self.n_features_in_ + 1), np.nan)
        for k, part in enumerate(parts):
            out[owner == k, : part.shape[1]] = part
        x = out[:, :-1] * self.x_scale_ + self.x_mean_
        m = out[:, -1] * self.m_scale_ + self.m_centre_
        return x, m
