"""R-ANODE's signal mixture: the signal density ``p_S`` and the signal fraction ``w``, learned
from the SR data over a fixed background density (Das, Kasieczka, Shih, arXiv:2312.11629).

In a signal region the data are modelled as

.. math:: p_{data}(x, m) = w\\, p_S(x, m) + (1 - w)\\, p_B(x | m)\\, p(m)

with ``log p_B(x | m) + log p(m)`` of every event given and held fixed.
:class:`SignalMixture` learns a normalizing flow ``p_S`` over ``(x, m)`` and ``w`` by maximum
likelihood, fold by fold (:mod:`~resonant_ad.density.folds`), optionally with an exponential
tilt of ``p_B`` as a nuisance (:mod:`~resonant_ad.density.tilt`), and reads ``w`` and its 68%
interval off a cross-fitted likelihood scan (:mod:`~resonant_ad.density.profile`). Its anomaly
score is ``log p_S - log p_B - log p(m)``. With ``w`` fixed at 1 it is ANODE
(arXiv:2001.04990): ``p_S`` is then the density of all SR data.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import torch
from torch import Tensor

from resonant_ad.data.copies import copy_groups, fold_assignment
from resonant_ad.density.folds import Fold, FoldTrainer
from resonant_ad.density.null import NullFit, SpuriousSignal, wilks_p_value
from resonant_ad.density.profile import Profile, capture_scan, interval, scan
from resonant_ad.density.signal import SignalDensity
from resonant_ad.errors import InputError

__all__ = ["SignalMixture"]

log = logging.getLogger(__name__)


@dataclass(kw_only=True, eq=False, repr=False)
class SignalMixture(SignalDensity):
    """R-ANODE's fit of ``p_S`` and ``w`` over a fixed background.

    The SR data are split into ``folds``; each fold's model trains on the others and selects
    its epochs on its own fold (:class:`~resonant_ad.density.folds.FoldTrainer`: the
    warm-up of ``w`` and the restarts of a collapsed fold). Scores and samples use every
    fold's model. ``w_init`` may name several starts: the whole fit is made from each, the
    one of best held-out likelihood (summed over folds) is kept, and ``w_interval_`` spans
    the 68% intervals of every start whose held-out ``-2 log L`` is within 1 of the best.

    ``mass_input=False`` fits ``p_S`` over ``x`` alone, ``p_S(x, m) = p_S(x) p(m)`` with the
    background's ``p(m)`` (``log_mass`` in :meth:`fit` and :meth:`score`): the likelihood is
    then ``w p_S(x) + (1 - w) p_B(x | m)`` per event and the score uses ``m`` only through
    ``p_B``, like a classifier of ``x`` (no ``capture``: the signal's mass density is the
    background's by construction).

    ``w_`` is the maximum of the cross-fitted likelihood scan (each fold's held-out events
    under that fold's ``p_S``; :mod:`~resonant_ad.density.profile`), with every ``p_S``
    held at its fitted shape or, with ``profile_epochs > 0``, refitted at each ``w``. With
    ``tilt = d > 0`` the background is ``p_B`` tilted by ``exp(beta . phi)``, ``phi`` the
    monomials of degree 1 to ``d`` of the standardised ``(x, m)``
    (:mod:`~resonant_ad.density.tilt`); the score uses the tilted ``p_B``. With ``capture``
    (which needs ``log_mass``) ``w`` is profiled over the fraction of the signal distributed
    like the background in ``x``, with ``p_S``'s mass density (a KDE of ``capture_samples``
    of its masses per fold), as the envelope of the scans with and without that fraction,
    the one with it costing ``capture_penalty`` in ``-2 log L`` (discrete profiling;
    :func:`~resonant_ad.density.profile.capture_scan`); :attr:`without_capture` is the
    scan without it.
    :meth:`rescan` redoes the scan of a fitted ``p_S``.

    ``q0_`` is ``2 (log L(w_) - log L(0))`` on the same held-out events, the test statistic
    of ``w = 0``. :meth:`calibrate` takes the same fit made where there is no signal
    (:meth:`null_fit` of each; validation windows or background-only pseudo-datasets) and
    sets ``null_``, the :class:`~resonant_ad.density.null.SpuriousSignal`: the systematic
    of ``w`` and the p-value of ``q0`` measured on them.

    scikit-learn conventions: :meth:`fit` sets ``w_``, ``w_interval_``, ``profile_``,
    ``fold_w_``, ``collapsed_``, ``attempts_``, ``starts_``, ``capture_``,
    ``held_out_nll_`` (the summed held-out ``-log L`` of the chosen fit), ``q0_``,
    ``fit_seconds_``; :meth:`calibrate` sets ``null_``.
    ``fixed_w``: hold ``w`` at that value (R-ANODE ideal with the true ``w``; ANODE with
    ``1``); no interval then. Fits at a grid of ``fixed_w`` compared by ``held_out_nll_``
    give a profile likelihood of ``w`` with ``p_S`` trained afresh at each value. Defaults:
    the authors' signal flow (rational-quadratic spline autoregressive layers, hidden layers
    2 x 64, 8 bins), AdamW with gradient clipping, 5 folds, one start of ``w`` at 0.01, no
    tilt. The settings of a study come from ``[density]``
    (:meth:`~resonant_ad.config.DensityConfig.mixture_params`), which checks them.
    """

    sideband_correction_: dict[str, float] | None = field(default=None, init=False)
    """Set by a study: the diagnostics of the sideband correction of the background density
    the fit was made over (``[density] correction``; ``None``: uncorrected)."""
    null_: SpuriousSignal | None = field(default=None, init=False)
    """Set by :meth:`calibrate`: the spurious signal of the same fit where there is none."""
    profile_: Profile | None = field(default=None, init=False)
    """Set by :meth:`fit`: the scan of ``w`` (``None`` at a fixed ``w``)."""
    capture_: float | None = field(default=None, init=False)
    """Set by :meth:`fit`: with ``capture``, the background-like fraction at ``w_``."""
    seed_: int | None = field(default=None, init=False)
    """Set by :meth:`fit`: the seed of the scan's draws (``capture``'s mass densities)."""

    folds: int = 5
    epochs: int = 40
    batch_size: int = 512
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    n_best: int = 5
    transforms: int = 2
    hidden_features: tuple[int, ...] = (64, 64)
    bins: int = 8
    w_init: float | tuple[float, ...] = 0.01
    w_lr_factor: float = 10.0
    warmup_epochs: int = 5
    restarts: int = 2
    restart_factor: float = 4.0
    profile_points: int = 9
    profile_epochs: int = 0
    tilt: int = 0
    mass_input: bool = True
    capture: bool = False
    capture_samples: int = 20_000
    capture_penalty: float = 1.0
    fixed_w: float | None = None
    random_state: int | None = None
    device: str = "cpu"

    def __post_init__(self) -> None:
        self.hidden_features = tuple(self.hidden_features)

    # ------------------------------------------------------------------ fitting
    def _trainer(self) -> FoldTrainer:
        """The training settings of a fold (the estimator's of the same names)."""
        settings = {f.name: getattr(self, f.name) for f in fields(FoldTrainer) if f.name != "flow"}
        return FoldTrainer(self._flow, **settings)

    @property
    def _starts(self) -> tuple[float, ...]:
        """The start values of ``w`` (``w_init``: one value or several)."""
        w = self.w_init
        return tuple(float(v) for v in w) if isinstance(w, (tuple, list)) else (float(w),)

    def fit(
        self,
        x: np.ndarray,
        m: np.ndarray,
        log_background: np.ndarray,
        signal_region: tuple[float, float],
        reference: tuple[np.ndarray, np.ndarray] | None = None,
        log_mass: np.ndarray | None = None,
    ) -> SignalMixture:
        """Fit on the SR data ``(x, m)`` with ``log_background = log p_B(x | m) + log p(m)``
        of each event; ``signal_region``: its ``(lo, hi)`` (centres the mass input).
        ``reference``: events ``(x, m)`` drawn from the background model in the SR, which
        normalise the background tilt (needed when ``tilt > 0``); ``log_mass``: the ``log
        p(m)`` part of ``log_background`` (needed with ``capture``)."""
        if self.fixed_w is not None and not 0 < self.fixed_w <= 1:
            raise InputError(f"fixed_w = {self.fixed_w}: must be in (0, 1]")
        if not all(0 < w < 1 for w in self._starts):
            raise InputError(f"w_init = {self.w_init}: every start must be in (0, 1)")
        t0 = time.perf_counter()
        seed = (
            int(self.random_state)
            if self.random_state is not None
            else int(np.random.SeedSequence().generate_state(1)[0])
        )
        dm = self._capture_masses(log_mass)
        z, bg, phi, phi_ref = self._prepare(
            x, m, log_background, signal_region, reference, log_mass
        )
        if self.folds < 2 or len(z) < 2 * self.folds:
            raise InputError(f"{len(z)} events for {self.folds} folds: need >= 2 folds of 2")
        rng = np.random.default_rng(seed)
        # the copies of an event (a Poisson-bootstrap replica's) in one fold
        groups = copy_groups(np.asarray(m, dtype=np.float64).reshape(-1), np.asarray(x, float))
        fold_of = fold_assignment(len(z), self.folds, rng, groups)
        self.fold_of_ = fold_of
        fold_seeds = np.random.SeedSequence(seed).generate_state(self.folds)
        self.seed_ = int(fold_seeds[0])
        starts = (float(self.fixed_w),) if self.fixed_w is not None else self._starts
        fits = self._trainer().fit_starts(starts, z, bg, phi, phi_ref, fold_of, fold_seeds)
        best = int(np.argmin([d for _, d in fits]))
        self.folds_ = fits[best][0]
        self.held_out_nll_ = fits[best][1] / 2.0
        self.fold_w_ = [f.w for f in self.folds_]
        self.collapsed_ = [f.collapsed for f in self.folds_]
        self.attempts_ = [sum(f[0][j].attempts for f in fits) for j in range(self.folds)]
        self.starts_: list[dict[str, Any]] = []
        if self.fixed_w is None:
            profiles = [self._profile(f, z, bg, phi, fold_of, self.seed_, dm) for f, _ in fits]
            for (_, deviance), w0, profile in zip(fits, starts, profiles, strict=True):
                self.starts_.append(self._start(w0, profile, deviance - fits[best][1]))
            self._read_scan(best, profiles[best])
        else:
            self.profile_, self.capture_, self.q0_ = None, None, float("nan")
            self.w_, self.w_interval_ = float(self.fixed_w), (float("nan"), float("nan"))
        self.fit_seconds_ = time.perf_counter() - t0
        w, (lo, hi), folds = self.w_, self.w_interval_, [f"{v:.3g}" for v in self.fold_w_]
        log.info(
            "signal mixture: w = %.3g [%.3g, %.3g], folds %s, collapsed %s, %.0f s",
            *(w, lo, hi, folds, self.collapsed_, self.fit_seconds_),
        )
        return self

    def rescan(
        self,
        x: np.ndarray,
        m: np.ndarray,
        log_background: np.ndarray,
        signal_region: tuple[float, float],
        reference: tuple[np.ndarray, np.ndarray] | None = None,
        log_mass: np.ndarray | None = None,
    ) -> SignalMixture:
        """The likelihood scan of the fitted ``p_S`` made again, with the scan's settings of
        now (``capture``, ``profile_points``), on the events of the fit (the arguments of
        :meth:`fit`): ``w_``, its interval, ``q0_`` and ``capture_`` without training
        ``p_S`` again. With several starts, the kept start's scan is redone."""
        self._check_fitted()
        if self.fixed_w is not None:
            raise InputError("a fit at fixed w has no scan")
        dm = self._capture_masses(log_mass)
        z, bg, phi, _ = self._prepare(x, m, log_background, signal_region, reference, log_mass)
        if len(z) != len(self.fold_of_):
            raise InputError(f"{len(z)} events: the fit was made on {len(self.fold_of_)}")
        seed = self.seed_
        if seed is None:  # stored before the seed was kept: the fit's own
            seed = int(np.random.SeedSequence(self.random_state).generate_state(self.folds)[0])
        best = int(np.argmin([s["deviance"] for s in self.starts_]))
        profile = self._profile(self.folds_, z, bg, phi, self.fold_of_, seed, dm)
        self.starts_[best] = self._start(self.starts_[best]["w_init"], profile, 0.0)
        self._read_scan(best, profile)
        return self

    def _start(self, w0: float, profile: Profile, deviance: float) -> dict[str, Any]:
        """What a start of ``w`` at ``w0`` ended at: its scan's maximum and interval, its
        held-out ``-2 log L`` above the best start's (``deviance``)."""
        w_hat, w_interval = interval(profile)
        out = {"w_init": w0, "w": w_hat, "interval": w_interval, "deviance": deviance}
        if profile.exact is not None:
            out["capture"] = profile.exact[3]
        return out

    def _read_scan(self, best: int, profile: Profile) -> None:
        """``profile_`` (the kept start's scan), ``q0_``, ``w_``, ``capture_`` and ``w_``'s
        interval (spanning every start within 1 of the best) from ``starts_``."""
        self.profile_ = profile
        self.q0_ = profile.q0
        self.w_ = self.starts_[best]["w"]
        self.capture_ = self.starts_[best].get("capture")
        close = [s for s in self.starts_ if s["deviance"] <= 1.0]
        self.w_interval_ = (
            min(s["interval"][0] for s in close),
            max(s["interval"][1] for s in close),
        )

    def _capture_masses(self, log_mass: np.ndarray | None) -> np.ndarray | None:
        """With ``capture``: the events' ``log p(m)``, which it needs (``None`` without)."""
        if not self.capture:
            return None
        if not self.mass_input:
            raise InputError(
                "capture needs a p_S over (x, m): over x alone the signal's mass density is the "
                "background's p(m)"
            )
        if log_mass is None:
            raise InputError(
                "capture needs log_mass (log p(m) of each event, the background's mass "
                "density in log_background)"
            )
        return np.asarray(log_mass, dtype=np.float64)

    # ------------------------------------------------------------------ the signal fraction
    def _profile(
        self,
        folds: list[Fold],
        z: Tensor,
        bg: Tensor,
        phi: Tensor | None,
        fold_of: np.ndarray,
        seed: int,
        log_mass: np.ndarray | None = None,
    ) -> Profile:
        """The likelihood scan over ``w`` of the fitted ``folds`` (each on its held-out events,
        with its own background tilt); with ``log_mass`` (``capture``), the scan profiled
        over the background-like fraction of the signal."""
        held = [torch.as_tensor(fold_of == j) for j in range(self.folds)]
        flow = self._flow
        log_s = [flow.log_prob(f.states, z[h]).double() for f, h in zip(folds, held, strict=True)]
        bgs = [
            (bg[h] + f.tilt_correction(None if phi is None else phi[h])).double()
            for f, h in zip(folds, held, strict=True)
        ]
        if log_mass is not None:
            return capture_scan(
                np.concatenate([v.numpy() for v in log_s]),
                np.concatenate([v.numpy() for v in bgs]),
                self._mass_excess(folds, z, held, log_mass, self.capture_samples, seed),
                self.profile_points,
                self.capture_penalty,
            )
        if self.profile_epochs == 0:
            return scan(log_s, bgs, self.profile_points)
        trainer = self._trainer()

        def refit(w: float) -> float:
            """The held-out log-likelihood summed over folds, each refitted at ``w``."""
            return sum(
                trainer.refit_at(w, f, z, bg + f.tilt_correction(phi), h, seed, seed + j)
                for j, (f, h) in enumerate(zip(folds, held, strict=True))
            )

        return scan(log_s, bgs, self.profile_points, refit)

    def null_fit(self, label: str) -> NullFit:
        """This fit's ``w``, interval and ``q0`` as a null fit (made where there is no
        signal), named ``label``; with several starts, where each ended; with ``capture``,
        the background-like fraction."""
        self._check_fitted()
        lo, hi = self.w_interval_
        starts = tuple(
            (float(s["w_init"]), float(s["w"]), float(s["deviance"])) for s in self.starts_
        )
        return NullFit(
            label,
            float(self.w_),
            (float(lo), float(hi)),
            float(self.q0_),
            starts if len(starts) > 1 else (),
            None if self.capture_ is None else float(self.capture_),
            self._null_without_capture(label),
            float(self.held_out_nll_),
        )

    def _null_without_capture(self, label: str) -> NullFit | None:
        plain = self.without_capture
        if plain is None:
            return None
        return NullFit(label, plain["w"], tuple(plain["interval"]), plain["q0"])

    @property
    def without_capture(self) -> dict[str, Any] | None:
        """With ``capture``: ``w``, its interval and ``q0`` of the same scan with no
        background-like signal (``a = 0``; the fit without ``capture``, from the same
        ``p_S``), and ``capture_gain``, what profiling over the background-like fraction
        adds to the held-out ``2 log L``."""
        profile = self.profile_
        if profile is None or profile.plain is None:
            return None
        w, lo, hi, q0 = profile.plain
        return {"w": w, "interval": [lo, hi], "q0": q0, "capture_gain": profile.capture_gain}

    def calibrate(self, nulls: list[NullFit]) -> SignalMixture:
        """Set ``null_`` from the null fits ``nulls`` (the same settings, where there is no
        signal): the spurious signal that sets ``w``'s systematic and ``q0``'s p-value."""
        self._check_fitted()
        if self.fixed_w is not None:
            raise InputError("a fit at fixed w has no interval to calibrate")
        self.null_ = SpuriousSignal(tuple(nulls))
        return self

    def summary(self) -> dict[str, Any]:
        """The fit's numbers as plain Python (for reports)."""
        self._check_fitted()
        out: dict[str, Any] = {
            "w": self.w_,
            "w_interval": list(self.w_interval_),
            "q0": self.q0_,
            "p_value_wilks": wilks_p_value(self.q0_) if self.fixed_w is None else float("nan"),
            "fold_w": list(self.fold_w_),
            "collapsed": list(self.collapsed_),
            "attempts": list(self.attempts_),
            "fit_seconds": self.fit_seconds_,
            "held_out_nll": self.held_out_nll_,
            "starts": [{**s, "interval": list(s["interval"])} for s in self.starts_],
        }
        if not self.mass_input:
            out["signal_inputs"] = "x"
        if self.tilt > 0:
            out["tilt"] = {
                "degree": self.tilt,
                "fold_beta": [
                    [] if f.beta is None else [float(b) for b in f.beta] for f in self.folds_
                ],
            }
        if self.capture:
            out["capture"] = self.capture_
            out["without_capture"] = self.without_capture
        if self.null_ is not None:
            out["null"] = self.null_.summary(self.w_, self.w_interval_, self.q0_)
        if self.profile_ is not None:
            out["profile"] = {
                "w": list(self.profile_.w),
                "deviance": list(self.profile_.deviance),
                "conditional": list(self.profile_.conditional),
            }
        return out
