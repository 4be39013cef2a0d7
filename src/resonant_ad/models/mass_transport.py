"""CURTAINs flows for flows' model (:class:`MassTransport`): sideband events moved in mass
into the SR by a flow trained by maximum likelihood through a base flow of the sidebands."""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion
from resonant_ad.data.spectrum import SQRT_S, DijetFit
from resonant_ad.errors import InputError
from resonant_ad.models.conditional_flow import PRESETS as FLOW_PRESETS
from resonant_ad.models.conditional_flow import ConditionalFlow, FlowSettings
from resonant_ad.models.conditioning import move_inputs
from resonant_ad.models.transport import (
    TransportEnsemble,
    apply_members,
    base_tensors,
    transport_maf,
)
from resonant_ad.persistence import seeded_generator
from resonant_ad.training import train as run_training

__all__ = ["PRESETS", "F4FSettings", "MassTransport"]


def _ranges(
    m: np.ndarray, sr: SignalRegion, window: float | None
) -> tuple[tuple[float, float], ...]:
    """The sideband mass ranges within ``window`` SR widths of the SR (``None``: all),
    bounded by the sideband masses ``m`` seen."""
    w = math.inf if window is None else window * sr.width
    below, above = m[m < sr.lo], m[m > sr.hi]
    ranges = []
    if len(below):
        ranges.append((max(sr.lo - w, float(below.min())), sr.lo))
    if len(above):
        ranges.append((sr.hi, min(sr.hi + w, float(above.max()))))
    return tuple(ranges)


