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
from resonant_ad.density.tilt import fit_tilt
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
    under that fold's ``p_S``), with every ``p_S`` held at its fitted shape, or with
    ``profile_epochs > 0`` refitted at each ``w`` for that many epochs; the interval is
    where ``-2 Delta log L = 1`` on a parabola fitted to the scan. With ``tilt = d > 0`` the
    background is ``p_B`` tilted by ``exp(beta . phi)``, ``phi`` the monomials of degree 1
    to ``d`` of the standardised ``(x, m)``, normalised on a ``reference`` sample of the
    background model; ``beta`` starts at the tilt fitted alone and is trained with ``p_S``
    and ``w`` (with ``w`` fixed at 1 the tilt fitted alone is kept). The score uses the
    tilted ``p_B``. With ``capture`` (which needs ``log_mass`` in :meth:`fit`) ``w`` is
    profiled over the fraction of the signal distributed like the background in ``x`` with
    ``p_S``'s mass density (a KDE of ``capture_samples`` of its masses per fold), and the
    interval found on that profile (``profile_epochs`` does not apply).

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
        x = np.asarray(x, dtype=np.float64)
        m = np.asarray(m, dtype=np.float64).reshape(-1)
        log_bg = np.asarray(log_background, dtype=np.float64).reshape(-1)
        if x.ndim != 2 or len(x) != len(m) or len(m) != len(log_bg):
            raise InputError("x, m and log_background must describe the same events")
        if not np.all(np.isfinite(log_bg)):
            raise InputError("log_background has non-finite values")
        if self.folds < 2 or len(m) < 2 * self.folds:
            raise InputError(f"{len(m)} events for {self.folds} folds: need >= 2 folds of 2")
        if self.fixed_w is not None and not 0 < self.fixed_w <= 1:
            raise InputError(f"fixed_w = {self.fixed_w}: must be in (0, 1]")
        if not all(0 < w < 1 for w in self._starts):
            raise InputError(f"w_init = {self.w_init}: every start must be in (0, 1)")
        if self.capture and not self.mass_input:
            raise InputError(
                "capture needs a p_S over (x, m): over x alone the signal's mass density is the "
                "background's p(m)"
            )
        if self.capture and log_mass is None:
            raise InputError(
                "capture needs log_mass (log p(m) of each event, the background's mass "
                "density in log_background)"
            )
        if log_mass is not None and np.shape(log_mass) != m.shape:
            raise InputError("log_mass must hold one value per event")
        if self.tilt > 0 and reference is None:
            raise InputError(f"tilt = {self.tilt} needs a reference sample of the background")
        t0 = time.perf_counter()
        seed = (
            int(self.random_state)
            if self.random_state is not None
            else int(np.random.SeedSequence().generate_state(1)[0])
        )
        phi_ref = self._standardise(x, signal_region, reference)
        z = self._to_z(x, m)
        # log p_B in the flow's inputs z: over x alone, p(m) (a factor of both terms) leaves
        log_bg = log_bg - self._mass_term(log_mass, len(m))
        bg = torch.as_tensor(log_bg - self._log_jacobian, dtype=torch.float32)
        phi = None if phi_ref is None else self._phi(z)
        z = self._signal_inputs(z)  # the tilt sees (x, m) whatever the flow sees
        rng = np.random.default_rng(seed)
        # the copies of an event (a Poisson-bootstrap replica's) in one fold
        fold_of = fold_assignment(len(m), self.folds, rng, copy_groups(m, x))
        self.fold_of_ = fold_of
        fold_seeds = np.random.SeedSequence(seed).generate_state(self.folds)
        starts = (float(self.fixed_w),) if self.fixed_w is not None else self._starts
        fits = self._fit_starts(starts, z, bg, phi, phi_ref, fold_of, fold_seeds)
        best = int(np.argmin([d for _, d in fits]))
        self.folds_ = fits[best][0]
        self.held_out_nll_ = fits[best][1] / 2.0
        self.fold_w_ = [f.w for f in self.folds_]
        self.collapsed_ = [f.collapsed for f in self.folds_]
        self.attempts_ = [sum(f[0][j].attempts for f in fits) for j in range(self.folds)]
        self.starts_: list[dict[str, Any]] = []
        self.profile_: Profile | None = None
        self.capture_: float | None = None
        self.q0_ = float("nan")
        if self.fixed_w is None:
            dm = None if not self.capture or log_mass is None else np.asarray(log_mass, float)
            profiles = []
            for (folds, deviance), w0 in zip(fits, starts, strict=True):
                profiles.append(self._profile(folds, z, bg, phi, fold_of, int(fold_seeds[0]), dm))
                w_hat, w_interval = interval(profiles[-1])
                delta = deviance - fits[best][1]
                self.starts_.append(
                    {"w_init": w0, "w": w_hat, "interval": w_interval, "deviance": delta}
                )
                if self.capture:
                    assert profiles[-1].exact is not None
                    self.starts_[-1]["capture"] = profiles[-1].exact[3]
            self.profile_ = profiles[best]
            self.q0_ = profiles[best].q0
            self.w_ = self.starts_[best]["w"]
            self.capture_ = self.starts_[best].get("capture")
            close = [s for s in self.starts_ if s["deviance"] <= 1.0]
            self.w_interval_ = (
                min(s["interval"][0] for s in close),
                max(s["interval"][1] for s in close),
            )
        else:
            self.w_, self.w_interval_ = float(self.fixed_w), (float("nan"), float("nan"))
        self.fit_seconds_ = time.perf_counter() - t0
        log.info(
            "signal mixture: w = %.3g [%.3g, %.3g], folds %s, collapsed %s, %.0f s",
            self.w_,
            *self.w_interval_,
            [f"{w:.3g}" for w in self.fold_w_],
            self.collapsed_,
            self.fit_seconds_,
        )
        return self

    def _fit_starts(
        self,
        starts: tuple[float, ...],
        z: Tensor,
        bg: Tensor,
        phi: Tensor | None,
        phi_ref: Tensor | None,
        fold_of: np.ndarray,
        fold_seeds: np.ndarray,
    ) -> list[tuple[list[Fold], float]]:
        """Every fold fitted from each start of ``w``: per start, the folds and their
        held-out ``-2 log L``."""
        # each fold's tilt fitted alone (the start of its tilt, whatever the start of w)
        tilts: list[tuple[Tensor, Tensor] | None] = [
            None
            if phi is None or phi_ref is None
            else (phi_ref, fit_tilt(phi[fold_of != j], phi_ref))
            for j in range(self.folds)
        ]
        n_held = np.bincount(fold_of, minlength=self.folds)
        trainer = self._trainer()
        fits = []
        for k, w0 in enumerate(starts):
            folds = []
            for j in range(self.folds):
                held = fold_of == j
                fold_seed = int(fold_seeds[j]) + k * (1 + self.restarts)
                train_phi = None if phi is None else phi[~held]
                val_phi = None if phi is None else phi[held]
                folds.append(
                    trainer.fit(
                        (z[~held], bg[~held], train_phi),
                        (z[held], bg[held], val_phi),
                        fold_seed,
                        w0,
                        tilts[j],
                    )
                )
            # held-out -2 log L (the scores are mean NLLs of each fold's held-out events)
            deviance = 2.0 * float(sum(f.score * n for f, n in zip(folds, n_held, strict=True)))
            fits.append((folds, deviance))
        return fits

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
        )

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
        if self.null_ is not None:
            out["null"] = self.null_.summary(self.w_, self.w_interval_, self.q0_)
        if self.profile_ is not None:
            out["profile"] = {
                "w": list(self.profile_.w),
                "deviance": list(self.profile_.deviance),
                "conditional": list(self.profile_.conditional),
            }
        return out
