"""Density ratios from a classifier: a class-balanced classifier's output ``f`` telling data
(class 1) from model events (class 0) gives ``p_data / p_model ~ f / (1 - f)``
(:func:`odds`), here with the mass beside the features as its inputs
(:func:`ratio_inputs`); :func:`weighted_auc` checks a ratio on held-out events.
"""

from __future__ import annotations

import numpy as np

from resonant_ad.detect.metrics import auc, roc_curve

__all__ = ["odds", "ratio_inputs", "weighted_auc"]

_EPS = 1e-6
"""The classifier output is clipped to ``[_EPS, 1 - _EPS]`` before ``f / (1 - f)``."""


def ratio_inputs(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """A density-ratio classifier's inputs: ``m`` beside the features.

    >>> ratio_inputs(np.array([[1.0, 2.0]]), np.array([3.5])).tolist()
    [[3.5, 1.0, 2.0]]
    """
    return np.column_stack([np.asarray(m, dtype=np.float64), np.asarray(x, dtype=np.float64)])


def odds(f: np.ndarray) -> np.ndarray:
    """The density ratio ``f / (1 - f)`` of a class-balanced classifier's output ``f``,
    clipped to ``[_EPS, 1 - _EPS]`` first.

    >>> odds(np.array([0.5, 0.8, 1.0])).round(3).tolist()
    [1.0, 4.0, 999999.0]
    """
    q = np.clip(f, _EPS, 1.0 - _EPS)
    return np.asarray(q / (1.0 - q))


def weighted_auc(f_data: np.ndarray, f_model: np.ndarray, w_model: np.ndarray) -> float:
    """AUC of a score ``f`` telling data (class 1) from model events weighted by
    ``w_model`` (class 0): 0.5 where the weights make the model look like the data to it.

    >>> weighted_auc(np.array([0.9, 0.8]), np.array([0.1, 0.2]), np.ones(2))
    1.0
    """
    labels = np.r_[np.ones(len(f_data), dtype=np.int64), np.zeros(len(f_model), np.int64)]
    weights = np.r_[np.ones(len(f_data)), w_model]
    return auc(*roc_curve(np.r_[f_data, f_model], labels, weights)[:2])
