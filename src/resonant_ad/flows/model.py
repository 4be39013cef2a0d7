"""``FlowMatchingModel``: a conditional flow-matching estimator of p(x | m) with an ensemble."""

from __future__ import annotations

import inspect
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from resonant_ad import __version__
from resonant_ad.data.events import Events
from resonant_ad.errors import InputError
from resonant_ad.flows.interpolation import InterpolatedField, MassInterpolation
from resonant_ad.flows.matching import OTPath, draw_path_variables, flow_matching_loss
from resonant_ad.flows.ode import ODESolver, log_likelihood, sample_field
from resonant_ad.flows.preprocessing import Preprocessor
from resonant_ad.flows.presets import preset
from resonant_ad.flows.velocity import ResNetField
from resonant_ad.persistence import TrainedEnsemble
from resonant_ad.training import TrainingConfig, resolve_device, train

__all__ = ["SELECTIONS", "FlowMatchingModel"]

log = logging.getLogger(__name__)

_FORMAT = "resonant_ad.FlowMatchingModel"
_FORMAT_VERSION = 2

SELECTIONS = ("loss", "nll")
"""Validation scores for epoch selection: the flow-matching loss (with fixed draws) or the
exact negative log-likelihood of a fixed validation subset."""


class FlowMatchingModel(TrainedEnsemble):
    """Conditional flow-matching model of ``p(x | m)`` (SIGMA, arXiv:2410.20537).

    scikit-learn conventions: ``__init__`` stores hyper-parameters, :meth:`fit` builds and
    trains the networks and sets the fitted attributes ``fields_`` (one
    :class:`ResNetField` per kept ensemble member, best first), ``preprocessor_``,
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

    def __init__(
        self,
        *,
        width: int = 256,
        blocks: int = 4,
        dropout: float = 0.2,
        batch_norm: bool = True,
        mass_embedding: str = "frequency",
        mass_frequencies: int = 9,
        time_frequencies: int = 3,
        path_sigma: float = 0.0,
        preprocessing: str = "standard",
        batch_size: int = 4096,
        learning_rate: float = 3e-4,
        weight_decay: float = 1e-2,
        max_epochs: int = 2000,
        plateau_factor: float = 0.3,
        plateau_patience: int = 50,
        early_stopping_patience: int = 100,
        n_best: int = 10,
        validate_every: int = 1,
        validate_after: int = 0,
        max_seconds: float | None = None,
        solver: str = "dopri5",
        solver_steps: int = 20,
        atol: float = 1e-5,
        rtol: float = 1e-5,
        nll_monitor_events: int = 0,
        nll_monitor_every: int = 1,
        selection: str = "loss",
        selection_events: int = 4096,
        checkpoint_path: str | None = None,
        progress: bool = False,
        random_state: int | None = None,
        device: str = "auto",
    ) -> None:
        self.width = width
        self.blocks = blocks
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.mass_embedding = mass_embedding
        self.mass_frequencies = mass_frequencies
        self.time_frequencies = time_frequencies
        self.path_sigma = path_sigma
        self.preprocessing = preprocessing
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.plateau_factor = plateau_factor
        self.plateau_patience = plateau_patience
        self.early_stopping_patience = early_stopping_patience
        self.n_best = n_best
        self.validate_every = validate_every
        self.validate_after = validate_after
        self.max_seconds = max_seconds
        self.solver = solver
        self.solver_steps = solver_steps
        self.atol = atol
        self.rtol = rtol
        self.nll_monitor_events = nll_monitor_events
        self.nll_monitor_every = nll_monitor_every
        self.selection = selection
        self.selection_events = selection_events
        self.checkpoint_path = checkpoint_path
        self.progress = progress
        self.random_state = random_state
        self.device = device

    # ------------------------------------------------------------------ parameters
    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> FlowMatchingModel:
        """A model with a named preset's hyper-parameters (``paper``, ``cpu``, ``tiny``)."""
        return cls(**{**preset(name), **overrides})

    def get_params(self) -> dict[str, Any]:
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

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

    def _network_kwargs(self, features: int, mass_range: tuple[float, float]) -> dict[str, Any]:
        return {
            "features": features,
            "width": self.width,
            "blocks": self.blocks,
            "dropout": self.dropout,
            "batch_norm": self.batch_norm,
            "mass_embedding": self.mass_embedding,
            "mass_frequencies": self.mass_frequencies,
            "time_frequencies": self.time_frequencies,
            "mass_range": mass_range,
        }

    # ------------------------------------------------------------------ fitting
    def fit(self, train_events: Events, val_events: Events) -> FlowMatchingModel:
        """Train on ``train_events``, select on ``val_events``; returns ``self``."""
        if train_events.x.shape[1] != val_events.x.shape[1]:
            raise InputError("training and validation events have different feature counts")
        if len(train_events) < 2 or len(val_events) < 1:
            raise InputError("need at least two training and one validation event")
        if self.selection not in SELECTIONS:
            raise InputError(f"selection {self.selection!r}: choose one of {SELECTIONS}")
        seed = (
            int(self.random_state)
            if self.random_state is not None
            else int(np.random.SeedSequence().generate_state(1)[0])
        )
        device = resolve_device(self.device)
        d = train_events.x.shape[1]
        m_all = np.concatenate([train_events.m, val_events.m])
        mass_range = (float(m_all.min()), float(m_all.max()))
        if not mass_range[1] > mass_range[0]:
            raise InputError("all events have the same mass: cannot condition on it")

        pre = Preprocessor(d, self.preprocessing).fit(torch.as_tensor(train_events.x))
        torch_gen = torch.Generator().manual_seed(seed)
        # initialise from a seeded generator without touching the global one
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=torch_gen)))
            network = ResNetField(**self._network_kwargs(d, mass_range))
        network.to(device)
        pre.to(device)

        def to_z(events: Events) -> tuple[Tensor, Tensor]:
            z, _ = pre(torch.as_tensor(events.x, device=device))
            return z.float(), torch.as_tensor(events.m, dtype=torch.float32, device=device)

        z_train, m_train = to_z(train_events)
        z_val, m_val = to_z(val_events)
        path = OTPath(self.path_sigma)
        val_gen = torch.Generator().manual_seed(seed + 2)
        t_val, x1_val, eps_val = (
            v.to(device) for v in draw_path_variables(z_val.cpu(), generator=val_gen)
        )

        def loss_fn(module: nn.Module, batch: tuple[Tensor, ...], gen: torch.Generator) -> Tensor:
            z, m = batch
            t, x1, eps = draw_path_variables(z, generator=gen)
            return flow_matching_loss(module, path, z, m, t, x1, eps)

        chunk = max(self.batch_size, 16384)

        def validate_loss(module: nn.Module) -> float:
            total = 0.0
            for s in range(0, len(z_val), chunk):
                sl = slice(s, s + chunk)
                loss = flow_matching_loss(
                    module, path, z_val[sl], m_val[sl], t_val[sl], x1_val[sl], eps_val[sl]
                )
                total += float(loss) * len(z_val[sl])
            return total / len(z_val)

        def nll_on(n: int, solver: ODESolver) -> Callable[[nn.Module], float]:
            """The exact mean NLL of the first ``n`` validation events, in feature space."""
            n = min(n, len(z_val))
            logdet = float(pre(torch.as_tensor(val_events.x[:n], device=device))[1].mean())

            def nll(module: nn.Module) -> float:
                total = 0.0
                for s in range(0, n, chunk):
                    e = min(s + chunk, n)
                    lp, _ = log_likelihood(module, z_val[s:e], m_val[s:e], solver)
                    total += float(lp.sum())
                return -total / n - logdet

            return nll

        validate = (
            validate_loss
            if self.selection == "loss"
            else nll_on(self.selection_events, ODESolver("rk4", 10))
        )

        monitor = None
        if self.nll_monitor_events > 0:
            monitor_nll = nll_on(self.nll_monitor_events, ODESolver("rk4", 10))
            every = max(1, self.nll_monitor_every) * max(1, self.validate_every)

            def monitor_fn(module: nn.Module, epoch: int) -> dict[str, float]:
                # by epoch number, so a resumed run monitors the same epochs
                if epoch % every and epoch != self.max_epochs:
                    return {}
                record = {"val_nll": monitor_nll(module)}
                if self.selection == "nll":  # the other score, for comparison
                    record["val_loss"] = validate_loss(module)
                return record

            monitor = monitor_fn

        config = TrainingConfig(
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            max_epochs=self.max_epochs,
            plateau_factor=self.plateau_factor,
            plateau_patience=self.plateau_patience,
            early_stopping_patience=self.early_stopping_patience,
            n_best=self.n_best,
            validate_every=self.validate_every,
            validate_after=self.validate_after,
            max_seconds=self.max_seconds,
            checkpoint_path=self.checkpoint_path,
            progress=self.progress,
        )
        result = train(
            network,
            loss_fn,
            (z_train, m_train),
            validate,
            config,
            seed=seed,
            device=device,
            monitor=monitor,
        )
        self._set_fitted(
            network_kwargs=self._network_kwargs(d, mass_range),
            states=[c.state for c in result.members],
            preprocessor=pre.cpu(),
            feature_names=train_events.feature_names,
            device=device,
        )
        self.training_ = result
        self._record_training(result, None)
        return self

    def _set_fitted(
        self,
        *,
        network_kwargs: dict[str, Any],
        states: list[dict[str, Tensor]],
        preprocessor: Preprocessor,
        feature_names: tuple[str, ...],
        device: torch.device,
    ) -> None:
        fields = []
        for state in states:
            net = ResNetField(**network_kwargs)
            net.load_state_dict(state)
            fields.append(net.to(device).eval())
        self.network_kwargs_ = network_kwargs
        self.fields_ = fields
        self.preprocessor_ = preprocessor.to(device)
        self.mass_range_ = tuple(network_kwargs["mass_range"])
        self.feature_names_ = tuple(feature_names)
        self.n_features_in_ = int(network_kwargs["features"])
        self.device_ = device

    def _check_fitted(self) -> None:
        if not hasattr(self, "fields_"):
            raise InputError("this FlowMatchingModel is not fitted yet: call fit() or load()")

    def _members(self, members: int | None) -> list[ResNetField]:
        self._check_fitted()
        k = len(self.fields_) if members is None else members
        if not 1 <= k <= len(self.fields_):
            raise InputError(f"{members} members asked for; the model keeps {len(self.fields_)}")
        return self.fields_[:k]

    @staticmethod
    def _wrap(field: ResNetField, interpolation: MassInterpolation | None) -> nn.Module:
        return field if interpolation is None else InterpolatedField(field, interpolation)

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
        ``benchmarks/results/bench_logdensity.txt``). Timing and evaluation counts of the
        last call are kept in ``sampling_stats_``.
        """
        fields = self._members(members)
        gen = generator if generator is not None else torch.Generator()
        if generator is None:
            if seed is None:
                gen.seed()
            else:
                gen.manual_seed(int(seed))
        ode = self._solver(solver)
        m_t = torch.as_tensor(np.asarray(m, dtype=np.float64).reshape(-1), dtype=torch.float32)
        n, d = len(m_t), self.n_features_in_
        owner = torch.randperm(n, generator=gen).tensor_split(len(fields))
        x1 = torch.randn(n, d, generator=gen)
        z = torch.empty(n, d)
        nfe, start = 0, time.perf_counter()
        for field, idx in zip(fields, owner, strict=True):
            f = self._wrap(field, interpolation)
            for s in range(0, len(idx), batch_size):
                sub = idx[s : s + batch_size]
                out, k = sample_field(f, m_t[sub].to(self.device_), x1[sub].to(self.device_), ode)
                z[sub] = out.cpu()
                nfe += k
        with torch.no_grad():
            x = self.preprocessor_.inverse(z.to(self.device_, torch.float64)).cpu().numpy()
        self.sampling_stats_ = {
            "n": float(n),
            "seconds": time.perf_counter() - start,
            "evaluations": float(nfe),
            "evaluations_per_batch": nfe
            / max(1, sum(math.ceil(len(i) / batch_size) for i in owner)),
        }
        return x

    def default_batch_size(self) -> int:
        """Events per ODE solve of :meth:`log_prob`: 16384 on a CPU, where the activations
        that the per-feature backward passes reuse then stay in cache (100k log-densities
        of the ``cpu`` preset's field 14-28% faster than in batches of 65536 over four runs,
        ``benchmarks/results/bench_logdensity.txt``), 131072 on a GPU."""
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
        :meth:`sample` draws from): ``log mean_k p_k(x | m)``. ``batch_size``: events per
        ODE solve (default: :meth:`default_batch_size`).
        """
        fields = self._members(members)
        batch_size = batch_size or self.default_batch_size()
        ode = self._solver(solver)
        x_t = torch.as_tensor(np.asarray(x, dtype=np.float64), device=self.device_)
        if x_t.ndim != 2 or x_t.shape[1] != self.n_features_in_:
            raise InputError(f"x must have shape (n, {self.n_features_in_})")
        m_t = torch.as_tensor(np.asarray(m, dtype=np.float64).reshape(-1), device=self.device_)
        if len(m_t) != len(x_t):
            raise InputError(f"{len(m_t)} masses for {len(x_t)} events: need one mass per event")
        with torch.no_grad():
            z, logdet = self.preprocessor_(x_t)
        per_member = []
        for field in fields:
            f = self._wrap(field, interpolation)
            parts = []
            for s in range(0, len(z), batch_size):
                lp, _ = log_likelihood(
                    f, z[s : s + batch_size].float(), m_t[s : s + batch_size].float(), ode
                )
                parts.append(lp.double())
            per_member.append(torch.cat(parts))
        stacked = torch.stack(per_member)
        lp = torch.logsumexp(stacked, dim=0) - math.log(len(fields)) + logdet
        return lp.cpu().numpy()

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
        model._set_fitted(
            network_kwargs=net_kwargs,
            states=list(state["members"]),
            preprocessor=pre,
            feature_names=tuple(state["feature_names"]),
            device=resolve_device(device),
        )
        model._restore_training(state)
        model.history_ = list(state.get("history", []))
        return model
