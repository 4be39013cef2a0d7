"""``data`` template: v_data trained on all data, evaluated in the SR (learns the signal)."""

from __future__ import annotations

from typing import ClassVar

from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion
from resonant_ad.templates.base import FlowTemplate

__all__ = ["DataTemplate"]


class DataTemplate(FlowTemplate):
    """``v_data(x | t, m)`` sampled at SR masses directly.

    Trained on all data, the SR included, with the frequency embedding of ``m``: it models
    the *data*, signal included, so it is a yardstick (a template that should show the
    signal), not a background estimate. Its fitted model is the one SIGMA interpolates.
    """

    name: ClassVar[str] = "data"

    def fit(
        self, train: Events, val: Events, signal_region: SignalRegion | None = None
    ) -> DataTemplate:
        """Train ``v_data`` on all of ``train`` (``signal_region`` is not needed)."""
        self.model = self._new_model().fit(train, val)
        return self
