"""A conditional variational autoencoder of x given mjj (:class:`ConditionalVAE`), its
settings and presets."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from resonant_ad.data.events import Events
from resonant_ad.errors import InputError
from resonant_ad.flows.preprocessing import check_preprocessing
from resonant_ad.models.conditioning import ConditionedEnsemble, FittedParts
from resonant_ad.models.presets import CPU_TRAINING, TINY_TRAINING
from resonant_ad.persistence import load_members, seeded_generator
from resonant_ad.training import LossFn, TrainingConfig

__all__ = ["LATENTS", "PRESETS", "CVAESettings", "ConditionalVAE"]

LATENTS = ("prior", "posterior")
"""Where template latents come from: the prior ``N(0, 1)``, or the aggregate posterior of
the sideband events (a Gaussian mixture with one component ``q(z | x_i, m_i)`` per stored
encoded sideband event)."""


@dataclass(frozen=True)
class CVAESettings:
    """Architecture, training and sampling of a :class:`ConditionalVAE` (its cache key)."""

    latent_dim: int | None = None
    """Latent dimensions (``None``: as many as features)."""
    hidden: tuple[int, ...] = (128, 128)
    beta: float = 1e-2
    """The loss is ``(1 - beta) * MSE + beta * KL`` (the cVAE talk's ``1e-6`` makes a worse
    template on the dev sample: ``docs/methods/cvae.md``)."""
    preprocessing: str = "gaussianize"
    """The feature map (chosen with the validation-window AUC on the dev sample:
    ``docs/methods/cvae.md``)."""
    training: TrainingConfig = field(default=CPU_TRAINING)
    posterior_events: int = 20_000
    """Encoded sideband events kept per ensemble member for ``latent = "posterior"``."""
    latent: str = "posterior"
    """Where :meth:`ConditionalVAE.sample` draws latents from (one of :data:`LATENTS`)."""
    decoder_noise: bool = False
    """Add Gaussian noise of the validation reconstruction error per feature to the decoded
    means (the VAE's own ``p(x | z, m)``; ``False``: the decoded means alone, which on the
    gaussianized features make the better template)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.beta < 1.0:
            raise InputError(f"beta = {self.beta}: must be in [0, 1)")
        if self.latent_dim is not None and self.latent_dim < 1:
            raise InputError(f"latent_dim = {self.latent_dim}: must be at least 1")
        if not self.hidden or min(self.hidden) < 1:
            raise InputError("the cVAE needs non-empty hidden layers")
        check_preprocessing(self.preprocessing)
        if self.latent not in LATENTS:
            raise InputError(f"cvae latent {self.latent!r}: choose one of {LATENTS}")
        t = self.training
        if t.max_epochs < 1 or t.n_best < 1 or self.posterior_events < 1:
            raise InputError("max_epochs, n_best and posterior_events must be at least 1")


PRESETS: dict[str, CVAESettings] = {
    "paper": CVAESettings(
        hidden=(256, 256, 256),
        training=dataclasses.replace(CPU_TRAINING, max_epochs=200, n_best=10),
    ),
    "cpu": CVAESettings(),
    "tiny": CVAESettings(hidden=(32, 32), training=TINY_TRAINING, posterior_events=5_000),
}
"""cVAE settings per ``[model] preset`` (the flow-matching presets' names)."""


