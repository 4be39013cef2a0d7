"""What the transport methods share: a conditional MAF used as a transport ``T(z; c)`` in
the preprocessed space of a frozen base flow, the base flow's frozen copy and tensors, and
an ensemble of transports applied member by member.

``feta`` (:mod:`resonant_ad.methods.feta`, ``T(z; m)`` between data and simulation) and
``curtains-f4f`` (:mod:`resonant_ad.methods.curtains_f4f`, ``T(z; m_in, m_out)`` between
masses) are built on these pieces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from resonant_ad.data.events import Events
from resonant_ad.errors import InputError
from resonant_ad.methods.cathode_nf import ConditionalFlow, FlowSettings
from resonant_ad.methods.conditioning import Conditioning

__all__ = ["apply_members", "base_tensors", "frozen_copy", "transport_maf"]


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
    a finite ``z`` (:meth:`~resonant_ad.methods.conditioning.Conditioning.tensors`).
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
