"""One fold of the mixture fit: how it is trained (:class:`FoldTrainer`) and what it keeps
(:class:`Fold`).

A fold's model trains on the other folds' events and selects its epochs on its own events;
its ``n_best`` epochs are kept, ``p_S`` being the mean of their densities. ``w`` is held at
its start for ``warmup_epochs`` so that ``p_S`` first learns where the data exceed the
background. A fit whose ``w`` ends below one signal event of its training events is
*collapsed*: it is refitted from a start ``restart_factor`` times larger, up to ``restarts``
times, and the attempt of best held-out likelihood that did not collapse is kept (if all
collapsed, the best one, flagged).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from resonant_ad.density.likelihood import (
    MixtureLikelihood,
    SignalFlow,
    held_out_nll,
    mixture_loss,
)
from resonant_ad.density.tilt import Tilt, fit_tilt
from resonant_ad.training import Member, TrainingConfig, train

__all__ = ["Fold", "FoldTrainer"]

log = logging.getLogger(__name__)

FoldData = tuple[Tensor, Tensor, Tensor | None]
"""Events of a fold: ``(z, log p_B, tilt features or None)``."""


@dataclass
class Fold:
    """One fold's fitted signal model."""

    states: list[dict[str, Tensor]]
    """The flow's state at each kept epoch."""
    w: float
    """The fitted ``w`` (the mean over the kept epochs)."""
    score: float
    """The held-out mean ``-log L`` of the best epoch."""
    collapsed: bool
    attempts: int
    epochs: int
    beta: Tensor | None = None
    """The background tilt's coefficients (mean over the kept epochs; ``None``: no tilt)."""
    log_norm: float = 0.0
    """Its ``log Z`` on the reference sample."""

    def tilt_correction(self, phi: Tensor | None) -> Tensor | float:
        """What the fold's tilt adds to ``log p_B`` of events with tilt features ``phi``,
        ``beta . phi - log Z`` (0 without a tilt)."""
        if self.beta is None or phi is None:
            return 0.0
        return phi @ self.beta - self.log_norm


