"""Copies of one event kept on one side of every split.

The models that train without event weights see a Poisson-bootstrap replica as its expanded
events (:meth:`~resonant_ad.data.events.Events.expanded`): an event of weight 2 is there
twice. Split at random, its copies land on both sides of a training/validation split or in
two folds, and the held-out events are then partly the training events: a flexible density
that learns them by heart scores well out of fold. The splits below assign whole groups of
identical events (the same ``m`` and ``x``), and with no two events alike they are the plain
random splits, draw for draw.
"""

from __future__ import annotations

import numpy as np

__all__ = ["copy_groups", "fold_assignment", "holdout_mask"]


def copy_groups(m: np.ndarray, x: np.ndarray) -> np.ndarray | None:
    """Each event's group of identical events (the same ``m`` and ``x``), numbered
    ``0 .. groups - 1``; ``None`` where no two events are alike.

    >>> copy_groups(np.array([3.0, 3.5, 3.0]), np.array([[1.0], [2.0], [1.0]])).tolist()
    [0, 1, 0]
    >>> copy_groups(np.array([3.0, 3.5]), np.array([[1.0], [2.0]])) is None
    True
    """
    rows = np.column_stack([np.asarray(m, dtype=np.float64).reshape(-1), np.asarray(x)])
    unique, inverse = np.unique(rows, axis=0, return_inverse=True)
    return None if len(unique) == len(rows) else np.asarray(inverse).reshape(-1)


def fold_assignment(
    n: int, folds: int, rng: np.random.Generator, groups: np.ndarray | None = None
) -> np.ndarray:
    """A random fold (``0 .. folds - 1``, as even as can be) for each of ``n`` events; with
    ``groups`` (:func:`copy_groups`) the groups are assigned and every event gets its
    group's fold.

    >>> f = fold_assignment(6, 2, np.random.default_rng(0), np.array([0, 1, 0, 2, 3, 1]))
    >>> bool(f[0] == f[2] and f[1] == f[5])
    True
    """
    if groups is None:
        return rng.permutation(np.arange(n) % folds)
    n_groups = int(groups.max()) + 1
    return rng.permutation(np.arange(n_groups) % folds)[groups]


def holdout_mask(
    n: int, fraction: float, groups: np.ndarray | None, rng: np.random.Generator
) -> np.ndarray:
    """Which of ``n`` events in random order are held out (``True``): the first
    ``round(fraction * n)``; with ``groups`` (:func:`copy_groups`), ``round(fraction *
    groups)`` groups drawn at random from ``rng``, whole (without, ``rng`` is not used).

    >>> holdout_mask(4, 0.5, None, np.random.default_rng(0)).tolist()
    [True, True, False, False]
    >>> mask = holdout_mask(5, 0.5, np.array([0, 1, 0, 2, 3]), np.random.default_rng(0))
    >>> bool(mask[0] == mask[2]), int(mask[[0, 1, 3, 4]].sum())
    (True, 2)
    """
    if groups is None:
        return np.arange(n) < round(fraction * n)
    n_groups = int(groups.max()) + 1
    held = rng.permutation(n_groups) < round(fraction * n_groups)
    return held[groups]
