"""The sideband data themselves as the background template: CWoLa hunting's reference.

CWoLa hunting (Collins, Howe and Nachman, arXiv:1902.02634) trains the classifier on the SR
data against the data of the sidebands next to it, with no generative model: where the
features do not depend on the mass, the sidebands' events are a sample of the SR's
background, and the classifier learns only the signal. Where they do depend on the mass,
the two differ by that dependence too (mass sculpting), and the classifier learns it as if
it were a signal; :class:`SidebandEvents` keeps the sideband events of one SR for that
comparison, and the method's documentation states the sculpting measured.
"""

from __future__ import annotations

from dataclasses import dataclass

from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion, near_sidebands
from resonant_ad.errors import InputError
from resonant_ad.models.base import Configured

__all__ = ["SidebandEvents", "SidebandSettings"]

MIN_EVENTS = 100
"""Fewer sideband events than this are no reference for a classifier."""


@dataclass(frozen=True)
class SidebandSettings:
    """``width``: TeV of sideband on each side of the SR (``None``: the SR's own width, the
    paper's choice of neighbouring bins)."""

    width: float | None = None

    def __post_init__(self) -> None:
        if self.width is not None and not self.width > 0:
            raise InputError(f"sideband width must be positive, got {self.width}")


class SidebandEvents(Configured[SidebandSettings]):
    """The data events of the sidebands of one SR, training and validation splits alike;
    :meth:`sample_events` hands them over as they are (label 0), however many template
    events are asked for: CWoLa compares the SR with all of its neighbours' events.

    >>> import numpy as np
    >>> from resonant_ad.models.base import ModelContext
    >>> m = np.linspace(2.9, 4.1, 1201)
    >>> ev = Events(m, np.zeros((len(m), 1)), np.zeros(len(m)), ("a",))
    >>> sr = SignalRegion(3.3, 3.7)
    >>> train, val = ev.select(slice(0, None, 2)), ev.select(slice(1, None, 2))
    >>> model = SidebandEvents(SidebandSettings(0.2), ModelContext(sr)).fit(train, val)
    >>> t = model.sample_events(sr, 10)
    >>> len(t), round(float(t.m.min()), 6), round(float(t.m.max()), 6)
    (400, 3.1, 3.9)
    """

    SETTINGS = SidebandSettings

    def fit(self, train: Events, val: Events, *, random_state: int | None = None) -> SidebandEvents:
        """Keep the events of ``train`` and ``val`` within the sidebands' width of the SR."""
        region = self.context.region
        if region is None:
            raise InputError("CWoLa's sidebands belong to one signal region: give one")
        width = region.width if self.settings.width is None else self.settings.width
        events = near_sidebands(Events.concatenate([train, val]), region, width)
        if len(events) < MIN_EVENTS:
            raise InputError(
                f"{len(events)} events in the {width:g}-TeV sidebands of {region}, fewer than "
                f"{MIN_EVENTS}: no reference for the classifier"
            )
        self.events_ = events.with_label(0)
        self.feature_names_ = events.feature_names
        self.width_ = width
        return self

    def sample_events(self, region: SignalRegion, n: int, *, seed: int | None = None) -> Events:
        """The sideband events (``n`` and ``seed`` unused: they are not drawn)."""
        return self.events_
