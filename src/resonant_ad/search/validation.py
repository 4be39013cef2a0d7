"""Validation windows: a label-free check of background templates next to a signal region.

With real data nobody knows which template imitates the SR background best. In a window next
to the SR (same width, adjacent below or above) the data are background to a good
approximation, so the same template-making, carried out with the window in the role of the
SR, can be compared with the data there: a classifier separating window data from the
window's template has AUC 0.5 for a perfect template and more the worse it is. For ``cr``
this takes one sideband training per window (the window masked); SIGMA's templates only
need a new interpolation of the one ``v_data``.

The check ranks templates by how well they model the background. It does not see a template
that learns the signal (``data`` in the SR); it is meant to choose between interpolating
templates (``cr``, ``sigma-*``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion
from resonant_ad.errors import InputError

__all__ = ["rank_agreement", "validation_auc", "validation_windows"]


def validation_windows(signal_region: SignalRegion, count: int = 1) -> list[SignalRegion]:
    """``count`` windows of the SR's width on each side of it, nearest first, below then above.

    >>> [(w.lo, w.hi) for w in validation_windows(SignalRegion(3.3, 3.7))]
    [(2.9, 3.3), (3.7, 4.1)]
    """
    if count < 1:
        raise InputError(f"{count} validation windows per side: need at least one")
    w = signal_region.width
    below = [
        SignalRegion(round(signal_region.lo - (k + 1) * w, 10), round(signal_region.lo - k * w, 10))
        for k in range(count)
    ]
    above = [
        SignalRegion(round(signal_region.hi + k * w, 10), round(signal_region.hi + (k + 1) * w, 10))
        for k in range(count)
    ]
    return below + above


def validation_auc(
    window_data: Events, template: Events, *, ensemble_size: int = 5, seed: int = 0
) -> float:
    """Held-out AUC of a classifier telling ``template`` from the data of a validation window.

    0.5: the template cannot be told from the data; higher: the classifier finds where the
    template is wrong. (The classifier test of
    :func:`~resonant_ad.detect.classifier_test.classifier_test`, with the window data as the
    background: a weighted template trains the classifier and enters the AUC with its
    weights.)
    """
    from resonant_ad.detect.classifier_test import classifier_test
    from resonant_ad.detect.hgb import HGBEnsemble

    result = classifier_test(
        template,
        window_data,
        classifier=HGBEnsemble(n_estimators=ensemble_size, random_state=seed),
        random_state=seed,
    )
    return float(result.auc)


def rank_agreement(
    lower_is_better: Mapping[str, float], higher_is_better: Mapping[str, float]
) -> float:
    """Kendall's tau between two rankings of the same methods (1: the same order).

    ``lower_is_better``: e.g. validation AUCs; ``higher_is_better``: e.g. SIC values. Methods
    missing from either side or with NaN values are left out; fewer than two left gives NaN.

    >>> rank_agreement({"a": 0.51, "b": 0.55, "c": 0.60}, {"a": 12.0, "b": 9.0, "c": 4.0})
    1.0
    """
    from scipy.stats import kendalltau

    names = [
        k
        for k in lower_is_better
        if k in higher_is_better
        and math.isfinite(lower_is_better[k])
        and math.isfinite(higher_is_better[k])
    ]
    if len(names) < 2:
        return math.nan
    a = np.array([-lower_is_better[k] for k in names])
    b = np.array([higher_is_better[k] for k in names])
    return float(kendalltau(a, b).statistic)
