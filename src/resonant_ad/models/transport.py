"""What the transport models share: a conditional MAF used as a transport ``T(z; c)`` in
the preprocessed space of a frozen base flow, the base flow's frozen copy and tensors, an
ensemble of transports applied member by member, and :class:`TransportEnsemble`, the
fitted state of such an ensemble over its base flow.

``feta``'s :class:`~resonant_ad.models.feta.TransportedFlow` (``T(z; m)`` between data and
simulation) and ``curtains-f4f``'s :class:`~resonant_ad.models.mass_transport.MassTransport`
(``T(z; m_in, m_out)`` between masses) are built on these pieces.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from resonant_ad.data.events import Events
from resonant_ad.errors import InputError
from resonant_ad.models.base import Configured, settings_from_dict
from resonant_ad.models.conditional_flow import ConditionalFlow, FlowSettings
from resonant_ad.models.conditioning import Conditioning
from resonant_ad.persistence import TrainedEnsemble, load_members, member_states
from resonant_ad.training import resolve_device

__all__ = ["TransportEnsemble", "apply_members", "base_tensors", "frozen_copy", "transport_maf"]


def transport_maf(
    settings: FlowSettings, features: int, *, context: int = 1, identity: bool = False
) -> nn.Module:
    """A :mod:`zuko` MAF with ``context`` context variables whose transform is the
    transport ``T(z; c)`` (its base distribution is not used), of the size of ``settings``
    (``transforms``, ``hidden``). ``identity``: the last layer of every transform's
    hyper-network zeroed, so that ``T`` starts as the identity for every context."""
    import zuko

    flow = zuko.flows.MAF(
        features, context, transforms=settings.transforms, hidden_features=settings.hidden
    )
    if identity:
        with torch.no_grad():
            for made in flow.transform.transforms:
                last = made.hyper[-1]
                last.weight.zero_()
                last.bias.zero_()
    return flow


def frozen_copy(
    base: ConditionalFlow | dict[str, Any], device: torch.device, *, members: int | None = None
) -> ConditionalFlow:
    """A copy of the base flow (or of its :meth:`~ConditionalFlow.state`) on ``device``
    without gradients; ``members``: keep only that many of its ensemble members, the best
    first (``None``: all)."""
    flow = ConditionalFlow.from_state(
        base.state() if isinstance(base, ConditionalFlow) else base, str(device)
    )
    if members is not None:
        flow.flows_ = flow.flows_[:members]
        flow.member_scores_ = flow.member_scores_[:members]
        flow.member_epochs_ = flow.member_epochs_[:members]
    for member in flow.flows_:
        member.requires_grad_(False)
    return flow


def base_tensors(
    base: ConditionalFlow, events: Events, device: torch.device, what: str
) -> tuple[Tensor, Tensor, int]:
    """The events in the base flow's preprocessed space and its context: ``z`` ``(n, d)``
    and the standardised ``m`` ``(n, 1)`` (float32), and how many were left out for want of
    a finite ``z`` (:meth:`~resonant_ad.models.conditioning.Conditioning.tensors`).
    ``what`` names the events in the error raised when fewer than two are left."""
    z, c = Conditioning(base.preprocessor_, *base.m_scale_).tensors(events, device)
    if len(z) < 2:
        raise InputError(f"fewer than two {what} events inside the base flow's feature range")
    return z, c, len(events) - len(z)


def apply_members(
    transports: Sequence[nn.Module],
    z: Tensor,
    c: Tensor,
    *,
    generator: torch.Generator,
    inverse: bool = False,
    device: torch.device,
    batch_size: int = 65536,
) -> Tensor:
    """``T(z; c)`` (``inverse``: ``T^{-1}``) with each row's transport a member of the
    ensemble ``transports`` picked at random (``generator``), equal shares per member:
    the mixture of the members. ``z`` and ``c`` on the CPU; the result too (float32)."""
    owner = torch.randperm(len(z), generator=generator).tensor_split(len(transports))
    out = torch.empty_like(z)
    with torch.no_grad():
        for transport, idx in zip(transports, owner, strict=True):
            for s0 in range(0, len(idx), batch_size):
                sub = idx[s0 : s0 + batch_size]
                t = transport(c[sub].to(device)).transform
                zs = z[sub].to(device)
                out[sub] = (t.inv(zs) if inverse else t(zs)).cpu()
    return out


class TransportEnsemble(Configured[Any], TrainedEnsemble):
    """A fitted ensemble of transports (``transports_``, the members :func:`transport_maf`
    makes with ``CONTEXT`` context variables) over a frozen base flow (``base_``), built
    from settings (whose ``flow`` field, or themselves, are the transports'
    :class:`FlowSettings`) and a :class:`~resonant_ad.models.base.ModelContext`."""

    CONTEXT: ClassVar[int] = 1
    SETTINGS: ClassVar[type[Any]] = FlowSettings
    left_out_: int
    """Training and validation events outside the base flow's feature range (left out)."""
    base_seconds_: float
    """Seconds the base flow took where the model trained it (NaN: handed over)."""

    @property
    def flow_settings(self) -> FlowSettings:
        """The size of the transports."""
        s = self.settings
        return s if isinstance(s, FlowSettings) else s.flow

    def _frozen_base(
        self, base: ConditionalFlow, train: Events, events: str, flow: str
    ) -> tuple[ConditionalFlow, torch.device]:
        """The frozen copy of ``base``'s best member on the context's device, and the device;
        an error names the ``events`` and the ``flow`` when ``train``'s features are not the
        flow's."""
        dev = resolve_device(self.context.device)
        frozen = frozen_copy(base, dev, members=1)
        if train.feature_names != frozen.feature_names_:
            raise InputError(
                f"{events} features {train.feature_names} are not {flow} {frozen.feature_names_}"
            )
        return frozen, dev

    def _set_transports(
        self, base: ConditionalFlow, states: Sequence[dict[str, Tensor]], device: torch.device
    ) -> None:
        transports = load_members(
            lambda: transport_maf(self.flow_settings, base.n_features_in_, context=self.CONTEXT),
            states,
            device,
        )
        self.base_ = base
        self.transports_ = [transport.requires_grad_(False) for transport in transports]
        self.feature_names_ = base.feature_names_
        self.device_ = device

    def _check_fitted(self) -> None:
        if not hasattr(self, "transports_"):
            raise InputError(f"this {type(self).__name__} is not fitted yet: call fit() or load it")

    def _transport_state(self) -> dict[str, Any]:
        """The state entries of the settings, base flow, transports and training."""
        self._check_fitted()
        return {
            **self._format(),
            "settings": dataclasses.asdict(self.settings),
            "base": self.base_.state(),
            "members": member_states(self.transports_),
            **self._training_state(),
            "left_out": int(getattr(self, "left_out_", 0)),
            "base_seconds": float(getattr(self, "base_seconds_", math.nan)),
        }

    @classmethod
    def _from_transport_state(
        cls, state: Mapping[str, Any], what: str, device: str
    ) -> tuple[Any, ConditionalFlow, torch.device]:
        """The model of :meth:`_transport_state` before its transports are set, its base
        flow and the device."""
        cls._check_format(state, what)
        model = cls(settings_from_dict(cls.SETTINGS, state["settings"]))
        dev = resolve_device(device)
        model._restore_training(state)
        model.left_out_ = int(state.get("left_out", 0))
        model.base_seconds_ = float(state.get("base_seconds", math.nan))
        return model, frozen_copy(state["base"], dev), dev
