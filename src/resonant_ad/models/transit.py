"""TRANSIT's model (:class:`TransitModel`): a mass-conditioned autoencoder whose decoder,
given another mass, moves a sideband event there, trained with a reconstruction, a latent
consistency and an adversarial loss; its settings and presets."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.functional import binary_cross_entropy_with_logits as bce

from resonant_ad.data.events import Events
from resonant_ad.data.regions import near_sidebands
from resonant_ad.errors import InputError
from resonant_ad.flows.preprocessing import Preprocessor, check_preprocessing
from resonant_ad.models.conditioning import (
    ConditionedEnsemble,
    Conditioning,
    FittedParts,
    move_inputs,
)
from resonant_ad.persistence import load_members, seeded_generator
from resonant_ad.training import TrainingConfig, resolve_device
from resonant_ad.training import train as run_training

__all__ = ["PRESETS", "TransitModel", "TransitSettings"]

LOG_2 = math.log(2.0)

_TRAINING = TrainingConfig(
    batch_size=2048,
    learning_rate=2e-4,
    weight_decay=0.0,
    max_epochs=200,
    n_best=1,
    validate_after=2**62,
    grad_clip=0.1,
)
"""The published training: AdamW (2e-4, no weight decay), batches of 2048, 200 epochs,
gradients clipped to 0.1; the last epoch's networks are kept (``validate_after``: the
validation score is computed at the last epoch only, so that epoch is the one member)."""


@dataclass(frozen=True)
class TransitSettings:
    """Networks, losses and training of a :class:`TransitModel` (its cache key).

    Encoder ``(x, m) -> z`` and decoder ``(z, m) -> x``: a linear input layer to ``hidden``
    units, ``blocks`` residual blocks of ``layers_per_block`` SiLU layers (the mass joins
    every layer's input) and a linear output. The discriminator ``(x, m) -> logit``: PReLU
    layers of the widths ``discriminator``, the mass joining every layer's input.
    The generator's loss is ``reco + consistency * L_cons + adversarial * L_adv``; the
    adversary starts after ``warmup_epochs``. ``sr_targets``: the fraction of the
    consistency term's target masses drawn uniformly in the SR (the rest are the masses of
    other sideband events of the batch). ``window``: the sideband events within this many
    SR widths below and above the SR train the model and are the template's sources
    (``None``: every sideband event).
    """

    latent_dim: int = 8
    hidden: int = 128
    blocks: int = 2
    layers_per_block: int = 2
    discriminator: tuple[int, ...] = (64, 64, 64, 64)
    consistency: float = 0.1
    adversarial: float = 0.2
    warmup_epochs: int = 5
    sr_targets: float = 0.25
    window: float | None = 1.0
    preprocessing: str = "logit"
    training: TrainingConfig = field(default=_TRAINING)

    def __post_init__(self) -> None:
        if min(self.latent_dim, self.hidden, self.layers_per_block) < 1 or self.blocks < 0:
            raise InputError(
                "transit latent_dim, hidden and layers_per_block must be at least 1, blocks "
                "at least 0"
            )
        if not self.discriminator or min(self.discriminator) < 1:
            raise InputError("transit discriminator needs non-empty hidden layers")
        if self.consistency < 0 or self.adversarial < 0:
            raise InputError("transit consistency and adversarial weights must be >= 0")
        if self.warmup_epochs < 0:
            raise InputError(f"transit warmup_epochs = {self.warmup_epochs}: must be >= 0")
        if not 0.0 <= self.sr_targets <= 1.0:
            raise InputError(f"transit sr_targets = {self.sr_targets}: must be in [0, 1]")
        if self.window is not None and not self.window > 0:
            raise InputError(f"transit window = {self.window}: must be positive (or None)")
        check_preprocessing(self.preprocessing)
        if self.training.max_epochs < 1 or self.training.n_best < 1:
            raise InputError("transit max_epochs and n_best must be at least 1")


PRESETS: dict[str, TransitSettings] = {
    "paper": TransitSettings(),
    "cpu": TransitSettings(
        hidden=64, training=dataclasses.replace(_TRAINING, batch_size=1024, max_epochs=100)
    ),
    "tiny": TransitSettings(
        latent_dim=4,
        hidden=32,
        blocks=1,
        discriminator=(32, 32),
        warmup_epochs=1,
        training=dataclasses.replace(_TRAINING, batch_size=256, learning_rate=1e-3, max_epochs=20),
    ),
}
"""TRANSIT settings per ``[model] preset``: ``paper`` is the published LHCO configuration,
``cpu`` the same with autoencoder layers of 64 units and batches of 1024 for 100 epochs (as
many steps; the width chosen by the validation-window AUC on the dev sample,
``docs/methods/transit.md``), ``tiny`` a small one for tests."""


class _ResidualNet(nn.Module):
    """``(x, c) -> y``: a linear input layer, residual blocks of SiLU layers that each see
    ``c`` beside their input, and a linear output layer."""

    def __init__(self, inputs: int, outputs: int, s: TransitSettings) -> None:
        super().__init__()
        h = s.hidden
        self.inp = nn.Linear(inputs + 1, h)
        self.blocks = nn.ModuleList(
            nn.ModuleList(nn.Linear(h + 1, h) for _ in range(s.layers_per_block))
            for _ in range(s.blocks)
        )
        self.out = nn.Linear(h, outputs)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        h = self.inp(torch.cat([x, c], dim=1))
        for block in self.blocks:
            r = h
            for layer in cast(nn.ModuleList, block):
                r = nn.functional.silu(layer(torch.cat([r, c], dim=1)))
            h = h + r
        return self.out(h)


class _Discriminator(nn.Module):
    """``(x, c) -> logit`` that ``x`` is a real event at the mass ``c``."""

    def __init__(self, features: int, widths: tuple[int, ...]) -> None:
        super().__init__()
        sizes = (features, *widths)
        self.layers = nn.ModuleList(
            nn.Linear(a + 1, b) for a, b in zip(sizes[:-1], widths, strict=True)
        )
        self.acts = nn.ModuleList(nn.PReLU() for _ in widths)
        self.out = nn.Linear(widths[-1] + 1, 1)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        h = x
        for layer, act in zip(self.layers, self.acts, strict=True):
            # act(h) written out (PReLU: relu(h) - a * relu(-h)): the same function and
            # gradients, about twice as fast as torch's PReLU kernel on a CPU.
            h = layer(torch.cat([h, c], dim=1))
            h = nn.functional.relu(h) - cast(nn.PReLU, act).weight * nn.functional.relu(-h)
        return self.out(torch.cat([h, c], dim=1)).squeeze(1)


class _TransitNet(nn.Module):
    """Encoder, decoder and discriminator, and the count of training steps taken (for the
    adversary's warm-up; a buffer, so a resumed training keeps it)."""

    steps: Tensor

    def __init__(self, features: int, s: TransitSettings) -> None:
        super().__init__()
        self.encoder = _ResidualNet(features, s.latent_dim, s)
        self.decoder = _ResidualNet(s.latent_dim, features, s)
        self.discriminator = _Discriminator(features, s.discriminator)
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def move(self, z: Tensor, c_in: Tensor, c_out: Tensor) -> Tensor:
        """Events ``z`` at ``c_in`` moved to ``c_out``: decoded there from their latent."""
        return self.decoder(self.encoder(z, c_in), c_out)

    def generator_loss(
        self,
        latent: Tensor,
        z: Tensor,
        c: Tensor,
        c_target: Tensor,
        w: float,
        c_fake: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """``reco + w * consistency`` of the events ``z`` at ``c`` encoded to ``latent``:
        the events reconstructed at their own masses, and their latents kept when they are
        moved to ``c_target`` and encoded there; and, given ``c_fake``, the events moved to
        those masses (for the adversary). The decoder runs once on every mass of an event."""
        masses = [c, c_target] if c_fake is None else [c, c_target, c_fake]
        decoded = self.decoder(latent.repeat(len(masses), 1), torch.cat(masses)).split(len(z))
        reco = (decoded[0] - z).pow(2).mean()
        consistency = (self.encoder(decoded[1], c_target) - latent).pow(2).mean()
        return reco + w * consistency, (None if c_fake is None else decoded[2])

    def loss(
        self, z: Tensor, c: Tensor, c_target: Tensor, c_fake: Tensor | None, s: TransitSettings
    ) -> Tensor:
        """One training step's loss of the events ``z`` at ``c``: the generator's
        (:meth:`generator_loss`, targets ``c_target``) and, given the masses ``c_fake`` to
        move the events to for the adversary, the discriminator's.

        One pass of the discriminator serves both players: its loss trains its own
        parameters, and the gradient that reaches the moved events through it is reversed
        and scaled by ``-adversarial``, which is the gradient of the generator's term
        ``adversarial * g_adv`` with ``g_adv = -`` (the fake half of the discriminator's
        loss) and the discriminator held fixed. Both generator terms count only where the
        discriminator's loss is at most ``log 2``.
        """
        latent = self.encoder(z, c)
        loss, fake = self.generator_loss(latent, z, c, c_target, s.consistency, c_fake)
        if c_fake is None or fake is None:
            return loss
        gain: list[Tensor] = []  # set below, once the discriminator's loss is known
        fake.register_hook(lambda grad: grad * gain[0])
        logits = self.discriminator(torch.cat([z, fake]), torch.cat([c, c_fake]))
        labels = torch.cat([torch.ones(len(z)), torch.zeros(len(z))]).to(logits)
        d_loss = bce(logits, labels)
        allow = (d_loss.detach() <= LOG_2).to(loss)
        gain.append(-s.adversarial * allow)
        g_adv = -0.5 * bce(logits[len(z) :].detach(), torch.zeros_like(logits[len(z) :]))
        return d_loss + allow * (loss + s.adversarial * g_adv)  # g_adv: its value only


class TransitModel(ConditionedEnsemble[TransitSettings]):
    """TRANSIT (Oleksiyuk, Voloshynovskiy and Golling, arXiv:2503.04342): sideband events
    moved to other masses by a conditional autoencoder, no density learned.

    Features are preprocessed (``settings.preprocessing``) and ``m`` standardised with the
    training events' statistics (:class:`~resonant_ad.models.conditioning.Conditioning`).
    An event ``x`` at ``m`` is encoded to a latent ``z = E(x, m)`` and moved to ``m'`` as
    ``D(z, m')``. Each training step draws, for every event of a batch, a target mass
    ``m'`` (another event's, or uniform in the SR for a fraction ``sr_targets``) and minimises

    - ``reco``: mean squared error of ``D(E(x, m), m)`` against ``x``;
    - ``consistency`` (weight 0.1): mean squared difference of ``E(D(z, m'), m')`` and ``z``,
      an event keeps its latent when it is moved;
    - ``adversarial`` (weight 0.2, after ``warmup_epochs``): a discriminator ``C(x, m)``
      tells the sideband events at their own masses from the events moved to another
      event's sideband mass ``m''``; the discriminator minimises its binary cross-entropy,
      the encoder and decoder maximise it, so a moved event follows the data's ``x | m''``.
      As in the published code, the encoder and decoder take no step while the
      discriminator's loss on the batch is above ``log 2`` (worse than chance).

    The discriminator and the autoencoder share one optimiser: the discriminator's loss
    reaches only its own parameters and the adversarial term only the autoencoder's (one
    pass of the discriminator, the gradient into the moved events reversed;
    ``_TransitNet.loss``).

    :meth:`sample` takes a sideband event per mass (each source event used as evenly as
    the number of masses allows, in a seeded random order) and moves it there. The model
    keeps the sideband events (those the preprocessing can place), so a saved model gives
    the same template.
    """

    FORMAT = "resonant_ad.TransitModel"
    VERSION = 1
    SETTINGS = TransitSettings
    MEMBERS = "nets_"

    def fit(self, train: Events, val: Events, *, random_state: int = 0) -> TransitModel:
        """Train on the sideband events ``train`` (``val``: the validation score, the
        generator's loss with fixed target masses); returns ``self``."""
        s, seed = self.settings, random_state
        sr = self.context.needs_region("transit")
        if np.any(sr.contains(train.m)) or np.any(sr.contains(val.m)):
            raise InputError("transit trains on sideband events only: SR events given")
        if s.window is not None:
            train, val = (near_sidebands(e, sr, s.window * sr.width) for e in (train, val))
        every = Events.concatenate([train, val])
        scaling = Conditioning.fit(train, val, s.preprocessing)
        dev = resolve_device(self.context.device)
        z_train, c_train = scaling.tensors(train, dev)
        z_val, c_val = scaling.tensors(val, dev)
        mean, std = scaling.m_scale
        lo, hi = (sr.lo - mean) / std, (sr.hi - mean) / std
        n = len(z_train)
        warmup = s.warmup_epochs * max(1, n // max(1, min(s.training.batch_size, n)))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = _TransitNet(train.x.shape[1], s)

        def targets(c: Tensor, gen: torch.Generator) -> Tensor:
            k, device = len(c), c.device
            other = c[torch.randperm(k, generator=gen, device=gen.device).to(device)]
            u = torch.rand(k, 1, generator=gen, device=gen.device).to(device)
            in_sr = torch.rand(k, 1, generator=gen, device=gen.device).to(device) < s.sr_targets
            return torch.where(in_sr, lo + (hi - lo) * u, other)

        def loss_fn(module: nn.Module, batch: tuple[Tensor, ...], gen: torch.Generator) -> Tensor:
            assert isinstance(module, _TransitNet)
            z, c = batch
            step = int(module.steps)
            module.steps += 1
            c_target = targets(c, gen)
            if step < warmup or s.adversarial == 0:
                return module.loss(z, c, c_target, None, s)
            c_fake = c[torch.randperm(len(c), generator=gen, device=gen.device).to(c.device)]
            return module.loss(z, c, c_target, c_fake, s)

        gen_val = torch.Generator(device=dev).manual_seed(seed + 2)
        c_val_target = targets(c_val, gen_val)

        def validate(module: nn.Module) -> float:
            assert isinstance(module, _TransitNet)
            latent = module.encoder(z_val, c_val)
            loss, _ = module.generator_loss(latent, z_val, c_val, c_val_target, s.consistency)
            return float(loss)

        config = self.context.training(s.training)
        result = run_training(
            net, loss_fn, (z_train, c_train), validate, config, seed=seed, device=dev
        )
        sources = self._placeable(scaling.preprocessor, every)
        self._set_fitted(FittedParts.of_training(train, scaling, result, dev), sources)
        self._record_training(result, sr)
        return self

    @staticmethod
    def _placeable(pre: Preprocessor, events: Events) -> Events:
        """The events whose preprocessed features are finite, with label 0."""
        with torch.no_grad():
            z, _ = pre.cpu()(torch.as_tensor(events.x))
        keep = torch.isfinite(z).all(dim=1).numpy()
        events = events.select(keep)
        if len(events) < 2:
            raise InputError("fewer than two sideband events for transit to move")
        return Events(events.m, events.x, np.zeros(len(events)), events.feature_names)

    def _set_fitted(self, parts: FittedParts, sources: Events) -> None:
        self.nets_ = load_members(
            lambda: _TransitNet(parts.features, self.settings), parts.states, parts.device
        )
        self.sources_ = sources
        self._set_conditioning(parts)

    # ------------------------------------------------------------------ use
    def transport(
        self, events: Events, m_out: np.ndarray, *, seed: int | None = None
    ) -> np.ndarray:
        """The features of ``events`` moved from their masses to ``m_out`` (one each),
        each event by a member picked at random (seeded by ``seed``)."""
        self._check_fitted()
        dev = self.device_
        z, m_out = move_inputs(self.preprocessor_, events, m_out, dev, "the preprocessing's range")
        with torch.no_grad():
            c_in, c_out = self.context_of(events.m).to(dev), self.context_of(m_out).to(dev)
            gen = seeded_generator(seed)
            owner = torch.randint(0, len(self.nets_), (len(events),), generator=gen).to(dev)
            y = torch.empty_like(z, dtype=torch.float32)
            for k, net in enumerate(self.nets_):
                idx = torch.nonzero(owner == k).squeeze(1)
                for part in idx.split(65536):
                    y[part] = net.move(z[part].float(), c_in[part], c_out[part])
            x = self.preprocessor_.inverse(y.to(torch.float64)).cpu().numpy()
        return np.asarray(x)

    def source_index(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Indices into ``sources_`` of ``n`` template events: the source events in random
        orders, repeated until there are enough (each used ``n / len(sources_)`` times, up
        to one)."""
        k = len(self.sources_)
        reps = -(-n // k)
        return np.concatenate([rng.permutation(k) for _ in range(max(reps, 1))])[:n]

    def sample(self, m: np.ndarray, *, seed: int | None = None) -> np.ndarray:
        """Features at the masses ``m``: one sideband event per mass moved there."""
        self._check_fitted()
        m = np.asarray(m, dtype=np.float64).reshape(-1)
        source_seed, move_seed = (int(v) for v in np.random.SeedSequence(seed).generate_state(2))
        idx = self.source_index(len(m), np.random.default_rng(source_seed))
        return self.transport(self.sources_.select(idx), m, seed=move_seed)

    # ------------------------------------------------------------------ storage
    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild the fitted model: conditioning, networks and the
        source events."""
        return {
            **self._conditioned_state(),
            "sources": {"m": self.sources_.m.copy(), "x": self.sources_.x.copy()},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], device: str = "auto") -> TransitModel:
        """Rebuild a model written by :meth:`state`."""
        model, parts = cls._from_conditioned_state(state, "transit model", device)
        src = state["sources"]
        m = np.asarray(src["m"])
        sources = Events(m, np.asarray(src["x"]), np.zeros(len(m)), parts.feature_names)
        model._set_fitted(parts, sources)
        return model
