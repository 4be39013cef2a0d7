"""Named random streams of a search: one seed per kind of piece, derived from a base seed.

Every piece of a study or scan draws its randomness from its own stream, so changing one
kind of piece (e.g. the classifier) leaves the others' draws, and their cached results,
untouched. The stream numbers are part of the results' reproducibility: do not renumber.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

__all__ = ["Stream", "stream_seed"]


class Stream(IntEnum):
    """The random streams and their fixed numbers."""

    MODEL = 7
    """Generative-model initialisation and training."""
    TEMPLATE = 11
    """Template masses and samples."""
    CLASSIFIER = 13
    """Classifier ensembles and their folds."""
    CORRECTION = 17
    """The sideband correction of a background density (samples and classifier)."""


def stream_seed(base: int, stream: Stream) -> int:
    """The seed of ``stream`` for a piece whose base seed is ``base`` (an injection's, a scan's).

    >>> a, b = stream_seed(0, Stream.MODEL), stream_seed(0, Stream.TEMPLATE)
    >>> a == stream_seed(0, Stream.MODEL) and a != b
    True
    """
    return int(np.random.SeedSequence([base, int(stream)]).generate_state(1)[0])
