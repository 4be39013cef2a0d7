"""How the sideband models of x given m see their events: preprocessed features and a
standardised mass, both fitted on the training events."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from resonant_ad.data.events import Events
from resonant_ad.errors import InputError
from resonant_ad.flows.preprocessing import Preprocessor

__all__ = ["REVISION", "Conditioning"]

REVISION = 2
"""Part of the cache key of every model that sees its events through :class:`Conditioning`:
raised when the same settings train differently (2: events outside the preprocessing's
range are left out, where one such validation event used to make every epoch's validation
loss NaN and the choice of the best epochs meaningless)."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Conditioning:
    """A fitted :class:`~resonant_ad.flows.preprocessing.Preprocessor` of the features and
    the mean and spread that standardise ``m`` (the model's one context variable).

    >>> from resonant_ad.data.toy import make_toy_sample
    >>> from resonant_ad.data.features import compute_features
    >>> ev = compute_features(make_toy_sample(500, 0, 0, seed=1).background)
    >>> z, c = Conditioning.fit(ev, ev, "standard").tensors(ev, torch.device("cpu"))
    >>> z.shape[1] == ev.x.shape[1], abs(float(c.mean())) < 1e-6, round(float(c.std(False)), 4)
    (True, True, 1.0)
    """

    preprocessor: Preprocessor
    m_mean: float
    m_std: float

    @classmethod
    def fit(cls, train: Events, val: Events, preprocessing: str) -> Conditioning:
        """Fitted on ``train``; ``val`` is checked to match it."""
        if len(train) < 2 or len(val) < 1:
            raise InputError("need at least two training and one validation event")
        if train.feature_names != val.feature_names:
            raise InputError("training and validation events have different features")
        pre = Preprocessor(train.x.shape[1], preprocessing).fit(torch.as_tensor(train.x))
        return cls(pre, float(np.mean(train.m)), float(np.std(train.m)) or 1.0)

    @property
    def m_scale(self) -> tuple[float, float]:
        return self.m_mean, self.m_std

    def tensors(self, events: Events, device: torch.device) -> tuple[Tensor, Tensor]:
        """Preprocessed features ``(n, d)`` and standardised masses ``(n, 1)``, float32.

        Events without finite preprocessed features are left out (with a warning): under
        the ``logit`` preprocessing, those outside the range of the events it was fitted on
        (a validation event above the training maximum, data outside the simulation's
        range). The model gives them no density, and one of them would make a validation
        loss NaN, and the choice of the best epochs meaningless.
        """
        with torch.no_grad():
            z, _ = self.preprocessor.to(device)(torch.as_tensor(events.x, device=device))
        c = (torch.as_tensor(events.m, device=device) - self.m_mean) / self.m_std
        keep = torch.isfinite(z).all(dim=1)
        if not bool(keep.all()):
            log.warning(
                "%d of %d events lie outside the features' %s range and are left out",
                int((~keep).sum()),
                len(events),
                self.preprocessor.kind,
            )
            z, c = z[keep], c[keep]
        return z.float(), c.float().unsqueeze(1)
