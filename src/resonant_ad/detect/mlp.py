"""The MLP ensemble: small torch networks on k-fold splits, trained by the shared loop."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np

from resonant_ad.detect.classifier import KFoldEnsemble, RandomState, kfold_splits
from resonant_ad.errors import InputError

__all__ = ["MLPEnsemble"]


@contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` torch intra-op threads (``None``: unchanged), restored afterwards."""
    import torch

    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _weighted_bce(module: Any, x: Any, y: Any, w: Any) -> Any:
    """Weighted mean binary cross-entropy of ``module``'s logits on ``x`` against ``y``."""
    import torch

    logits = module(x).squeeze(-1)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, y, weight=w, reduction="sum"
    )
    return loss / w.sum()


def _bce_loss(module: Any, batch: tuple[Any, ...], generator: Any) -> Any:
    """Training loss of a batch ``(x, y, w)`` for :func:`resonant_ad.training.train`."""
    x, y, w = batch
    return _weighted_bce(module, x, y, w)


def _bce_score(module: Any, data: tuple[Any, Any, Any]) -> float:
    """Held-out selection score (weighted binary cross-entropy) of ``module``."""
    return float(_weighted_bce(module, *data))


@dataclass(eq=False, repr=False)
class MLPEnsemble(KFoldEnsemble):
    """Average of ``n_estimators`` small torch MLPs on k-fold splits (same interface as HGB).

    Inputs are standardised with the training set's mean and spread. Each member is trained
    by the shared loop :func:`resonant_ad.training.train` on all but one fold of a repeated
    stratified k-fold split: it minimises the class-balanced, weighted binary cross-entropy
    (AdamW with decoupled ``weight_decay``; plain Adam at the default 0), computes the same
    loss on its held-out fold after every epoch, stops after ``patience`` epochs without
    improvement (at most ``max_epochs``) and keeps the epoch with the lowest held-out loss;
    ``n_epochs_`` holds that epoch per member. The learning rate stays constant. Runs on CPU
    with ``n_threads`` torch threads (small networks gain nothing from more on a shared
    machine); a fixed ``random_state`` gives identical members.
    """

    n_estimators: int = 5
    _: KW_ONLY
    n_folds: int = 5
    hidden: tuple[int, ...] = (64, 64, 64)
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 1024
    max_epochs: int = 100
    patience: int = 10
    balance_classes: bool = True
    n_threads: int | None = 1
    random_state: RandomState = None

    def _build(self, d: int) -> Any:
        from torch import nn

        layers: list[nn.Module] = []
        width = d
        for h in self.hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, 1))
        return nn.Sequential(*layers)

    def _check_params(self) -> None:
        super()._check_params()
        if self.max_epochs < 1:
            raise InputError(f"max_epochs = {self.max_epochs}: need at least one epoch")

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        groups: np.ndarray | None = None,
    ) -> MLPEnsemble:
        """Train the members; sets ``members_``, ``mean_``, ``scale_`` and ``n_epochs_``.
        ``groups``: events that must share their fold (:func:`kfold_splits`), e.g. the copies
        of an event, so that early stopping is judged on events the member did not see."""
        with _torch_threads(self.n_threads):
            return self._fit(X, y, sample_weight, groups)

    def _fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None,
        groups: np.ndarray | None,
    ) -> MLPEnsemble:
        import torch

        from resonant_ad.training import TrainingConfig, train

        X, y, w, rng, seeds = self._start_fit(X, y, sample_weight)
        self.mean_ = X.mean(axis=0)
        self.scale_ = np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
        Xt = torch.as_tensor((X - self.mean_) / self.scale_, dtype=torch.float32)
        yt = torch.as_tensor(y, dtype=torch.float32)
        wt = torch.as_tensor(w, dtype=torch.float32)
        config = TrainingConfig(
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            max_epochs=self.max_epochs,
            # the plateau schedule counts at most max_epochs - 1 bad epochs: it never fires
            plateau_patience=self.max_epochs,
            early_stopping_patience=self.patience,
            n_best=1,
        )
        cpu = torch.device("cpu")
        members: list[Any] = []
        epochs: list[int] = []
        t0 = time.perf_counter()
        splits = kfold_splits(y, self.n_folds, self.n_estimators, rng, groups)
        for i, (tr, va) in enumerate(splits):
            seed = int(seeds[i])
            net = self._build(X.shape[1])
            gen = torch.Generator().manual_seed(seed)
            for layer in net:
                if isinstance(layer, torch.nn.Linear):
                    bound = 1.0 / float(np.sqrt(layer.in_features))
                    torch.nn.init.uniform_(layer.weight, -bound, bound, generator=gen)
                    torch.nn.init.uniform_(layer.bias, -bound, bound, generator=gen)
            tr_t, va_t = torch.as_tensor(tr), torch.as_tensor(va)
            held_out = (Xt[va_t], yt[va_t], wt[va_t])
            result = train(
                net,
                _bce_loss,
                (Xt[tr_t], yt[tr_t], wt[tr_t]),
                functools.partial(_bce_score, data=held_out),
                config,
                seed=seed,
                device=cpu,
            )
            best = result.members[0]
            net.load_state_dict(best.state)
            net.eval()
            members.append(net)
            epochs.append(best.epoch)
        self._keep_members(members, X, t0, "MLP", f"best epoch {int(np.median(epochs))}")
        self.n_epochs_ = np.asarray(epochs)
        return self

    def _member_proba(self, member: Any, X: np.ndarray) -> np.ndarray:
        import torch

        Xt = torch.as_tensor((X - self.mean_) / self.scale_, dtype=torch.float32)
        with _torch_threads(self.n_threads), torch.no_grad():
            return torch.sigmoid(member(Xt).squeeze(-1)).numpy().astype(np.float64)
