"""R-ANODE: the signal density and the signal fraction, learned from the SR data over a fixed
background density (Das, Kasieczka, Shih, arXiv:2312.11629).

In a signal region the data are a mixture

.. math:: p_{data}(x, m) = w\\, p_S(x, m) + (1 - w)\\, p_B(x | m)\\, p(m)

with the background density ``p_B(x | m) p(m)`` known (SIGMA's interpolated ``v_data`` or a
sideband model; ``p(m)`` from a fit of the sidebands,
:class:`~resonant_ad.data.spectrum.SidebandMassDensity`, or from the SR masses,
:class:`~resonant_ad.data.spectrum.MassDensity`) and held fixed.
:class:`SignalMixture` learns a normalizing flow ``p_S`` over ``(x, m)`` and ``w`` by
maximum likelihood; its anomaly score is ``log p_S - log p_B - log p(m)``. With ``w`` fixed
at 1 it is ANODE (arXiv:2001.04990): ``p_S`` is then the density of all SR data.

The SR data are split into ``folds``; each fold's model trains on the others and selects its
epochs on its own fold, and the ``n_best`` epochs of each fold are averaged (a mixture of
their densities). Scores and samples use every fold's model.

**A collapsing w.** Started from a small ``w``, the gradient on ``p_S`` is small and ``w``
can run to 1e-6..1e-9 before ``p_S`` has learnt anything (the published study removed such
fits by hand). Here: (1) ``w`` is held at its start value for ``warmup_epochs`` so that
``p_S`` first learns where the data exceed the background; (2) a fold whose fitted ``w``
ends below one signal event (``w < 1 / n_train``) is *collapsed* and is refitted from a
start value ``restart_factor`` times larger, up to ``restarts`` times; (3) among a fold's
attempts the one with the best held-out likelihood that did not collapse is kept (if all
collapsed, the best one, flagged in ``collapsed_``).

**Where w starts.** The fit stays near its start: ``p_S`` can take in more or less of the
events near the background and ``w`` follows. ``w_init`` may name several starts: the
whole fit (every fold, then the scan) is made from each; ``w_`` and the model are those of
the start with the best held-out likelihood (summed over folds), and ``w_interval_`` spans
the 68% intervals of every start whose held-out ``-2 log L`` is within 1 of the best.
``starts_`` lists each start's ``w``, interval and held-out ``-2 Delta log L``. On the
Pythia dev sample with starts 0.01 and 0.05 and the linear tilt (three injections per
N_sig, ``benchmarks/bench_ranode_starts.py``), over SIGMA's ``sigma-context`` background
the start at 0.05 ended at w = 0.023-0.031 whatever the truth (0 with no signal,
0.0084-0.0087 at N_sig = 300, 0.028-0.029 at 1000), the one at 0.01 at 0.004-0.007,
0.008 and 0.019, and with no signal the held-out likelihood preferred the start at 0.05 by
36-77 units of ``-2 log L`` (over ``sigma-poly`` and ``sigma-linear`` too, and with a
quadratic tilt). Over the same flow-matching model trained on the true SR background with
the 50k extra SR events it preferred the start at 0.01 in all six fits at N_sig = 0 and
300, but with as many SR events as the data (28,515) the start at 0.05 in all three null
SRs (w = 0.031-0.036; the mean density of three such models trained with other seeds:
0.037-0.045). Fits at fixed ``w`` with ``p_S`` trained afresh at each
(``bench_ranode_profile.py``, one injection) agree: with no signal the held-out likelihood
is highest at w = 0.03 over ``sigma-context`` and at the grid's lowest, 0.005, over the
50k-event model; at N_sig = 1000 (true 0.028) at 0.020 and 0.025. So the background
model's misfit, not the fit, puts the likelihood's maximum away from the true ``w``, and
it is the misfit of a model learnt from as few SR events as the data hold, interpolated or
not. Corrected by the ratio of data to ``v_data`` learnt in the sidebands
(:mod:`~resonant_ad.detect.correction`), the null SR's maximum moves to w = 0.01 (0.005
within 1 unit) but the one at N_sig = 1000 stays at 0.020. One start, at 0.01, is the
default (a local maximum that is near the truth at low N_sig); several are a check of how
much the fitted ``w`` depends on where it starts.

**The background's tilt.** ``p_B`` interpolated into the SR is not exact, and a flexible
``p_S`` takes in its misfit: on the Pythia dev sample with no signal injected the fit still
found w = 0.031 (start 0.05) or 0.012 (start 0.01). With ``tilt = d > 0`` the background is
``p_B(x | m) exp(beta . phi(z)) / Z(beta)``, ``phi`` the monomials of degree 1..d of the
standardised ``(x, m)`` and ``Z(beta) = E_{p_B}[exp(beta . phi)]`` estimated on a
``reference`` sample drawn from the background model in the SR. ``beta`` is a nuisance of
each fold: started at the fit of the tilt alone (a convex problem) and then trained with
``p_S`` and ``w`` (no weight decay). A smooth misfit goes into the tilt, which cannot make
a narrow bump, and ``p_S`` is left with what the tilt cannot explain. The score uses the
tilted ``p_B``. With ``w`` fixed at 1 (ANODE) the background is not in the likelihood and
the tilt fitted alone is used for the score. Measured on that null SR (one injection, start
0.01): w = 0.0042 with a linear tilt, 0.0048 with a quadratic one, and the held-out
``-2 log L`` of an SR with N_sig = 1000 fell by about 200 with the linear tilt (w there
unchanged, 0.0186 against 0.0191, for a true 0.028). The tilt is a nuisance that can also
take in signal: a quadratic one can shape a broad bump, and on the toy sample with a loud,
well separated signal (w = 0.23) the linear tilt fitted alone took in a third of it. The
linear tilt (``[density] tilt = 1``) is the study default.

**What w measures.** ``w_`` counts the signal that ``p_S`` tells from the background, and
some background. On the Pythia dev sample at N_sig = 1000 (three injections,
``benchmarks/bench_ranode_capture.py``) the posterior ``w p_S / p_data`` of the injected
signal events averages 0.58-0.63, with SIGMA's interpolated ``p_B`` and with the same model
trained on the true SR background alike; the 217-264 of about 830 signal events it misses
(posterior < 0.1) look like the background (median ``mJ2 - mJ1`` 0.15-0.17 TeV against 0.39
for the events found and 0.12 for the background; tau21 about 0.48 against 0.23). The
fitted ``w`` is 0.66-0.70 of the truth, over either background, and 0.004-0.007 with no
signal. A ``p_S`` trained on pure signal finds 0.88-0.94 of it
(``bench_ranode_oracle.py``): the signal the mixture leaves out is there in shape but not
learnable from the mixture at this size.

**The background-like signal (``capture``).** What ``p_S`` cannot tell from the background
in ``x`` is still a resonance: a bump in ``m`` over the background's ``p(m)``, if ``p(m)``
does not already hold it (so it must come from the sidebands, not from the SR data). With
``capture`` the held-out likelihood of the scan is

.. math:: w (1 - a)\\, p_S + (1 - w)\\, p_B(x | m)\\, p(m) + w\\, a\\, p_B(x | m)\\, g(m)

with ``g`` the mass shape of ``p_S`` (a KDE of each fold's own samples), and ``a``, the
fraction of the signal that is distributed like the background, profiled at every ``w``
(``fit`` then needs ``log_mass``, the ``log p(m)`` in ``log_background``). ``p_S`` and its
training are unchanged; ``w_``, ``w_interval_`` (root finding on the profile, no parabola)
and ``capture_`` (``a`` at ``w_``) come from this likelihood, whose width now includes
what the mass alone can say about the background-like part. On the Pythia dev sample
(``bench_ranode_starts.py --correction sidebands --mass sidebands --capture``, three
injections each) at N_sig = 1000 ``w`` is 0.0276, 0.0275, 0.0284 for a true 0.0281-0.0287
(``a`` 0.26-0.28, the third of the signal ``bench_ranode_capture.py`` found missed), every
68% interval (about +-0.005) covering the truth, where without ``capture`` it was 0.020
+-0.001. At N_sig = 300 it is 0.0155-0.0179 for 0.0084-0.0087 (``a`` 0.24-0.43; no
interval covers, the lower ends 0.009-0.011): there the background's misfit that ``p_S``
takes in with no signal at all (``w`` 0.0064-0.0079, ``a`` 0) adds to the signal.

**The signal fraction and its interval.** ``w_`` is the maximum of a *cross-fitted
likelihood scan*: for each ``w`` on a grid, the likelihood of each fold's held-out events
under that fold's ``p_S`` at that fixed ``w`` is summed over folds, so every event is
evaluated by a model that did not train on it. A parabola fitted to ``-2 log L`` over the
grid gives ``w_`` and the 68% interval ``w_interval_`` (``-2 Delta log L = 1``; with
``capture``, the profile's own crossings). By default
(``profile_epochs = 0``) the ``p_S`` shapes are held at their fitted state (the conditional
likelihood). With ``profile_epochs > 0`` each fold's ``p_S`` is refitted at every grid
``w`` for that many epochs (the profile likelihood, wider); on the Pythia dev sample two
refit epochs moved ``-2 log L`` by tens of units from one grid point to the next and once
put ``w_`` at 0 where the conditional curve was smooth, hence the default.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from resonant_ad.data.spectrum import MassDensity
from resonant_ad.errors import InputError
from resonant_ad.training import Member, TrainingConfig, train

__all__ = ["Profile", "SignalMixture"]

log = logging.getLogger(__name__)


def _signal_flow(features: int, transforms: int, hidden: tuple[int, ...], bins: int) -> nn.Module:
    import zuko

    return zuko.flows.NSF(
        features, 0, bins=bins, transforms=transforms, hidden_features=tuple(hidden)
    )


def _logit(w: float) -> float:
    return math.log(w) - math.log1p(-w)


def tilt_features(z: Tensor, degree: int) -> Tensor:
    """The monomials of ``z``'s columns of degree 1 to ``degree`` (no constant), e.g. for
    degree 2: every ``z_i`` and every ``z_i z_j`` with ``i <= j``.

    >>> tilt_features(torch.tensor([[1.0, 2.0]]), 2).tolist()
    [[1.0, 2.0, 1.0, 2.0, 4.0]]
    """
    from itertools import combinations_with_replacement

    cols = [
        torch.prod(z[:, list(idx)], dim=1)
        for d in range(1, degree + 1)
        for idx in combinations_with_replacement(range(z.shape[1]), d)
    ]
    return torch.stack(cols, dim=1)


class _Tilt(nn.Module):
    """An exponential tilt of the background density, ``log p_B + beta . phi(z) - log Z``
    with ``Z = E_{p_B}[exp(beta . phi)]`` estimated on a sample of ``p_B`` (``phi_ref``,
    not saved with the model: each fitted fold keeps its ``log Z`` instead)."""

    phi_ref: Tensor

    def __init__(self, phi_ref: Tensor, beta: Tensor | None = None) -> None:
        super().__init__()
        self.register_buffer("phi_ref", phi_ref, persistent=False)
        init = torch.zeros(phi_ref.shape[1]) if beta is None else beta.clone()
        self.beta = nn.Parameter(init.to(phi_ref.dtype))

    def log_norm(self) -> Tensor:
        t = self.phi_ref @ self.beta
        return torch.logsumexp(t, dim=0) - math.log(len(t))

    def forward(self, phi: Tensor) -> Tensor:
        return phi @ self.beta - self.log_norm()


def _fit_tilt(phi: Tensor, phi_ref: Tensor, ridge: float = 1e-3) -> Tensor:
    """``beta`` of the tilt alone (no signal): the maximum of ``mean(beta . phi) - log Z``
    over the data, a convex problem (a log-linear family), solved by L-BFGS."""
    tilt = _Tilt(phi_ref.double())
    data = phi.double()
    opt = torch.optim.LBFGS(
        tilt.parameters(), lr=1.0, max_iter=200, tolerance_grad=1e-9, line_search_fn="strong_wolfe"
    )

    def closure() -> Tensor:
        opt.zero_grad()
        loss = -tilt(data).mean() + ridge * tilt.beta.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return tilt.beta.detach().float()


class _Mixture(nn.Module):
    """``log[w p_S(z) + (1 - w) p_bg]`` for a flow ``p_S`` and ``w = sigmoid(theta)``; with
    a tilt, ``log p_bg`` gains ``beta . phi(z) - log E_ref[exp(beta . phi)]``."""

    def __init__(
        self,
        flow: nn.Module,
        w: float,
        fixed: bool,
        w_lr_factor: float,
        tilt: _Tilt | None = None,
    ) -> None:
        super().__init__()
        self.flow = flow
        self.fixed = fixed
        self.w_lr_factor = w_lr_factor
        self.tilt = tilt
        if fixed:
            self.register_buffer("theta", torch.tensor(_logit(min(w, 0.5)), dtype=torch.float32))
            self.w_fixed = float(w)
        else:
            self.theta = nn.Parameter(torch.tensor(_logit(w), dtype=torch.float32))
            self.w_fixed = float("nan")

    def log_w(self) -> tuple[Tensor, Tensor]:
        """``(log w, log(1 - w))``."""
        if self.fixed:
            w = self.w_fixed
            log_1mw = math.log1p(-w) if w < 1 else -math.inf
            return self.theta.new_tensor(math.log(w)), self.theta.new_tensor(log_1mw)
        return nn.functional.logsigmoid(self.theta), nn.functional.logsigmoid(-self.theta)

    def w(self) -> float:
        return self.w_fixed if self.fixed else float(torch.sigmoid(self.theta.detach()))

    def log_signal(self, z: Tensor) -> Tensor:
        return self.flow().log_prob(z)

    def forward(self, z: Tensor, log_bg: Tensor, phi: Tensor | None = None) -> Tensor:
        log_w, log_1mw = self.log_w()
        if self.tilt is not None and phi is not None:
            log_bg = log_bg + self.tilt(phi)
        return torch.logaddexp(log_w + self.log_signal(z), log_1mw + log_bg)

    def parameter_groups(self, learning_rate: float, weight_decay: float) -> list[dict[str, Any]]:
        """The flow with weight decay; ``theta`` without (decay would pull w to 1/2) and
        with a larger step (one scalar that has to travel several units)."""
        groups: list[dict[str, Any]] = [{"params": list(self.flow.parameters())}]
        if self.tilt is not None:  # a handful of nuisance parameters: no decay
            groups.append({"params": list(self.tilt.parameters()), "weight_decay": 0.0})
        if not self.fixed:
            groups.append(
                {
                    "params": [self.theta],
                    "weight_decay": 0.0,
                    "lr": learning_rate * self.w_lr_factor,
                }
            )
        return groups


@dataclass
class _Fold:
    """One fold's fitted signal model."""

    states: list[dict[str, Tensor]]
    w: float
    score: float
    collapsed: bool
    attempts: int
    epochs: int
    beta: Tensor | None = None
    """The background tilt's coefficients (mean over the kept epochs; ``None``: no tilt)."""
    log_norm: float = 0.0
    """Its ``log Z`` on the reference sample."""