@dataclass(frozen=True)
class F4FSettings:
    """The transport's flow (``flow``: size and training, the base flow's too where the
    model trains its own) and what ``curtains-f4f`` adds to it (its cache key).

    ``fit_window``: the mjj fit uses the sideband masses within this many SR widths of the
    SR edges, where the dijet function must describe the SR's neighbourhood, away from a
    trigger turn-on (``None``: every sideband mass). ``source_window``: the same for the
    template's source events; ``None`` (the default), every sideband event. Measured on
    a toy LHCO-like background (see :class:`CurtainsF4FMethod`): with the sources within one
    SR width, 100,000 template events come from 18,844 sources, about five near-copies of
    each, and a classifier tells them from true SR background with AUC 0.571; from all
    55,673 sideband events, 0.546; the template's feature means are as good either way.
    ``balanced``: the template takes as many source events from below as from above the SR
    (each side's events used equally often), so that a transport that moves events too
    little, or too far, errs in opposite directions from the two sides; otherwise every
    source event is used equally often, and the falling spectrum makes the lower sideband
    dominate (AUC 0.555 on that toy). ``sqrt_s``: the collision energy (TeV) of the dijet
    function.
    """

    fit_window: float | None = 1.0
    source_window: float | None = None
    balanced: bool = True
    sqrt_s: float = SQRT_S
    flow: FlowSettings = field(default=FlowSettings())

    def __post_init__(self) -> None:
        for name in ("fit_window", "source_window"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise InputError(f"curtains-f4f {name} {value}: must be positive (or None)")


PRESETS = {name: F4FSettings(flow=flow) for name, flow in FLOW_PRESETS.items()}
"""``curtains-f4f``'s settings per ``[model] preset``: the flows' presets."""


class MassTransport(TransportEnsemble):
    """CURTAINs-F4F's model of one SR: a frozen base flow ``p(x | m)`` of the sidebands, a
    transport ``T(x; m_in, m_out)`` that moves an event at ``m_in`` to ``m_out``, the
    sideband events it moves into the SR, and the fit of the sidebands' ``mjj`` spectrum
    that gives the SR masses.

    Everything happens in the base flow's preprocessed space ``z`` with its standardised
    masses as context. ``T`` is a :mod:`zuko` MAF with the two standardised masses as its
    context, started at the identity, trained by maximum likelihood through the frozen base
    on pairs of sideband events: each event ``z`` at ``m_in`` of a batch gets as ``m_out``
    the mass of another event of the batch (a random permutation, so pairs go up and down
    in mass, within and across the sidebands), and the loss is ``-[log p_base(T(z; m_in,
    m_out) | m_out) + log |det dT/dz|]``; the validation loss uses one fixed pairing. The
    ``n_best`` epochs of lowest validation loss are kept and each template event goes
    through one of them picked at random (an equal-weight mixture).

    The template (:meth:`sample_events`): SR masses drawn from the :class:`DijetFit` of
    the sideband masses, each paired with a source event of the sidebands (per
    :class:`F4FSettings`, each source event used for several masses when the template
    outnumbers them) and moved to it by ``T``.
    """

    CONTEXT = 2
    SETTINGS = F4FSettings
    FORMAT = "resonant_ad.MassTransport"
    VERSION = 2

    # ------------------------------------------------------------------ fitting
    def fit(self, train: Events, val: Events, *, random_state: int = 0) -> MassTransport:
        """Train the transport through ``context.base`` (a fitted flow of the sidebands:
        its best ensemble member, copied and frozen; without one, the flow of
        ``settings.flow`` trained first on the same events and seed) on the sideband events
        ``train`` (epochs selected on ``val``), fit the sidebands' ``mjj`` and keep the
        template's source events; returns ``self``."""
        signal_region = self.context.needs_region("curtains-f4f")
        seed = random_state
        base, base_seconds = self.context.base, math.nan
        if base is None:  # no base handed over (e.g. the scan): cathode-nf's own flow
            t0 = time.perf_counter()
            checkpoint = self.context.checkpoint
            own = dataclasses.replace(
                self.context, checkpoint=None if checkpoint is None else checkpoint + ".base"
            )
            base = ConditionalFlow(self.settings.flow, own).fit(train, val, random_state=seed)
            base_seconds = time.perf_counter() - t0
        if not isinstance(base, ConditionalFlow):
            raise InputError(f"curtains-f4f's base must be the cathode-nf flow, got {base!r}")
        frozen, dev = self._frozen_base(base, train, "the events'", "the base flow's")
        every = Events.concatenate([train, val])
        if np.any(signal_region.contains(every.m)):
            raise InputError("curtains-f4f trains on sideband events only: SR events given")
        fit_ranges = _ranges(every.m, signal_region, self.settings.fit_window)
        mass_fit = DijetFit.fit(every.m, fit_ranges, self.settings.sqrt_s)
        z_train, c_train, out_train = base_tensors(frozen, train, dev, "training")
        z_val, c_val, out_val = base_tensors(frozen, val, dev, "validation")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            transport = transport_maf(
                self.flow_settings, frozen.n_features_in_, context=2, identity=True
            )
        pairing = torch.randperm(len(c_val), generator=torch.Generator().manual_seed(seed))
        c_val_out = c_val[pairing.to(dev)]

        def nll(module: nn.Module, z: Tensor, c_in: Tensor, c_out: Tensor) -> Tensor:
            y, ladj = module(torch.cat([c_in, c_out], dim=1)).transform.call_and_ladj(z)
            return -(frozen.log_prob_z(y, c_out) + ladj.double())

        def loss_fn(module: nn.Module, batch: tuple[Tensor, ...], gen: torch.Generator) -> Tensor:
            z, c = batch
            partner = torch.randperm(len(c), generator=gen, device=gen.device)
            return nll(module, z, c, c[partner]).mean()

        def validate(module: nn.Module) -> float:
            total = 0.0
            for s0 in range(0, len(z_val), 65536):
                sl = slice(s0, s0 + 65536)
                total += float(nll(module, z_val[sl], c_val[sl], c_val_out[sl]).sum())
            return total / len(z_val)

        config = self.context.training(self.flow_settings.training)
        result = run_training(
            transport, loss_fn, (z_train, c_train), validate, config, seed=seed, device=dev
        )
        source_ranges = _ranges(every.m, signal_region, self.settings.source_window)
        sources = self._sources(frozen, every, source_ranges, signal_region, dev)
        self._set_fitted(frozen, [m.state for m in result.members], sources, mass_fit, dev)
        self._record_training(result, signal_region)
        self.left_out_ = out_train + out_val
        self.base_seconds_ = base_seconds
        """Seconds the base flow took where this model trained it (NaN: handed over)."""
        return self

    @staticmethod
    def _sources(
        base: ConditionalFlow,
        events: Events,
        ranges: tuple[tuple[float, float], ...],
        sr: SignalRegion,
        device: torch.device,
    ) -> Events:
        """The sideband events in ``ranges`` that the base flow can place (finite
        preprocessed features)."""
        inside = np.zeros(len(events), dtype=bool)
        for lo, hi in ranges:
            inside |= (events.m >= lo) & (events.m <= hi)
        events = events.select(inside)
        with torch.no_grad():
            z, _ = base.preprocessor_(torch.as_tensor(events.x, device=device))
        finite = torch.isfinite(z).all(dim=1).cpu().numpy()
        events = events.select(finite)
        if len(events) < 2:
            raise InputError(f"fewer than two sideband events near {sr} to transport into it")
        return Events(events.m, events.x, np.zeros(len(events)), events.feature_names)

    def _set_fitted(
        self,
        base: ConditionalFlow,
        states: list[dict[str, Tensor]],
        sources: Events,
        mass_fit: DijetFit,
        device: torch.device,
    ) -> None:
        self._set_transports(base, states, device)
        self.sources_ = sources
        self.mass_fit_ = mass_fit

    # ------------------------------------------------------------------ use
    def transport(
        self, events: Events, m_out: np.ndarray, *, seed: int | None = None
    ) -> np.ndarray:
        """The features of ``events`` moved from their masses to ``m_out`` (one per event)
        by ``T``, each event by a transport member picked at random (seeded by ``seed``)."""
        self._check_fitted()
        base, dev = self.base_, self.device_
        z, m_out = move_inputs(
            base.preprocessor_, events, m_out, dev, "the base flow's feature range"
        )
        c = torch.cat([base.context_of(events.m), base.context_of(m_out)], dim=1)
        gen = seeded_generator(seed)
        y = apply_members(self.transports_, z.float().cpu(), c, generator=gen, device=dev)
        with torch.no_grad():
            x = base.preprocessor_.inverse(y.to(dev, torch.float64)).cpu().numpy()
        return np.asarray(x)

    @property
    def region(self) -> SignalRegion:
        """The SR the model moves events into."""
        self._check_fitted()
        if self.signal_region_ is None:
            raise InputError("this MassTransport has no signal region")
        return self.signal_region_

    def source_index(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Indices into ``sources_`` of ``n`` template events: each side's source events
        (or all of them, unbalanced) in a random order, repeated until there are enough,
        so every source event serves ``n / len(sources)`` masses up to one."""
        self._check_fitted()
        m, sr = self.sources_.m, self.region
        groups = [np.flatnonzero(m < sr.lo), np.flatnonzero(m > sr.hi)]
        groups = [g for g in groups if len(g)] if self.settings.balanced else [np.arange(len(m))]
        counts = [n // len(groups) + (k < n % len(groups)) for k in range(len(groups))]
        parts = []
        for group, k in zip(groups, counts, strict=True):
            reps = -(-k // len(group))
            parts.append(np.concatenate([rng.permutation(group) for _ in range(reps)])[:k])
        return np.asarray(rng.permutation(np.concatenate(parts)), dtype=np.int64)

    def sample_events(self, region: SignalRegion, n: int, *, seed: int | None = None) -> Events:
        """``n`` template events (label 0) in the SR ``region`` (the model's own): masses
        from the mjj fit, features of the source events moved to them (seeded by ``seed``)."""
        self._check_fitted()
        if n < 0:
            raise InputError(f"number of template events must be non-negative, got {n}")
        mass_seed, source_seed, own_seed = (
            int(s) for s in np.random.SeedSequence(seed).generate_state(3)
        )
        sr = self.region
        masses = self.mass_fit_.sample(n, sr.lo, sr.hi, np.random.default_rng(mass_seed))
        idx = self.source_index(n, np.random.default_rng(source_seed))
        x = self.transport(self.sources_.select(idx), masses, seed=own_seed)
        return Events(masses, x, np.zeros(n, dtype=np.int64), self.feature_names_)

    # ------------------------------------------------------------------ storage
    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild the fitted model: base flow, transport members,
        source events and the mjj fit."""
        return {
            **self._transport_state(),
            "sources": {
                "m": self.sources_.m.copy(),
                "x": self.sources_.x.copy(),
                "feature_names": list(self.sources_.feature_names),
            },
            "mass_fit": self.mass_fit_.state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], device: str = "auto") -> MassTransport:
        """Rebuild a model written by :meth:`state`."""
        model, base, dev = cls._from_transport_state(state, "curtains-f4f model", device)
        src = state["sources"]
        sources = Events(
            np.asarray(src["m"]),
            np.asarray(src["x"]),
            np.zeros(len(src["m"])),
            tuple(src["feature_names"]),
        )
        model._set_fitted(
            base, state["members"], sources, DijetFit.from_state(state["mass_fit"]), dev
        )
        return model
