"""``FlowMatchingModel``: a conditional flow-matching estimator of p(x | m) with an ensemble."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import nn

from resonant_ad import __version__
from resonant_ad.data.events import Events
from resonant_ad.errors import InputError
from resonant_ad.flows.ensemble import FieldEnsemble
from resonant_ad.flows.fitting import FittedFlow, fit_flow
from resonant_ad.flows.interpolation import InterpolatedField, MassInterpolation
from resonant_ad.flows.ode import ODESolver
from resonant_ad.flows.preprocessing import Preprocessor
from resonant_ad.flows.presets import preset
from resonant_ad.persistence import TrainedEnsemble
from resonant_ad.training import resolve_device

__all__ = ["FlowMatchingModel"]

_FORMAT = "resonant_ad.FlowMatchingModel"
_FORMAT_VERSION = 2


@dataclass(kw_only=True, eq=False, repr=False)
class FlowMatchingModel(TrainedEnsemble):
    """Conditional flow-matching model of ``p(x | m)`` (SIGMA, arXiv:2410.20537).

    scikit-learn conventions: the hyper-parameters are the dataclass fields, which
    ``__init__`` stores unchanged (keyword arguments only), :meth:`fit` builds and
    trains the networks (:func:`~resonant_ad.flows.fitting.fit_flow`) and sets the fitted
    attributes ``fields_`` (one :class:`~resonant_ad.flows.velocity.ResNetField` per kept
    ensemble member, best first), ``preprocessor_``,
    ``mass_range_``, ``history_``, ``training_`` and ``feature_names_``.

    Model selection (the ``n_best`` epochs kept and averaged), the learning-rate plateau and
    early stopping use a validation score. ``selection="loss"``: the validation
    flow-matching loss with ``t``, noise fixed once per fit (seeded), a cheap proxy of the
    validation NLL (eq. 6). ``selection="nll"``: the exact NLL, as the paper selects, of the
    first ``selection_events`` validation events (a fixed subset). ``nll_monitor_events > 0``
    additionally records the exact NLL (eq. 6 with exact divergence, RK4 with 10 steps) of
    that many validation events every ``nll_monitor_every`` validations (and, under
    ``selection="nll"``, the loss), so each score can be checked against the other.

    ``preprocessing`` maps the features before the flow (see
    :class:`~resonant_ad.flows.preprocessing.Preprocessor`: ``"standard"``, ``"logit"`` or
    ``"gaussianize"``); densities are returned in the original feature space.

    Sampling and likelihoods use ``solver`` (``"dopri5"`` adaptive with ``atol``/``rtol``,
    or fixed-step ``"euler"``, ``"midpoint"``, ``"rk4"`` with ``solver_steps``).
    """

    width: int = 256
    blocks: int = 4
    dropout: float = 0.2
    batch_norm: bool = True
    mass_embedding: str = "frequency"
    mass_frequencies: int = 9
    time_frequencies: int = 3
    path_sigma: float = 0.0
    preprocessing: str = "standard"
    batch_size: int = 4096
    learning_rate: float = 3e-4
    weight_decay: float = 1e-2
    max_epochs: int = 2000
    plateau_factor: float = 0.3
    plateau_patience: int = 50
    early_stopping_patience: int = 100
    n_best: int = 10
    validate_every: int = 1
    validate_after: int = 0
    max_seconds: float | None = None
    solver: str = "dopri5"
    solver_steps: int = 20
    atol: float = 1e-5
    rtol: float = 1e-5
    nll_monitor_events: int = 0
    nll_monitor_every: int = 1
    selection: str = "loss"
    selection_events: int = 4096
    checkpoint_path: str | None = None
    progress: bool = False
    random_state: int | None = None
    device: str = "auto"

    # ------------------------------------------------------------------ parameters
    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> FlowMatchingModel:
        """A model with a named preset's hyper-parameters (``paper``, ``cpu``, ``tiny``)."""
        return cls(**{**preset(name), **overrides})

    def get_params(self) -> dict[str, Any]:
        """The hyper-parameters (the dataclass fields) by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def set_params(self, **params: Any) -> FlowMatchingModel:
        valid = self.get_params()
        for key, value in params.items():
            if key not in valid:
                raise InputError(f"unknown parameter {key!r} of FlowMatchingModel")
            setattr(self, key, value)
        return self

    def _solver(self, solver: ODESolver | None) -> ODESolver:
        if solver is not None:
            return solver
        return ODESolver(self.solver, self.solver_steps, self.atol, self.rtol)

    # ------------------------------------------------------------------ fitting
    def fit(self, train_events: Events, val_events: Events) -> FlowMatchingModel:
        """Train on ``train_events``, select on ``val_events``; returns ``self``."""
        fitted, result, device = fit_flow(self, train_events, val_events)
        self._set_fitted(fitted, device)
        self.training_ = result
        self._record_training(result, None)
        return self

    def _set_fitted(self, fitted: FittedFlow, device: torch.device) -> None:
        self.network_kwargs_ = fitted.network_kwargs
        self.fields_ = fitted.fields(device)
        self.preprocessor_ = fitted.preprocessor.to(device)
        self.mass_range_ = tuple(fitted.network_kwargs["mass_range"])
        self.feature_names_ = tuple(fitted.feature_names)
        self.n_features_in_ = int(fitted.network_kwargs["features"])
        self.device_ = device

    def _check_fitted(self) -> None:
        if not hasattr(self, "fields_"):
            raise InputError("this FlowMatchingModel is not fitted yet: call fit() or load()")

    def _ensemble(
        self, members: int | None, interpolation: MassInterpolation | None
    ) -> FieldEnsemble:
        """The first ``members`` fields (all if None), through ``interpolation`` if given."""
        self._check_fitted()
        k = len(self.fields_) if members is None else members
        if not 1 <= k <= len(self.fields_):
            raise InputError(f"{members} members asked for; the model keeps {len(self.fields_)}")
        fields: list[nn.Module] = [
            f if interpolation is None else InterpolatedField(f, interpolation)
            for f in self.fields_[:k]
        ]
        return FieldEnsemble(fields, self.preprocessor_, self.device_)

    # ------------------------------------------------------------------ sampling
    def sample(
        self,
        m: np.ndarray,
        *,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        interpolation: MassInterpolation | None = None,
        solver: ODESolver | None = None,
        members: int | None = None,
        batch_size: int = 131072,
    ) -> np.ndarray:
        """Features ``x ~ p(x | m)``, one row per mass in ``m``, shape ``(len(m), d)``.

        Samples are split at random over the ensemble members (a mixture of the members).
        ``interpolation`` evaluates the field through anchor masses (SIGMA eqs. 12, 13).
        Randomness comes only from ``generator`` (a CPU generator), or from ``seed``; the
        noise is drawn before the events are split into batches of ``batch_size`` (on a CPU
        sampling takes as long in batches of 16384 as of 131072, measured in
        ``benchmarks/density/results/logdensity_ode_timing.txt``). Timing and evaluation
        counts of the last call are kept in ``sampling_stats_``.
        """
        ensemble = self._ensemble(members, interpolation)
        gen = generator if generator is not None else torch.Generator()
        if generator is None:
            if seed is None:
                gen.seed()
            else:
                gen.manual_seed(int(seed))
        m_t = torch.as_tensor(np.asarray(m, dtype=np.float64).reshape(-1), dtype=torch.float32)
        x, self.sampling_stats_ = ensemble.sample(
            m_t, self.n_features_in_, gen, self._solver(solver), batch_size
        )
        return x

    def default_batch_size(self) -> int:
        """Events per ODE solve of :meth:`log_prob`: 16384 on a CPU, where the activations
        that the per-feature backward passes reuse then stay in cache (100k log-densities
        of the ``cpu`` preset's field 14-28% faster than in batches of 65536 over four runs,
        ``benchmarks/density/results/logdensity_ode_timing.txt``), 131072 on a GPU."""
        return 16384 if self.device_.type == "cpu" else 131072

    # ------------------------------------------------------------------ likelihood
    def log_prob(
        self,
        x: np.ndarray,
        m: np.ndarray,
        *,
        interpolation: MassInterpolation | None = None,
        solver: ODESolver | None = None,
        members: int | None = None,
        batch_size: int | None = None,
    ) -> np.ndarray:
        """Exact ``log p(x | m)`` (eq. 6) in the original feature space.

        The density of the ensemble is the mixture of its members (the distribution
        :meth:`sample` draws from, :class:`~resonant_ad.flows.ensemble.FieldEnsemble`):
        ``log mean_k p_k(x | m)``. ``batch_size``: events per ODE solve (default:
        :meth:`default_batch_size`).
        """
        ensemble = self._ensemble(members, interpolation)
        batch_size = batch_size or self.default_batch_size()
        ode = self._solver(solver)
        x_t = torch.as_tensor(np.asarray(x, dtype=np.float64), device=self.device_)
        if x_t.ndim != 2 or x_t.shape[1] != self.n_features_in_:
            raise InputError(f"x must have shape (n, {self.n_features_in_})")
        m_t = torch.as_tensor(np.asarray(m, dtype=np.float64).reshape(-1), device=self.device_)
        if len(m_t) != len(x_t):
            raise InputError(f"{len(m_t)} masses for {len(x_t)} events: need one mass per event")
        return ensemble.log_prob(x_t, m_t, ode, batch_size)

    # ------------------------------------------------------------------ persistence
    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild the fitted model, as plain Python and tensors."""
        self._check_fitted()
        params = self.get_params()
        return {
            "format": _FORMAT,
            "format_version": _FORMAT_VERSION,
            "versions": {"resonant_ad": __version__, "torch": torch.__version__},
            "params": params,
            "network": self.network_kwargs_,
            "members": [
                {k: v.detach().cpu() for k, v in f.state_dict().items()} for f in self.fields_
            ],
            **self._training_state(),
            "preprocessor": {k: v.cpu() for k, v in self.preprocessor_.state_dict().items()},
            "feature_names": list(self.feature_names_),
            "history": list(getattr(self, "history_", [])),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], device: str = "auto") -> FlowMatchingModel:
        """Rebuild a fitted model from :meth:`state` on ``device``."""
        if state.get("format") != _FORMAT:
            raise InputError("not a saved FlowMatchingModel")
        if state.get("format_version", 0) > _FORMAT_VERSION:
            raise InputError("this FlowMatchingModel was saved by a newer resonant-ad")
        if state.get("format_version", 0) < _FORMAT_VERSION:
            raise InputError(
                "this FlowMatchingModel was saved by an older resonant-ad (before the "
                "preprocessing setting): train it again"
            )
        params = dict(state["params"])
        params["device"] = device
        model = cls(**params)
        net_kwargs = dict(state["network"])
        net_kwargs["mass_range"] = tuple(net_kwargs["mass_range"])
        d = int(net_kwargs["features"])
        knots = int(state["preprocessor"]["z_knots"].shape[0])
        pre = Preprocessor(d, params["preprocessing"], knots=knots)
        pre.load_state_dict(state["preprocessor"])
        fitted = FittedFlow(net_kwargs, list(state["members"]), pre, tuple(state["feature_names"]))
        model._set_fitted(fitted, resolve_device(device))
        model._restore_training(state)
        model.history_ = list(state.get("history", []))
        return model