@dataclass(frozen=True)
class Profile:
    """``-2 log L`` of the SR data at fixed ``w`` values (lower is better)."""

    w: tuple[float, ...]
    deviance: tuple[float, ...]
    """``-2 (log L(w) - max log L)`` at each grid value."""
    conditional: tuple[float, ...]
    """The same with every ``p_S`` held at its fitted shape (and, with ``capture``, no
    background-like signal)."""
    capture: tuple[float, ...] = ()
    """With ``capture``: the fraction of the signal that is background-like, profiled at
    each grid value."""
    exact: tuple[float, float, float, float] | None = None
    """With ``capture``: ``(w, lo, hi, a)``, the maximum, the 68% interval found by root
    finding on the profile itself (no parabola), and the background-like fraction at the
    maximum."""


class SignalMixture:
    """R-ANODE's fit of ``p_S`` and ``w`` over a fixed background (see the module docstring).

    scikit-learn conventions: :meth:`fit` sets ``w_``, ``w_interval_``, ``profile_``,
    ``fold_w_``, ``collapsed_``, ``attempts_``, ``starts_``, ``held_out_nll_`` (the summed
    held-out ``-log L`` of the chosen fit), ``fit_seconds_``. ``fixed_w``: hold ``w`` at that
    value (R-ANODE ideal with the true ``w``; ANODE with ``1``); no interval then. Fits at a
    grid of ``fixed_w`` compared by ``held_out_nll_`` give a profile likelihood of ``w``
    with ``p_S`` trained afresh at each value. Defaults: the authors' signal flow
    (rational-quadratic spline autoregressive layers, hidden layers 2 x 64, 8 bins), AdamW
    with gradient clipping, 5 folds, one start of ``w`` at 0.01, no tilt of the background
    (``[density] tilt`` of a study sets one).
    """

    sideband_correction_: dict[str, float] | None = None
    """Set by a study: the diagnostics of the sideband correction of the background density
    the fit was made over (``[density] correction``; ``None``: uncorrected)."""

    def __init__(
        self,
        *,
        folds: int = 5,
        epochs: int = 40,
        batch_size: int = 512,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        grad_clip: float = 1.0,
        n_best: int = 5,
        transforms: int = 2,
        hidden_features: tuple[int, ...] = (64, 64),
        bins: int = 8,
        w_init: float | tuple[float, ...] = 0.01,
        w_lr_factor: float = 10.0,
        warmup_epochs: int = 5,
        restarts: int = 2,
        restart_factor: float = 4.0,
        profile_points: int = 9,
        profile_epochs: int = 0,
        tilt: int = 0,
        capture: bool = False,
        capture_samples: int = 20_000,
        fixed_w: float | None = None,
        random_state: int | None = None,
        device: str = "cpu",
    ) -> None:
        self.folds = folds
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.n_best = n_best
        self.transforms = transforms
        self.hidden_features = tuple(hidden_features)
        self.bins = bins
        self.w_init = w_init
        self.w_lr_factor = w_lr_factor
        self.warmup_epochs = warmup_epochs
        self.restarts = restarts
        self.restart_factor = restart_factor
        self.profile_points = profile_points
        self.profile_epochs = profile_epochs
        self.tilt = tilt
        self.capture = capture
        self.capture_samples = capture_samples
        self.fixed_w = fixed_w
        self.random_state = random_state
        self.device = device

    # ------------------------------------------------------------------ preprocessing
    def _to_z(self, x: np.ndarray, m: np.ndarray) -> Tensor:
        z = np.column_stack(
            ((x - self.x_mean_) / self.x_scale_, (m - self.m_centre_) / self.m_scale_)
        )
        return torch.as_tensor(z, dtype=torch.float32)

    @property
    def _log_jacobian(self) -> float:
        """``log |dz / d(x, m)|``: added to a density in z to get it in (x, m)."""
        return -float(np.log(self.x_scale_).sum() + np.log(self.m_scale_))

    def _new_module(self, w: float, fixed: bool, seed: int, tilt: _Tilt | None = None) -> _Mixture:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            flow = _signal_flow(
                self.n_features_in_ + 1, self.transforms, self.hidden_features, self.bins
            )
        return _Mixture(flow, w, fixed, self.w_lr_factor, tilt)

    def _phi(self, z: Tensor) -> Tensor:
        """The tilt's features of ``z``, scaled as on the reference sample."""
        return (tilt_features(z, self.tilt) - self.phi_mean_) / self.phi_scale_

    def _correction(self, fold: _Fold, phi: Tensor | None) -> Tensor | float:
        """The tilt's ``beta . phi - log Z`` of ``fold`` (0 without a tilt)."""
        if fold.beta is None or phi is None:
            return 0.0
        return phi @ fold.beta - fold.log_norm

    def _config(self, epochs: int, validate_after: int, n_best: int) -> TrainingConfig:
        return TrainingConfig(
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            max_epochs=epochs,
            plateau_patience=epochs + 1,
            early_stopping_patience=epochs + 1,
            n_best=n_best,
            validate_after=validate_after,
            grad_clip=self.grad_clip,
        )

    # ------------------------------------------------------------------ fitting
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
        normalise the background tilt (needed when ``tilt > 0``)."""
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
        if self.capture and (log_mass is None or self.profile_epochs > 0):
            raise InputError(
                "capture needs log_mass (log p(m) of each event, the background's mass "
                "density in log_background) and profile_epochs = 0"
            )
        if log_mass is not None and np.shape(log_mass) != m.shape:
            raise InputError("log_mass must hold one value per event")
        if self.tilt < 0 or (self.tilt > 0 and reference is None):
            raise InputError(
                f"tilt = {self.tilt}: a degree >= 0, and a tilt needs a reference sample of "
                "the background model"
            )
        t0 = time.perf_counter()
        seed = (
            int(self.random_state)
            if self.random_state is not None
            else int(np.random.SeedSequence().generate_state(1)[0])
        )
        lo, hi = signal_region
        self.n_features_in_ = x.shape[1]
        self.x_mean_ = x.mean(axis=0)
        self.x_scale_ = np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
        self.m_centre_, self.m_scale_ = 0.5 * (lo + hi), 0.5 * (hi - lo)
        self.signal_region_ = (float(lo), float(hi))
        z = self._to_z(x, m)
        bg = torch.as_tensor(log_bg - self._log_jacobian, dtype=torch.float32)  # density in z
        phi: Tensor | None = None
        phi_ref: Tensor | None = None
        if self.tilt > 0 and reference is not None:
            raw = tilt_features(
                self._to_z(*(np.asarray(a, dtype=np.float64) for a in reference)), self.tilt
            )
            self.phi_mean_, self.phi_scale_ = raw.mean(0), raw.std(0).clamp_min(1e-6)
            phi_ref = (raw - self.phi_mean_) / self.phi_scale_
            phi = self._phi(z)
        rng = np.random.default_rng(seed)
        fold_of = rng.permutation(np.arange(len(m)) % self.folds)
        self.fold_of_ = fold_of
        # each fold's tilt fitted alone (the start of its tilt, whatever the start of w)
        tilts: list[tuple[Tensor, Tensor] | None] = [
            None
            if phi is None or phi_ref is None
            else (phi_ref, _fit_tilt(phi[fold_of != j], phi_ref))
            for j in range(self.folds)
        ]
        fold_seeds = np.random.SeedSequence(seed).generate_state(self.folds)
        n_held = np.bincount(fold_of, minlength=self.folds)
        starts = (float(self.fixed_w),) if self.fixed_w is not None else self._starts
        fits = []
        for k, w0 in enumerate(starts):
            folds = []
            for j in range(self.folds):
                held = fold_of == j
                fold_seed = int(fold_seeds[j]) + k * (1 + self.restarts)
                train_phi = None if phi is None else phi[~held]
                val_phi = None if phi is None else phi[held]
                folds.append(
                    self._fit_fold(
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
        best = int(np.argmin([d for _, d in fits]))
        self.folds_: list[_Fold] = fits[best][0]
        self.held_out_nll_ = fits[best][1] / 2.0
        self.fold_w_ = [f.w for f in self.folds_]
        self.collapsed_ = [f.collapsed for f in self.folds_]
        self.attempts_ = [sum(f[0][j].attempts for f in fits) for j in range(self.folds)]
        self.starts_: list[dict[str, Any]] = []
        if self.fixed_w is None:
            seed0 = int(fold_seeds[0])
            dm = None if not self.capture or log_mass is None else np.asarray(log_mass, float)
            profiles = [self._profile(folds, z, bg, phi, fold_of, seed0, dm) for folds, _ in fits]
            for (_, deviance), w0, profile in zip(fits, starts, profiles, strict=True):
                w_hat, interval = _interval(profile)
                delta = deviance - fits[best][1]
                self.starts_.append(
                    {"w_init": w0, "w": w_hat, "interval": interval, "deviance": delta}
                )
                if self.capture:
                    assert profile.exact is not None
                    self.starts_[-1]["capture"] = profile.exact[3]
            self.profile_: Profile | None = profiles[best]
            self.w_ = self.starts_[best]["w"]
            self.capture_: float | None = self.starts_[best].get("capture")
            close = [s for s in self.starts_ if s["deviance"] <= 1.0]
            self.w_interval_ = (
                min(s["interval"][0] for s in close),
                max(s["interval"][1] for s in close),
            )
        else:
            self.profile_, self.capture_ = None, None
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

    @property
    def _starts(self) -> tuple[float, ...]:
        """The start values of ``w`` (``w_init``: one value or several)."""
        w = self.w_init
        return tuple(float(v) for v in w) if isinstance(w, (tuple, list)) else (float(w),)

    def _fit_fold(
        self,
        train_data: tuple[Tensor, Tensor, Tensor | None],
        val_data: tuple[Tensor, Tensor, Tensor | None],
        seed: int,
        w0: float,
        tilt0: tuple[Tensor, Tensor] | None = None,
    ) -> _Fold:
        """The fold fitted from ``w = w0``, refitted from larger starts while it collapses.
        Each part is ``(z, log p_B, tilt features or None)``; ``tilt0``: the reference
        sample's tilt features and the tilt fitted alone (``None``: no tilt)."""
        fixed = self.fixed_w is not None
        floor = 1.0 / len(train_data[0])  # fewer than one signal event: collapsed
        # with w = 1 (ANODE) the background is not in the likelihood: the tilt fitted alone
        joint = tilt0 is not None and self.fixed_w != 1.0
        data = tuple(d for d in train_data if d is not None)
        val = tuple(d for d in val_data if d is not None)
        attempts: list[_Fold] = []
        for attempt in range(1 if fixed else 1 + self.restarts):
            tilt = _Tilt(*tilt0) if joint and tilt0 is not None else None
            module = self._new_module(float(w0), fixed, seed + attempt, tilt)
            warmup = 0 if fixed else min(self.warmup_epochs, self.epochs - 1)
            if warmup > 0:  # epochs count from 1: with no warm-up theta is free from the start
                module.theta.requires_grad_(False)

            def release(
                epoch: int,
                record: dict[str, float],
                module: _Mixture = module,
                warmup: int = warmup,
            ) -> None:
                record["w"] = module.w()
                if epoch == warmup and not module.fixed:
                    module.theta.requires_grad_(True)

            result = train(
                module,
                _loss,
                data,
                _held_out_nll(*val),
                self._config(self.epochs, warmup, self.n_best),
                seed=seed + attempt,
                device=torch.device(self.device),
                on_epoch_end=release,
            )
            w_hat = float(np.mean([_state_w(c, fixed, float(w0)) for c in result.members]))
            beta, log_norm = None, 0.0
            if tilt0 is not None:
                beta = tilt0[1]
                if joint:
                    beta = torch.stack([c.state["tilt.beta"] for c in result.members]).mean(0)
                with torch.no_grad():
                    log_norm = float(_Tilt(tilt0[0], beta).log_norm())
            fold = _Fold(
                states=[_flow_state(c) for c in result.members],
                w=w_hat,
                score=result.members[0].score,
                collapsed=not fixed and w_hat < floor,
                attempts=attempt + 1,
                epochs=result.epochs,
                beta=beta,
                log_norm=log_norm,
            )
            attempts.append(fold)
            if not fold.collapsed:
                break
            log.info(
                "fold collapsed (w = %.2g < %.2g): restarting at w = %.3g",
                w_hat,
                floor,
                w0 * self.restart_factor,
            )
            w0 = min(0.5, w0 * self.restart_factor)
        alive = [a for a in attempts if not a.collapsed] or attempts
        best = min(alive, key=lambda a: a.score)
        best.attempts = len(attempts)
        return best

    # ------------------------------------------------------------------ the signal fraction
    def _fold_log_signal(self, fold: _Fold, z: Tensor) -> Tensor:
        module = self._new_module(0.5, True, 0)
        parts = []
        with torch.no_grad():
            for state in fold.states:
                module.flow.load_state_dict(state)
                module.eval()
                parts.append(module.log_signal(z))
        return torch.logsumexp(torch.stack(parts), dim=0) - math.log(len(parts))

    def _profile(
        self,
        folds: list[_Fold],
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
        log_s = [self._fold_log_signal(f, z[h]).double() for f, h in zip(folds, held, strict=True)]
        bgs = [
            (bg[h] + self._correction(f, None if phi is None else phi[h])).double()
            for f, h in zip(folds, held, strict=True)
        ]
        if log_mass is not None:
            return self._capture_profile(folds, z, log_s, bgs, held, log_mass, seed)

        def conditional(w: float) -> float:
            if w <= 0:
                return float(sum(b.sum() for b in bgs))
            lw, l1 = math.log(w), math.log1p(-w)
            return float(
                sum(torch.logaddexp(lw + s, l1 + b).sum() for s, b in zip(log_s, bgs, strict=True))
            )

        # the conditional maximum and its curvature set the grid's centre and width
        from scipy.optimize import minimize_scalar

        res = minimize_scalar(
            lambda u: -conditional(1 / (1 + math.exp(-u))), bounds=(-18, 0), method="bounded"
        )
        w_c = 1 / (1 + math.exp(-res.x))
        h = max(w_c * 1e-3, 1e-7)
        curv = (conditional(w_c + h) - 2 * conditional(w_c) + conditional(max(w_c - h, 0.0))) / h**2
        sigma = 1 / math.sqrt(-curv) if curv < 0 else max(w_c, 1e-4)
        span = 3.0 * sigma * (1.5 if self.profile_epochs > 0 else 1.0)
        grid = np.linspace(w_c - span, w_c + span, max(3, self.profile_points))
        grid = np.unique(np.clip(grid, 0.0, 0.999))
        cond = np.array([conditional(float(w)) for w in grid])
        if self.profile_epochs > 0:
            prof = np.array(
                [
                    sum(
                        self._refit_at(float(w), folds[j], j, z, bg, phi, held[j], seed)
                        for j in range(self.folds)
                    )
                    if w > 0
                    else cond[i]
                    for i, w in enumerate(grid)
                ]
            )
        else:
            prof = cond
        return Profile(
            tuple(float(w) for w in grid),
            tuple(float(v) for v in -2 * (prof - prof.max())),
            tuple(float(v) for v in -2 * (cond - cond.max())),
        )

    def _draw(
        self, states: list[dict[str, Tensor]], counts: np.ndarray, seed: int
    ) -> list[np.ndarray]:
        """``counts[k]`` standardised events drawn from the flow of ``states[k]``, each, in
        turn from one torch generator seeded with ``seed``."""
        module = self._new_module(0.5, True, 0)
        parts = []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for state, count in zip(states, counts, strict=True):
                if count == 0:
                    parts.append(np.empty((0, self.n_features_in_ + 1)))
                    continue
                module.flow.load_state_dict(state)
                module.eval()
                with torch.no_grad():
                    parts.append(module.flow().sample((int(count),)).double().numpy())
        return parts

    def _fold_masses(self, fold: _Fold, n: int, seed: int) -> np.ndarray:
        """About ``n`` masses drawn from ``fold``'s ``p_S`` (its kept epochs equally), those
        inside the SR."""
        per = max(1, n // len(fold.states))
        parts = self._draw(fold.states, np.full(len(fold.states), per), seed)
        m = np.concatenate([p[:, -1] for p in parts]) * self.m_scale_ + self.m_centre_
        lo, hi = self.signal_region_
        return m[(m >= lo) & (m <= hi)]

    def _capture_profile(
        self,
        folds: list[_Fold],
        z: Tensor,
        log_s: list[Tensor],
        bgs: list[Tensor],
        held: list[Tensor],
        log_mass: np.ndarray,
        seed: int,
    ) -> Profile:
        """The held-out likelihood of ``w`` profiled over ``a``, the fraction of the signal
        distributed like the background in ``x`` with ``p_S``'s mass shape ``g(m)``:
        ``p = w (1 - a) p_S + (1 - w) p_B p(m) + w a p_B g(m)`` (each fold with its own
        ``g``: a KDE of its ``p_S`` masses). ``a`` is told from the background by the mass
        alone: how many more events ``g`` puts in the bump than ``p(m)``."""
        from scipy.optimize import brentq, minimize_scalar

        lo, hi = self.signal_region_
        s = np.concatenate([v.numpy() for v in log_s])
        b = np.concatenate([v.numpy() for v in bgs])
        dm = []
        for j, (fold, h) in enumerate(zip(folds, held, strict=True)):
            g = MassDensity(lo, hi).fit(self._fold_masses(fold, self.capture_samples, seed + j))
            m = z[h][:, -1].double().numpy() * self.m_scale_ + self.m_centre_
            dm.append(g.log_prob(m) - log_mass[h.numpy()])
        d = np.concatenate(dm)

        def log_l(w: float, a: float) -> float:
            if w <= 0:
                return float(b.sum())
            parts = [math.log1p(-w) + b]
            if a < 1:
                parts.append(math.log(w) + math.log1p(-a) + s)
            if a > 0:
                parts.append(math.log(w) + math.log(a) + b + d)
            return float(np.logaddexp.reduce(np.stack(parts), axis=0).sum())

        def best_a(w: float) -> tuple[float, float]:
            """The profiled ``(log L, a)`` at ``w``."""
            at_zero = log_l(w, 0.0)
            if w <= 0:
                return at_zero, 0.0
            res = minimize_scalar(
                lambda a: -log_l(w, a), bounds=(0.0, 1.0 - 1e-9), method="bounded"
            )
            return (at_zero, 0.0) if at_zero >= -res.fun else (-float(res.fun), float(res.x))

        res = minimize_scalar(
            lambda u: -best_a(1 / (1 + math.exp(-u)))[0], bounds=(-18, 0), method="bounded"
        )
        w_hat = 1 / (1 + math.exp(-res.x))
        top, a_hat = best_a(w_hat)
        at_zero = best_a(0.0)
        if at_zero[0] > top:
            w_hat, (top, a_hat) = 0.0, at_zero

        def excess(w: float) -> float:  # > 0 inside the 68% interval
            return best_a(w)[0] - (top - 0.5)

        w_lo = 0.0 if excess(0.0) >= 0 else brentq(excess, 0.0, w_hat, xtol=1e-6)
        step, w_hi = max(w_hat, 1e-3), min(0.999, w_hat + max(w_hat, 1e-3))
        while excess(w_hi) > 0 and w_hi < 0.999:
            step *= 2
            w_hi = min(0.999, w_hat + step)
        if excess(w_hi) < 0:
            w_hi = brentq(excess, w_hat, w_hi, xtol=1e-6)
        half = 0.5 * (w_hi - w_lo)
        grid = np.unique(
            np.clip(np.linspace(w_lo - half, w_hi + half, max(3, self.profile_points)), 0.0, 0.999)
        )
        prof = [best_a(float(w)) for w in grid]
        cond = np.array([log_l(float(w), 0.0) for w in grid])
        values = np.array([p[0] for p in prof])
        return Profile(
            tuple(float(w) for w in grid),
            tuple(float(v) for v in -2 * (values - top)),
            tuple(float(v) for v in -2 * (cond - cond.max())),
            tuple(p[1] for p in prof),
            (float(w_hat), float(w_lo), float(w_hi), a_hat),
        )

    def _refit_at(
        self,
        w: float,
        fold: _Fold,
        j: int,
        z: Tensor,
        bg: Tensor,
        phi: Tensor | None,
        held: Tensor,
        seed: int,
    ) -> float:
        """Fold ``j``'s ``p_S`` refitted at fixed ``w`` (its background tilt held): the
        log-likelihood of its held-out fold."""
        module = self._new_module(w, True, seed)
        module.flow.load_state_dict(fold.states[0])
        bg = bg + self._correction(fold, phi)
        nll = _held_out_nll(z[held], bg[held])
        result = train(
            module,
            _loss,
            (z[~held], bg[~held]),
            nll,
            self._config(self.profile_epochs, 0, 1),
            seed=seed + j,
            device=torch.device(self.device),
        )
        return -result.members[0].score * int(held.sum())

    # ------------------------------------------------------------------ using the fit
    def _check_fitted(self) -> None:
        if not hasattr(self, "folds_"):
            raise InputError("this SignalMixture is not fitted: call fit()")

    def log_prob_signal(self, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        """``log p_S(x, m)``: the mean density of every fold's model."""
        return self._log_signal(self._inputs(x, m))

    def background_correction(self, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        """What the fitted tilt adds to ``log p_B(x | m)`` (the mean over folds; zeros
        without a tilt)."""
        return self._background_correction(self._inputs(x, m))

    def score(self, x: np.ndarray, m: np.ndarray, log_background: np.ndarray) -> np.ndarray:
        """The anomaly score ``log p_S(x, m) - log p_B(x | m) - log p(m)``, with ``p_B``
        tilted where the fit has a tilt."""
        z = self._inputs(x, m)
        log_bg = np.asarray(log_background, dtype=np.float64) + self._background_correction(z)
        return self._log_signal(z) - log_bg

    def _inputs(self, x: np.ndarray, m: np.ndarray) -> Tensor:
        """The standardised ``(x, m)`` of a fitted mixture."""
        self._check_fitted()
        return self._to_z(
            np.asarray(x, dtype=np.float64), np.asarray(m, dtype=np.float64).reshape(-1)
        )

    def _log_signal(self, z: Tensor) -> np.ndarray:
        parts = torch.stack([self._fold_log_signal(f, z) for f in self.folds_])
        lp = torch.logsumexp(parts.double(), dim=0) - math.log(len(self.folds_))
        return lp.numpy() + self._log_jacobian

    def _background_correction(self, z: Tensor) -> np.ndarray:
        if self.folds_[0].beta is None:  # fitted without a tilt
            return np.zeros(len(z))
        phi = self._phi(z)
        parts = [torch.as_tensor(self._correction(f, phi)) for f in self.folds_]
        return torch.stack(parts).mean(0).double().numpy()

    def sample(self, n: int, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``n`` events ``(x, m)`` from ``p_S`` (every fold's kept epochs equally)."""
        self._check_fitted()
        states = [s for f in self.folds_ for s in f.states]
        gen = np.random.default_rng(seed)
        owner = gen.integers(0, len(states), n)
        counts = np.bincount(owner, minlength=len(states))
        parts = self._draw(states, counts, int(gen.integers(0, 2**62)))
        out = np.empty((n, self.n_features_in_ + 1))
        for k, part in enumerate(parts):
            out[owner == k] = part
        x = out[:, :-1] * self.x_scale_ + self.x_mean_
        m = out[:, -1] * self.m_scale_ + self.m_centre_
        return x, m

    def summary(self) -> dict[str, Any]:
        """The fit's numbers as plain Python (for reports)."""
        self._check_fitted()
        out: dict[str, Any] = {
            "w": self.w_,
            "w_interval": list(self.w_interval_),
            "fold_w": list(self.fold_w_),
            "collapsed": list(self.collapsed_),
            "attempts": list(self.attempts_),
            "fit_seconds": self.fit_seconds_,
            "held_out_nll": self.held_out_nll_,
            "starts": [
                {**s, "interval": list(s["interval"])} for s in getattr(self, "starts_", [])
            ],
        }
        if self.tilt > 0:
            out["tilt"] = {
                "degree": self.tilt,
                "fold_beta": [
                    [] if f.beta is None else [float(b) for b in f.beta] for f in self.folds_
                ],
            }
        if self.capture:
            out["capture"] = self.capture_
        if self.profile_ is not None:
            out["profile"] = {
                "w": list(self.profile_.w),
                "deviance": list(self.profile_.deviance),
                "conditional": list(self.profile_.conditional),
            }
        return out


# ---------------------------------------------------------------------- helpers
def _loss(module: nn.Module, batch: tuple[Tensor, ...], gen: torch.Generator) -> Tensor:
    return -module(*batch).mean()


def _held_out_nll(*data: Tensor) -> Any:
    def nll(module: nn.Module) -> float:
        return float(-module(*data).mean())

    return nll


def _flow_state(member: Member) -> dict[str, Tensor]:
    return {k.removeprefix("flow."): v for k, v in member.state.items() if k.startswith("flow.")}


def _state_w(member: Member, fixed: bool, w0: float) -> float:
    return w0 if fixed else float(torch.sigmoid(member.state["theta"]))


def _interval(profile: Profile) -> tuple[float, tuple[float, float]]:
    """The profile's minimum and 68% interval: found on the profile itself where it was
    (``exact``), else from a parabola fitted to ``-2 log L`` (weighted towards the
    minimum); ends clipped to ``[0, 1]``."""
    if profile.exact is not None:
        w_hat, lo, hi, _ = profile.exact
        return w_hat, (lo, hi)
    w = np.asarray(profile.w)
    dev = np.asarray(profile.deviance)
    weights = 1.0 / (1.0 + dev)  # points far up the curve matter less
    a, b, _ = np.polyfit(w, dev, 2, w=np.sqrt(weights))
    if a <= 0:  # no curvature: the best grid point, the grid as the interval
        i = int(np.argmin(dev))
        return float(w[i]), (float(w.min()), float(w.max()))
    w_min = -b / (2 * a)
    half = math.sqrt(1.0 / a)
    if w_min >= 0:
        return float(min(w_min, 1.0)), (max(0.0, w_min - half), min(1.0, w_min + half))
    # the maximum is at the boundary w = 0: the upper end is 1 above the curve at 0
    return 0.0, (0.0, float(min(1.0, w_min + math.sqrt(w_min**2 + half**2))))
