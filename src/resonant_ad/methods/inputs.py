"""What a method is handed: the events its model trains on and what it gets in one SR.

:class:`FitInputs` goes to :meth:`~resonant_ad.methods.registry.Method.fit` (the events the
method's ``trains_on`` selects), :class:`RegionInputs` to its template, scores and density
in an SR; :class:`BackgroundDensity` holds the densities of a density method's fixed
background model, which both carry for the methods that have one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from resonant_ad.models.base import ModelContext

if TYPE_CHECKING:
    from resonant_ad.config import StudyConfig
    from resonant_ad.data.events import Events
    from resonant_ad.data.regions import SignalRegion

__all__ = ["BackgroundDensity", "FitInputs", "RegionInputs"]


@dataclass(frozen=True)
class BackgroundDensity:
    """``log p_B(x | m) + log p(m)`` of an SR's events under a background model (the
    density methods' fixed background): the SR events of the training and validation
    splits (in the order :class:`FitInputs` gives them) and the test events."""

    method: str
    """The background method (e.g. ``sigma-context``)."""
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    seconds: float = 0.0
    """What evaluating the densities took."""
    reference: Events | None = None
    """Events drawn from the background model in the SR (``[density] tilt > 0`` only): they
    normalise the tilt of ``p_B`` that the density methods fit as a nuisance."""
    correction: dict[str, float] | None = None
    """With ``[density] correction = "sidebands"``: the correction's diagnostics
    (:meth:`~resonant_ad.density.correction.SidebandCorrection.diagnostics`)."""
    log_mass: tuple[np.ndarray, ...] | None = None
    """``log p(m)`` of the training, validation and test events (the part of ``train``,
    ``val`` and ``test`` that is the mass density; ``None`` in densities cached before it
    was kept)."""


@dataclass(frozen=True)
class FitInputs:
    """What :meth:`~resonant_ad.methods.registry.Method.fit` gets: the events selected by the
    method's ``trains_on``."""

    train: Events
    val: Events
    region: SignalRegion | None
    """The SR the model is for (``None`` for models of all data or of simulation)."""
    config: StudyConfig
    seed: int
    checkpoint: Path | None = None
    """A file for resumable training checkpoints (``None``: do not checkpoint)."""
    progress: bool = False
    background: BackgroundDensity | None = None
    """The background densities of ``train`` and ``val`` (methods with a
    :meth:`~resonant_ad.methods.registry.Method.background_method` only)."""
    base: Any = None
    """The trained model of the method's
    :meth:`~resonant_ad.methods.registry.Method.base_method` (methods with a base only; e.g.
    ``feta`` gets the ``sim-nf`` flow of the simulation)."""
    simulation: Events | None = None
    """The whole simulation sample (``[data] simulation``, every mass) for methods with
    :attr:`~resonant_ad.methods.registry.Method.uses_simulation` (e.g. ``salad``, which reweights
    it); ``None`` for the others."""

    def context(self) -> ModelContext:
        """The context the model is built in: the SR, the run's device, checkpoint and
        progress bar, the base model and the simulation."""
        return ModelContext(
            self.region,
            self.config.device,
            None if self.checkpoint is None else str(self.checkpoint),
            self.progress,
            self.base,
            self.simulation,
        )


@dataclass(frozen=True)
class RegionInputs:
    """What a method gets in one SR: the observed SR data and, for yardsticks, the truth."""

    region: SignalRegion
    data: Events
    """The observed events in the SR (background and injected signal; labelled for
    yardsticks only)."""
    test: Events
    """The test events every method is scored on (labelled for yardsticks only)."""
    config: StudyConfig
    seed: int
    truth: Events | None = None
    """True SR background that no method sees in a real search (the idealized yardstick)."""
    signal: Events | None = None
    """Signal events in the SR kept out of the data (the supervised yardstick)."""
    background: BackgroundDensity | None = None
    """The background densities of the test events (methods with a
    :meth:`~resonant_ad.methods.registry.Method.background_method` only)."""

    def blind(self) -> RegionInputs:
        """What a method that is not a yardstick sees: the SR data and test events with
        every label 0, no truth and no signal."""
        return dataclasses.replace(
            self,
            data=self.data.with_label(0),
            test=self.test.with_label(0),
            truth=None,
            signal=None,
        )

    def classifier(self, **kwargs: Any) -> Any:
        """A new, unfitted ensemble of ``[classifier]`` seeded with ``seed`` (``kwargs``
        override its settings, e.g. ``n_folds``)."""
        from resonant_ad.detect.weakly_supervised import make_ensemble

        c = self.config.classifier
        settings = {"n_estimators": c.ensemble_size, "random_state": self.seed, **kwargs}
        return make_ensemble(c.kind, **settings)