@dataclass(frozen=True)
class FoldTrainer:
    """The training settings of a fold's :class:`MixtureLikelihood` (see
    :class:`~resonant_ad.density.mixture.SignalMixture` for their meaning)."""

    flow: SignalFlow
    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    grad_clip: float
    n_best: int
    w_lr_factor: float
    warmup_epochs: int
    restarts: int
    restart_factor: float
    profile_epochs: int
    fixed_w: float | None
    device: str

    def module(
        self, w: float, fixed: bool, seed: int, tilt: Tilt | None = None
    ) -> MixtureLikelihood:
        """A new likelihood from ``w`` with a flow drawn from ``seed``."""
        return MixtureLikelihood(self.flow.build(seed), w, fixed, self.w_lr_factor, tilt)

    def config(self, epochs: int, validate_after: int, n_best: int) -> TrainingConfig:
        """AdamW for ``epochs`` epochs, no early stop, the ``n_best`` epochs kept."""
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

    def fit(
        self,
        train_data: FoldData,
        val_data: FoldData,
        seed: int,
        w0: float,
        tilt0: tuple[Tensor, Tensor] | None = None,
    ) -> Fold:
        """The fold fitted from ``w = w0`` (``fixed_w``: at it), refitted from larger starts
        while it collapses. ``tilt0``: the reference sample's tilt features and the tilt
        fitted alone (``None``: no tilt)."""
        fixed = self.fixed_w is not None
        floor = 1.0 / len(train_data[0])  # fewer than one signal event: collapsed
        # with w = 1 (ANODE) the background is not in the likelihood: the tilt fitted alone
        joint = tilt0 is not None and self.fixed_w != 1.0
        data = tuple(d for d in train_data if d is not None)
        val = tuple(d for d in val_data if d is not None)
        attempts: list[Fold] = []
        for attempt in range(1 if fixed else 1 + self.restarts):
            tilt = Tilt(*tilt0) if joint and tilt0 is not None else None
            module = self.module(float(w0), fixed, seed + attempt, tilt)
            warmup = 0 if fixed else min(self.warmup_epochs, self.epochs - 1)
            if warmup > 0:  # epochs count from 1: with no warm-up theta is free from the start
                module.theta.requires_grad_(False)

            def release(
                epoch: int,
                record: dict[str, float],
                module: MixtureLikelihood = module,
                warmup: int = warmup,
            ) -> None:
                record["w"] = module.w()
                if epoch == warmup and not module.fixed:
                    module.theta.requires_grad_(True)

            result = train(
                module,
                mixture_loss,
                data,
                held_out_nll(*val),
                self.config(self.epochs, warmup, self.n_best),
                seed=seed + attempt,
                device=torch.device(self.device),
                on_epoch_end=release,
            )
            w_hat = float(np.mean([_member_w(c, fixed, float(w0)) for c in result.members]))
            beta, log_norm = None, 0.0
            if tilt0 is not None:
                beta = tilt0[1]
                if joint:
                    beta = torch.stack([c.state["tilt.beta"] for c in result.members]).mean(0)
                with torch.no_grad():
                    log_norm = float(Tilt(tilt0[0], beta).log_norm())
            fold = Fold(
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

    def fit_starts(
        self,
        starts: tuple[float, ...],
        z: Tensor,
        bg: Tensor,
        phi: Tensor | None,
        phi_ref: Tensor | None,
        fold_of: np.ndarray,
        fold_seeds: np.ndarray,
    ) -> list[tuple[list[Fold], float]]:
        """Every fold (``fold_of``: each event's) fitted from each start of ``w``, on the
        flows' inputs ``z``, ``log p_B`` ``bg`` and the tilt's features ``phi`` of the
        events and ``phi_ref`` of the reference: per start, the folds and their held-out
        ``-2 log L``."""
        n_folds = len(fold_seeds)
        # each fold's tilt fitted alone (the start of its tilt, whatever the start of w)
        tilts: list[tuple[Tensor, Tensor] | None] = [
            None
            if phi is None or phi_ref is None
            else (phi_ref, fit_tilt(phi[fold_of != j], phi_ref))
            for j in range(n_folds)
        ]
        n_held = np.bincount(fold_of, minlength=n_folds)
        fits = []
        for k, w0 in enumerate(starts):
            folds = []
            for j in range(n_folds):
                held = fold_of == j
                fold_seed = int(fold_seeds[j]) + k * (1 + self.restarts)
                train_phi = None if phi is None else phi[~held]
                val_phi = None if phi is None else phi[held]
                folds.append(
                    self.fit(
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

    def refit_at(
        self,
        w: float,
        fold: Fold,
        z: Tensor,
        log_bg: Tensor,
        held: Tensor,
        seed: int,
        train_seed: int,
    ) -> float:
        """``fold``'s ``p_S`` refitted at fixed ``w`` for ``profile_epochs`` epochs on the
        events not ``held`` (``log_bg``: ``log p_B`` with the fold's tilt; the flow of the
        module drawn from ``seed``, then the fold's first state loaded): the log-likelihood
        of the ``held`` events."""
        module = self.module(w, True, seed)
        module.flow.load_state_dict(fold.states[0])
        result = train(
            module,
            mixture_loss,
            (z[~held], log_bg[~held]),
            held_out_nll(z[held], log_bg[held]),
            self.config(self.profile_epochs, 0, 1),
            seed=train_seed,
            device=torch.device(self.device),
        )
        return -result.members[0].score * int(held.sum())


def _flow_state(member: Member) -> dict[str, Tensor]:
    return {k.removeprefix("flow."): v for k, v in member.state.items() if k.startswith("flow.")}


def _member_w(member: Member, fixed: bool, w0: float) -> float:
    return w0 if fixed else float(torch.sigmoid(member.state["theta"]))
