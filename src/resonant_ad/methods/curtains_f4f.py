"""``curtains-f4f`` template: CURTAINs flows for flows, sideband events transported in mass
into the SR by a flow trained by maximum likelihood through a base flow of the sidebands."""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion
from resonant_ad.data.spectrum import SQRT_S, DijetFit
from resonant_ad.errors import InputError
from resonant_ad.methods.cathode_nf import ConditionalFlow, FlowSettings, flow_settings
from resonant_ad.methods.conditioning import REVISION
from resonant_ad.methods.registry import FitInputs, Method, RegionInputs, register
from resonant_ad.methods.transport import apply_members, base_tensors, frozen_copy, transport_maf
from resonant_ad.persistence import TrainedEnsemble
from resonant_ad.training import resolve_device, train

if TYPE_CHECKING:
    from resonant_ad.config import StudyConfig

__all__ = ["CurtainsF4FMethod", "F4FSettings", "MassTransport"]

_REVISION = 2
"""Part of the cache key (2: the transport trains through the best member of the base
flow's ensemble only, where every step evaluated all five)."""

log = logging.getLogger(__name__)

_FORMAT = "resonant_ad.MassTransport"
_FORMAT_VERSION = 1


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


# ---------------------------------------------------------------------- the transport
@dataclass(frozen=True)
class F4FSettings:
    """What ``curtains-f4f`` adds to the flows' settings (part of its cache key).

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

    def __post_init__(self) -> None:
        for name in ("fit_window", "source_window"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise InputError(f"curtains-f4f {name} {value}: must be positive (or None)")


class MassTransport(TrainedEnsemble):
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

    The template (:meth:`sample_template`): SR masses drawn from the :class:`DijetFit` of
    the sideband masses, each paired with a source event of the sidebands (per
    :class:`F4FSettings`, each source event used for several masses when the template
    outnumbers them) and moved to it by ``T``.
    """

    def __init__(self, settings: FlowSettings | None = None, f4f: F4FSettings | None = None):
        self.settings = settings or FlowSettings()
        self.f4f = f4f or F4FSettings()

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        base: ConditionalFlow,
        train_events: Events,
        val_events: Events,
        signal_region: SignalRegion,
        *,
        seed: int = 0,
        device: str = "auto",
        checkpoint: str | None = None,
        progress: bool = False,
    ) -> MassTransport:
        """Train the transport through ``base`` (a fitted flow of the sidebands: its best
        ensemble member, copied and frozen) on the sideband events ``train_events`` (epochs
        selected on ``val_events``), fit the sidebands' ``mjj`` and keep the template's
        source events; returns ``self``."""
        dev = resolve_device(device)
        frozen = frozen_copy(base, dev, members=1)
        if train_events.feature_names != frozen.feature_names_:
            raise InputError(
                f"the events' features {train_events.feature_names} are not the base flow's "
                f"{frozen.feature_names_}"
            )
        every = Events.concatenate([train_events, val_events])
        if np.any(signal_region.contains(every.m)):
            raise InputError("curtains-f4f trains on sideband events only: SR events given")
        fit_ranges = _ranges(every.m, signal_region, self.f4f.fit_window)
        mass_fit = DijetFit.fit(every.m, fit_ranges, self.f4f.sqrt_s)
        z_train, c_train, out_train = base_tensors(frozen, train_events, dev, "training")
        z_val, c_val, out_val = base_tensors(frozen, val_events, dev, "validation")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            transport = transport_maf(
                self.settings, frozen.n_features_in_, context=2, identity=True
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

        result = train(
            transport,
            loss_fn,
            (z_train, c_train),
            validate,
            self.settings.training(checkpoint=checkpoint, progress=progress),
            seed=seed,
            device=dev,
        )
        source_ranges = _ranges(every.m, signal_region, self.f4f.source_window)
        sources = self._sources(frozen, every, source_ranges, signal_region, dev)
        self._set_fitted(frozen, [m.state for m in result.members], sources, mass_fit, dev)
        self._record_training(result, signal_region)
        self.left_out_ = out_train + out_val
        self.base_seconds_ = math.nan
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
        transports = []
        for state in states:
            transport = transport_maf(self.settings, base.n_features_in_, context=2)
            transport.load_state_dict(state)
            transports.append(transport.to(device).eval().requires_grad_(False))
        self.base_ = base
        self.transports_ = transports
        self.sources_ = sources
        self.mass_fit_ = mass_fit
        self.feature_names_ = base.feature_names_
        self.device_ = device

    def _check_fitted(self) -> None:
        if not hasattr(self, "transports_"):
            raise InputError("this MassTransport is not fitted yet: call fit() or load it")

    # ------------------------------------------------------------------ use
    def transport(
        self, events: Events, m_out: np.ndarray, *, seed: int | None = None
    ) -> np.ndarray:
        """The features of ``events`` moved from their masses to ``m_out`` (one per event)
        by ``T``, each event by a transport member picked at random (seeded by ``seed``)."""
        self._check_fitted()
        m_out = np.asarray(m_out, dtype=np.float64).reshape(-1)
        if len(m_out) != len(events):
            raise InputError(f"{len(m_out)} target masses for {len(events)} events")
        dev = self.device_
        with torch.no_grad():
            z, _ = self.base_.preprocessor_(torch.as_tensor(events.x, device=dev))
        if not bool(torch.isfinite(z).all()):
            raise InputError("events outside the base flow's feature range cannot be moved")
        c = torch.cat([self.base_.context(events.m), self.base_.context(m_out)], dim=1)
        gen = torch.Generator()
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(int(seed))
        y = apply_members(self.transports_, z.float().cpu(), c, generator=gen, device=dev)
        with torch.no_grad():
            x = self.base_.preprocessor_.inverse(y.to(dev, torch.float64)).cpu().numpy()
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
        groups = [g for g in groups if len(g)] if self.f4f.balanced else [np.arange(len(m))]
        counts = [n // len(groups) + (k < n % len(groups)) for k in range(len(groups))]
        parts = []
        for group, k in zip(groups, counts, strict=True):
            reps = -(-k // len(group))
            parts.append(np.concatenate([rng.permutation(group) for _ in range(reps)])[:k])
        return np.asarray(rng.permutation(np.concatenate(parts)), dtype=np.int64)

    def sample_template(self, n: int, *, seed: int | None = None) -> Events:
        """``n`` template events (label 0) in the SR: masses from the mjj fit, features of
        the source events moved to them (seeded by ``seed``)."""
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
        self._check_fitted()
        return {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "settings": dataclasses.asdict(self.settings),
            "f4f": dataclasses.asdict(self.f4f),
            "base": self.base_.state(),
            "members": [
                {k: v.detach().cpu() for k, v in t.state_dict().items()} for t in self.transports_
            ],
            "sources": {
                "m": self.sources_.m.copy(),
                "x": self.sources_.x.copy(),
                "feature_names": list(self.sources_.feature_names),
            },
            "mass_fit": self.mass_fit_.state(),
            **self._training_state(),
            "left_out": int(getattr(self, "left_out_", 0)),
            "base_seconds": float(getattr(self, "base_seconds_", math.nan)),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], device: str = "auto") -> MassTransport:
        """Rebuild a model written by :meth:`state`."""
        if state.get("format") != _FORMAT or state.get("version") != _FORMAT_VERSION:
            raise InputError("not a saved curtains-f4f model (or one of another version)")
        raw = dict(state["settings"])
        raw["hidden"] = tuple(raw["hidden"])
        model = cls(FlowSettings(**raw), F4FSettings(**state["f4f"]))
        dev = resolve_device(device)
        src = state["sources"]
        sources = Events(
            np.asarray(src["m"]),
            np.asarray(src["x"]),
            np.zeros(len(src["m"])),
            tuple(src["feature_names"]),
        )
        mass_fit = DijetFit.from_state(state["mass_fit"])
        model._set_fitted(frozen_copy(state["base"], dev), state["members"], sources, mass_fit, dev)
        model._restore_training(state)
        model.left_out_ = int(state.get("left_out", 0))
        model.base_seconds_ = float(state.get("base_seconds", math.nan))
        return model


class CurtainsF4FMethod(Method):
    """``curtains-f4f``: CURTAINs flows for flows (Sengupta, Klein, Raine and Golling,
    arXiv:2305.04646), sideband events transported in mass into the SR.

    The base density is ``cathode-nf``'s flow ``p(x | m)``
    (:class:`~resonant_ad.methods.cathode_nf.ConditionalFlow`), trained on the sidebands of
    each SR and injection: through
    :meth:`base_method` the study trains it once and shares it with ``cathode-nf`` itself;
    where no base is handed over (the sliding-window scan) :meth:`fit` trains that same flow
    (same settings, events and seed) first. A transport ``T(x; m_in, m_out)`` (a
    :class:`MassTransport`: a :mod:`zuko` MAF in the base flow's preprocessed space with
    both standardised masses as context, started at the identity, of the size and training
    of the ``[model] preset``'s flow, :func:`~resonant_ad.methods.cathode_nf.flow_settings`)
    is trained by maximum likelihood through the frozen base on pairs of sideband events,
    ``-[log p_base(T(x; m_in, m_out) | m_out) + log |det dT/dx|]``, with ``m_out`` the mass
    of another sideband event (up and down in mass, within and across the sidebands); its
    ``n_best`` epochs of lowest validation loss are kept as an ensemble. The template: SR
    masses drawn from the dijet function fitted to the sideband masses within one SR width
    of the SR (:class:`DijetFit`), not from the SR data, so a signal in the SR does not
    shape them; each paired with a sideband event (all of them, as many from below as from
    above the SR, each used for several masses when the template outnumbers them:
    :class:`F4FSettings`) and moved to it by ``T``. The model holds the sideband events and
    the fit, so a saved model gives the same template.

    The transport trains through the best member of the base flow's ensemble only. With
    all five, on 2 shared CPU cores (load average 4.5-6.6 from other jobs), one torch
    thread, ``cpu`` preset at 40 epochs, a toy LHCO-like background
    (:mod:`resonant_ad.data.toy`) around SR 3.3-3.7 TeV with 55,673 sideband events (47,322
    train, 8,351 validation) took 122 s per SR for the transport (3.0 s per epoch) after 32
    s for the base flow; the template 0.26 s for 100,000 events (``cathode-nf``: 1.7 s);
    its classifier-test AUC against 30,000 true SR background events was 0.546
    (``cathode-nf`` 0.544, an independent true background sample 0.505, the sideband
    events within one SR width unmoved 0.677; from only those 18,844 nearest sources
    0.571). The mjj fit (18,844 sideband events in 2.9-3.3 and 3.7-4.1 TeV) predicted 0.456
    SR events per event in its ranges where the toy has 0.442. Costs and template quality
    on the Pythia dev sample, with one base member: ``benchmarks/bench_transport.py``.

    On the Gaussian toy of ``tests/test_curtains_f4f.py`` (``tiny`` preset, 20 epochs,
    4,887 sideband training events; one base member) the lower sideband's events differ
    from the SR background by -1.26, 0.96 and -0.02 standard deviations per feature, the
    upper's by 1.68, -1.31 and 0.00; moved into the SR, by -0.04, -0.01, -0.04 and -0.08,
    0.03, -0.03; the template by -0.05, 0.01 and -0.03.
    """

    model_class = MassTransport

    name = "curtains-f4f"
    label = "CURTAINs F4F"
    color = "#17becf"
    linestyle = "-."
    trains_on = "sidebands"
    description = (
        "CURTAINs F4F: sideband events moved into the SR by a mass-conditioned flow "
        "trained through a base flow of the sidebands"
    )
    options_class = F4FSettings
    """The fit and source windows, the balance of the sources and sqrt(s): ``[method.
    curtains-f4f]`` in a study's config."""

    def base_method(self, config: StudyConfig) -> str | None:
        return "cathode-nf"

    def model_settings(self, config: StudyConfig) -> Any:
        return (
            "curtains-f4f",
            REVISION,
            _REVISION,
            dataclasses.asdict(flow_settings(config)),
            dataclasses.asdict(self.options(config)),
        )

    def fit(self, inputs: FitInputs) -> MassTransport:
        if inputs.region is None:
            raise InputError("curtains-f4f is trained per signal region: FitInputs.region")
        checkpoint = None if inputs.checkpoint is None else str(inputs.checkpoint)
        base = inputs.base
        base_seconds = math.nan
        if base is None:  # no engine to hand it over (e.g. the scan): cathode-nf's own flow
            t0 = time.perf_counter()
            base = ConditionalFlow(flow_settings(inputs.config)).fit(
                inputs.train,
                inputs.val,
                seed=inputs.seed,
                device=inputs.config.device,
                signal_region=inputs.region,
                checkpoint=None if checkpoint is None else checkpoint + ".base",
                progress=inputs.progress,
            )
            base_seconds = time.perf_counter() - t0
        if not isinstance(base, ConditionalFlow):
            raise InputError(f"curtains-f4f's base must be the cathode-nf flow, got {base!r}")
        model = MassTransport(flow_settings(inputs.config), self.options(inputs.config)).fit(
            base,
            inputs.train,
            inputs.val,
            inputs.region,
            seed=inputs.seed,
            device=inputs.config.device,
            checkpoint=checkpoint,
            progress=inputs.progress,
        )
        model.base_seconds_ = base_seconds
        return model

    def template(self, model: Any, inputs: RegionInputs, n: int) -> Events:
        sr = model.region
        if (sr.lo, sr.hi) != (inputs.region.lo, inputs.region.hi):
            raise InputError(
                f"this curtains-f4f model was trained for {sr}, not {inputs.region}: "
                "train one per signal region"
            )
        return model.sample_template(n, seed=inputs.seed)


register(CurtainsF4FMethod())
