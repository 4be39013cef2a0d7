"""The background-template interface shared by every template family, SR mass sampling, and
:class:`FlowMethod`, the registry entry of the methods built on a flow-matching model."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion, silverman_bandwidth
from resonant_ad.errors import InputError
from resonant_ad.flows.model import FlowMatchingModel
from resonant_ad.methods.registry import FitInputs, Method, RegionInputs

if TYPE_CHECKING:
    from resonant_ad.config import StudyConfig

__all__ = ["FlowMethod", "FlowTemplate", "Template", "sample_masses", "sample_per_region"]

log = logging.getLogger(__name__)


def sample_masses(
    m_sr: np.ndarray, n: int, rng: np.random.Generator, signal_region: SignalRegion
) -> np.ndarray:
    """``n`` masses from a Gaussian KDE of the SR data's masses ``m_sr``.

    Each draw is a resampled SR mass plus Gaussian noise of Silverman's bandwidth
    ``0.9 min(std, IQR / 1.34) n^(-1/5)``; draws that leave ``[lo, hi]`` are reflected back
    at the window edge, so the density keeps the SR shape without edge leakage.

    >>> m = sample_masses(np.linspace(3.3, 3.7, 101), 1000, np.random.default_rng(0),
    ...                   SignalRegion(3.3, 3.7))
    >>> bool(m.min() >= 3.3 and m.max() <= 3.7), len(m)
    (True, 1000)
    """
    m_sr = np.asarray(m_sr, dtype=np.float64).reshape(-1)
    m_sr = m_sr[signal_region.contains(m_sr)]
    if len(m_sr) < 2:
        raise InputError(f"{len(m_sr)} SR masses given: need at least two to sample from")
    if n < 0:
        raise InputError(f"number of template events must be non-negative, got {n}")
    h = silverman_bandwidth(m_sr)
    m = rng.choice(m_sr, size=n) + h * rng.standard_normal(n)
    lo, hi = signal_region.lo, signal_region.hi
    for _ in range(4):  # reflect at both edges; repeats only for draws wider than the window
        m = np.where(m < lo, 2 * lo - m, m)
        m = np.where(m > hi, 2 * hi - m, m)
    return np.clip(m, lo, hi)


def sample_per_region(model: Any, inputs: RegionInputs, n: int, what: str, **kwargs: Any) -> Events:
    """``n`` template events of a model trained for one SR (its ``signal_region_``; ``None``
    for a model of all masses) in ``inputs.region``: masses from the SR data
    (:func:`sample_masses`), features from ``model.sample(masses, seed=..., **kwargs)``,
    both seeded from ``inputs.seed``. ``what`` names the model in the error raised when it
    was trained for another SR."""
    sr = getattr(model, "signal_region_", None)
    if sr is not None and (sr.lo, sr.hi) != (inputs.region.lo, inputs.region.hi):
        raise InputError(
            f"this {what} was trained for {sr}, not {inputs.region}: train one per signal region"
        )
    mass_seed, model_seed = (int(s) for s in np.random.SeedSequence(inputs.seed).generate_state(2))
    masses = sample_masses(inputs.data.m, n, np.random.default_rng(mass_seed), inputs.region)
    x = model.sample(masses, seed=model_seed, **kwargs)
    return Events(masses, x, np.zeros(n, dtype=np.int64), model.feature_names_)


class Template(ABC):
    """A background template: a model of ``p_background(x | m)`` in a signal region.

    ``fit(train, val, signal_region)`` trains what the family needs (some families train
    once for all SRs and ignore ``signal_region``); ``sample`` draws labelled-0 events at
    SR masses drawn from the SR data's masses ``m_sr`` (see :func:`sample_masses`);
    ``log_prob`` gives ``log p(x | m)`` where the family has a density.
    """

    name: ClassVar[str] = ""

    @abstractmethod
    def fit(
        self, train: Events, val: Events, signal_region: SignalRegion | None = None
    ) -> Template: ...

    @abstractmethod
    def sample(
        self, signal_region: SignalRegion, m_sr: np.ndarray, n: int, seed: int | None = None
    ) -> Events: ...

    def log_prob(self, x: np.ndarray, m: np.ndarray, signal_region: SignalRegion) -> np.ndarray:
        raise NotImplementedError(f"the {self.name!r} template has no density")

    @abstractmethod
    def state(self) -> dict[str, Any]: ...

    def save(self, path: str | Path) -> None:
        """Write the fitted template (its model included) to one file."""
        import torch

        torch.save({"template": self.name, **self.state()}, Path(path))

    @staticmethod
    def load(path: str | Path, device: str = "auto") -> Template:
        """Read any template written by :meth:`save` (the family is stored in the file)."""
        import torch

        from resonant_ad.methods.families import template_from_state

        state = torch.load(Path(path), map_location="cpu", weights_only=False)
        return template_from_state(state, device)


class FlowTemplate(Template):
    """Template backed by a :class:`~resonant_ad.flows.model.FlowMatchingModel`.

    Pass an already fitted ``model`` to share it between templates (SIGMA: one ``v_data``
    for every SR and interpolation); otherwise :meth:`fit` builds one from ``preset`` and
    ``model_params`` and trains it.
    """

    mass_embedding: ClassVar[str] = "frequency"

    def __init__(
        self,
        model: Any = None,
        *,
        preset: str = "cpu",
        model_params: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.preset = preset
        self.model_params = dict(model_params or {})

    def _new_model(self) -> Any:
        params = {"mass_embedding": self.mass_embedding, **self.model_params}
        return FlowMatchingModel.from_preset(self.preset, **params)

    def _fitted_model(self) -> Any:
        if self.model is None or not hasattr(self.model, "fields_"):
            raise InputError(f"the {self.name!r} template has no fitted model: call fit()")
        return self.model

    def interpolation(self, signal_region: SignalRegion) -> Any:
        """The mass interpolation for ``signal_region`` (``None``: evaluate at SR masses)."""
        return None

    def _check_region(self, signal_region: SignalRegion) -> None:
        """Raise if the model cannot serve ``signal_region``."""

    def sample(
        self,
        signal_region: SignalRegion,
        m_sr: np.ndarray,
        n: int,
        seed: int | None = None,
        *,
        solver: Any = None,
    ) -> Events:
        """``n`` template events at masses drawn from ``m_sr`` (label 0)."""
        model = self._fitted_model()
        self._check_region(signal_region)
        seq = np.random.SeedSequence(seed)
        mass_seed, flow_seed = (int(s) for s in seq.generate_state(2))
        masses = sample_masses(m_sr, n, np.random.default_rng(mass_seed), signal_region)
        x = model.sample(
            masses, seed=flow_seed, interpolation=self.interpolation(signal_region), solver=solver
        )
        self.sampling_stats_ = dict(model.sampling_stats_)
        return Events(masses, x, np.zeros(n, dtype=np.int64), model.feature_names_)

    def log_prob(
        self, x: np.ndarray, m: np.ndarray, signal_region: SignalRegion, *, solver: Any = None
    ) -> np.ndarray:
        """Exact ``log p(x | m)`` of the template in the original feature space."""
        model = self._fitted_model()
        self._check_region(signal_region)
        return np.asarray(
            model.log_prob(x, m, interpolation=self.interpolation(signal_region), solver=solver)
        )

    def settings(self) -> dict[str, Any]:
        return {"preset": self.preset, "model_params": self.model_params}

    def state(self) -> dict[str, Any]:
        return {"settings": self.settings(), "model": self._fitted_model().state()}


class FlowMethod(Method):
    """A registered method whose model is a :class:`~resonant_ad.flows.model.FlowMatchingModel`.

    Subclasses set ``template_class`` (the :class:`FlowTemplate` that trains and samples it);
    the model is stored with the flow's own format (:meth:`FlowMatchingModel.save`).
    """

    template_class: ClassVar[type[FlowTemplate]]
    model_class = FlowMatchingModel
    has_density = True

    def flow_template(self, model: Any, inputs: RegionInputs) -> FlowTemplate:
        """The template of ``model`` for ``inputs.region``."""
        return self.template_class(model)

    def model_settings(self, config: StudyConfig) -> Any:
        from resonant_ad.flows.velocity import REVISION

        return ("flow-matching", REVISION, *super().model_settings(config))

    def log_density(self, model: Any, inputs: RegionInputs, events: Events) -> np.ndarray:
        """Exact ``log p_B(x | m)`` (SIGMA eq. 6) with the ``[density]`` ODE solver."""
        from resonant_ad.flows.ode import ODESolver

        d = inputs.config.density
        return self.flow_template(model, inputs).log_prob(
            events.x, events.m, inputs.region, solver=ODESolver(d.solver, d.solver_steps)
        )

    def fit(self, inputs: FitInputs) -> Any:
        template = self.template_class(
            preset=inputs.config.model.preset, model_params=inputs.model_params()
        )
        template.fit(inputs.train, inputs.val, signal_region=inputs.region)
        return template.model
