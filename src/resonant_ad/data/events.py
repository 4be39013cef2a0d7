"""The feature-level event container that flows through the whole pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from resonant_ad.errors import InputError

__all__ = ["Events"]


@dataclass(frozen=True)
class Events:
    """Events at feature level.

    Attributes:
        m: resonant feature ``mjj`` in TeV, shape ``(n,)``.
        x: auxiliary features, shape ``(n, d)``, names in ``feature_names``.
        label: 1 for signal, 0 for background, shape ``(n,)``.
        feature_names: one name per column of ``x``.
        weight: per-event weights, shape ``(n,)``, finite and non-negative (``None``: every
            event counts once). A background template may carry them (e.g. ``salad``'s
            reweighted simulation); the weakly supervised classifier, the classifier test and
            the validation AUC use them. :meth:`select`, :meth:`with_label`,
            :meth:`shuffled` and :meth:`concatenate` keep them.
    """

    m: np.ndarray
    x: np.ndarray
    label: np.ndarray
    feature_names: tuple[str, ...] = field(default=())
    weight: np.ndarray | None = None

    def __post_init__(self) -> None:
        m = np.asarray(self.m, dtype=np.float64).reshape(-1)
        x = np.asarray(self.x, dtype=np.float64)
        if x.ndim == 1:
            x = x.reshape(-1, 1)
        label = np.asarray(self.label, dtype=np.int64).reshape(-1)
        if not (len(m) == len(x) == len(label)):
            raise InputError(f"length mismatch: m {len(m)}, x {len(x)}, label {len(label)}")
        names = tuple(self.feature_names) or tuple(f"x{i}" for i in range(x.shape[1]))
        if len(names) != x.shape[1]:
            raise InputError(f"{len(names)} feature names for {x.shape[1]} features")
        if self.weight is not None:
            w = np.asarray(self.weight, dtype=np.float64).reshape(-1)
            if len(w) != len(m):
                raise InputError(f"{len(w)} weights for {len(m)} events")
            if not np.all(np.isfinite(w)) or np.any(w < 0):
                raise InputError("event weights must be finite and non-negative")
            object.__setattr__(self, "weight", w)
        object.__setattr__(self, "m", m)
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "label", label)
        object.__setattr__(self, "feature_names", names)

    def __len__(self) -> int:
        return len(self.m)

    @property
    def n_signal(self) -> int:
        return int(self.label.sum())

    @property
    def n_background(self) -> int:
        return len(self) - self.n_signal

    def weights(self) -> np.ndarray:
        """The per-event weights, ones where the events carry none.

        >>> Events(np.ones(2), np.ones(2), np.zeros(2)).weights().tolist()
        [1.0, 1.0]
        """
        return np.ones(len(self)) if self.weight is None else self.weight

    def effective_size(self) -> float:
        """Kish's effective sample size ``(sum w)^2 / sum w^2`` (``len(self)`` unweighted).

        >>> ev = Events(np.ones(4), np.ones(4), np.zeros(4), weight=[1.0, 1.0, 0.0, 0.0])
        >>> ev.effective_size()
        2.0
        """
        w = self.weights()
        sq = float(np.sum(w**2))
        return float(np.sum(w)) ** 2 / sq if sq > 0 else 0.0

    def select(self, index: np.ndarray | slice) -> Events:
        """Events at a boolean mask, an integer index array or a slice."""
        w = None if self.weight is None else self.weight[index]
        return Events(self.m[index], self.x[index], self.label[index], self.feature_names, w)

    def with_label(self, value: int) -> Events:
        """The same events, every label set to ``value``."""
        return Events(self.m, self.x, np.full(len(self), value), self.feature_names, self.weight)

    def with_weight(self, weight: np.ndarray | None) -> Events:
        """The same events with per-event ``weight`` (``None``: unweighted)."""
        return Events(self.m, self.x, self.label, self.feature_names, weight)

    def expanded(self) -> Events:
        """Unweighted events, each repeated as often as its integer weight says (the events
        of a Poisson-bootstrap replica, for what trains without weights: the flows).

        >>> Events(np.arange(3.0), np.zeros(3), np.zeros(3), weight=[2, 0, 1]).expanded().m.tolist()
        [0.0, 0.0, 2.0]
        """
        if self.weight is None:
            return self
        counts = np.rint(self.weight).astype(np.int64)
        if not np.allclose(counts, self.weight):
            raise InputError("only integer event weights can be expanded into repeated events")
        index = np.repeat(np.arange(len(self)), counts)
        return Events(self.m[index], self.x[index], self.label[index], self.feature_names)

    def shuffled(self, rng: np.random.Generator) -> Events:
        return self.select(rng.permutation(len(self)))

    @staticmethod
    def concatenate(parts: Sequence[Events]) -> Events:
        """The events of ``parts`` in order (weighted if any part is: ones for the others)."""
        if not parts:
            raise InputError("nothing to concatenate")
        names = parts[0].feature_names
        for p in parts[1:]:
            if p.feature_names != names:
                raise InputError(f"feature names differ: {names} vs {p.feature_names}")
        weighted = any(p.weight is not None for p in parts)
        return Events(
            np.concatenate([p.m for p in parts]),
            np.concatenate([p.x for p in parts]),
            np.concatenate([p.label for p in parts]),
            names,
            np.concatenate([p.weights() for p in parts]) if weighted else None,
        )