def _mlp(inputs: int, hidden: tuple[int, ...], outputs: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = inputs
    for h in hidden:
        layers += [nn.Linear(width, h), nn.SiLU()]
        width = h
    layers.append(nn.Linear(width, outputs))
    return nn.Sequential(*layers)


class _CVAENet(nn.Module):
    """Encoder ``(x, m) -> (mu, log var)`` of ``q(z | x, m)`` and decoder ``(z, m) -> x``."""

    def __init__(self, features: int, latent: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.latent = latent
        self.encoder = _mlp(features + 1, hidden, 2 * latent)
        self.decoder = _mlp(latent + 1, hidden, features)

    def encode(self, x: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        out = self.encoder(torch.cat([x, c], dim=1))
        mu, logvar = out[:, : self.latent], out[:, self.latent :]
        return mu, logvar.clamp(-30.0, 20.0)

    def decode(self, z: Tensor, c: Tensor) -> Tensor:
        return self.decoder(torch.cat([z, c], dim=1))

    def loss(self, x: Tensor, c: Tensor, eps: Tensor, beta: float) -> Tensor:
        """``(1 - beta) * MSE + beta * KL`` with the reparametrised ``z = mu + sigma eps``."""
        mu, logvar = self.encode(x, c)
        z = mu + torch.exp(0.5 * logvar) * eps
        mse = (self.decode(z, c) - x).pow(2).mean()
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1).mean()
        return (1.0 - beta) * mse + beta * kl


class ConditionalVAE(ConditionedEnsemble[CVAESettings]):
    """A conditional VAE of ``x`` given ``m``, kept as an ensemble of its best epochs.

    Features are mapped by a :class:`~resonant_ad.flows.preprocessing.Preprocessor` of
    ``settings.preprocessing`` and ``m`` is standardised, both with the training events'
    statistics. :meth:`fit` minimises ``(1 - beta) * MSE + beta * KL`` (MSE per feature of
    the reconstruction, KL of ``q(z | x, m)`` from ``N(0, 1)`` summed over latent
    dimensions) with :func:`resonant_ad.training.train`, keeps the ``n_best`` epochs of
    lowest validation loss, and stores for each of them the posterior means and variances of
    up to ``posterior_events`` training events and the root-mean-square reconstruction error
    per feature of the validation events (the decoder's noise). :meth:`sample` decodes
    latents at the asked masses, the events split at random over the members.
    """

    FORMAT = "resonant_ad.ConditionalVAE"
    VERSION = 3
    SETTINGS = CVAESettings
    MEMBERS = "nets_"

    def fit(self, train: Events, val: Events, *, random_state: int = 0) -> ConditionalVAE:
        """Train on ``train``, select epochs on ``val``; returns ``self``."""
        s, seed = self.settings, random_state
        latent = s.latent_dim or train.x.shape[1]
        beta = s.beta

        def objective(x_val: Tensor, c_val: Tensor) -> tuple[LossFn, Callable[[nn.Module], float]]:
            eps_val = torch.randn(
                len(x_val), latent, generator=torch.Generator().manual_seed(seed + 2)
            ).to(x_val.device)

            def loss_fn(
                module: nn.Module, batch: tuple[Tensor, ...], gen: torch.Generator
            ) -> Tensor:
                x, c = batch
                eps = torch.randn(len(x), latent, generator=gen, device=x.device)
                assert isinstance(module, _CVAENet)
                return module.loss(x, c, eps, beta)

            def validate(module: nn.Module) -> float:
                assert isinstance(module, _CVAENet)
                return float(module.loss(x_val, c_val, eps_val, beta))

            return loss_fn, validate

        trained = self._train(train, val, seed, lambda d: _CVAENet(d, latent, s.hidden), objective)
        net, (x_train, c_train) = trained.net, trained.tensors
        assert isinstance(net, _CVAENet)
        keep = np.random.default_rng(seed + 3).permutation(len(x_train))[: s.posterior_events]
        keep_t = torch.as_tensor(np.sort(keep), device=trained.device)
        x_val, c_val = trained.scaling.tensors(val, trained.device)
        gen = torch.Generator().manual_seed(seed + 4)
        posteriors, noise = [], []
        for member in trained.result.members:
            net.load_state_dict(member.state)
            net.eval()
            with torch.no_grad():
                mu, logvar = net.encode(x_train[keep_t], c_train[keep_t])
                mu_v, logvar_v = net.encode(x_val, c_val)
                eps = torch.randn(mu_v.shape, generator=gen).to(mu_v.device)
                z = mu_v + torch.exp(0.5 * logvar_v) * eps
                err = (net.decode(z, c_val) - x_val).pow(2).mean(dim=0).sqrt()
            posteriors.append((mu.cpu(), logvar.cpu()))
            noise.append(err.cpu())
        self._set_fitted(trained.parts(), latent=latent, posteriors=posteriors, noise=noise)
        self._record_training(trained.result, self.context.region)
        return self

    def _set_fitted(
        self,
        parts: FittedParts,
        *,
        latent: int,
        posteriors: list[tuple[Tensor, Tensor]],
        noise: list[Tensor],
    ) -> None:
        self.nets_ = load_members(
            lambda: _CVAENet(parts.features, latent, self.settings.hidden),
            parts.states,
            parts.device,
        )
        self.posteriors_ = [(mu.float(), logvar.float()) for mu, logvar in posteriors]
        self.noise_ = [n.float() for n in noise]
        self.latent_dim_ = latent
        self._set_conditioning(parts)

    def latents(self, member: int, n: int, latent: str, gen: torch.Generator) -> Tensor:
        """``n`` latents for ensemble member ``member``: from the prior or the sideband
        events' aggregate posterior (a stored event at random, then its Gaussian)."""
        eps = torch.randn(n, self.latent_dim_, generator=gen)
        if latent == "prior":
            return eps
        mu, logvar = self.posteriors_[member]
        pick = torch.randint(0, len(mu), (n,), generator=gen)
        return mu[pick] + torch.exp(0.5 * logvar[pick]) * eps

    def sample(
        self,
        m: np.ndarray,
        *,
        seed: int | None = None,
        latent: str | None = None,
        noise: bool | None = None,
    ) -> np.ndarray:
        """Decoded features at the masses ``m`` (one row each), latents from ``latent``
        (default: ``settings.latent``), with the decoder's noise where ``noise`` (default:
        ``settings.decoder_noise``)."""
        self._check_fitted()
        latent = latent or self.settings.latent
        noise = self.settings.decoder_noise if noise is None else noise
        if latent not in LATENTS:
            raise InputError(f"latent {latent!r}: choose one of {LATENTS}")
        gen = seeded_generator(seed)
        c = self.context_of(m)
        n = len(c)
        owner = torch.randperm(n, generator=gen).tensor_split(len(self.nets_))
        out = torch.empty(n, self.n_features_in_)
        with torch.no_grad():
            for k, (net, idx) in enumerate(zip(self.nets_, owner, strict=True)):
                z = self.latents(k, len(idx), latent, gen)
                x_k = net.decode(z.to(self.device_), c[idx].to(self.device_)).cpu()
                if noise:
                    x_k = x_k + self.noise_[k] * torch.randn(x_k.shape, generator=gen)
                out[idx] = x_k
            x = self.preprocessor_.inverse(out.to(self.device_, torch.float64)).cpu().numpy()
        return np.asarray(x)

    # ------------------------------------------------------------------ storage
    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild the fitted cVAE (see :meth:`from_state`)."""
        return {
            **self._conditioned_state(),
            "latent": self.latent_dim_,
            "posteriors": [(mu.clone(), logvar.clone()) for mu, logvar in self.posteriors_],
            "noise": [n.clone() for n in self.noise_],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], device: str = "auto") -> ConditionalVAE:
        """Rebuild a cVAE written by :meth:`state`."""
        model, parts = cls._from_conditioned_state(state, "cvae model", device)
        model._set_fitted(
            parts,
            latent=int(state["latent"]),
            posteriors=[(mu, logvar) for mu, logvar in state["posteriors"]],
            noise=list(state["noise"]),
        )
        return model
