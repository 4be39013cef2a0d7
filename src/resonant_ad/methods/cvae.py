"""``cvae`` template: a conditional variational autoencoder of x given mjj, per SR."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion
from resonant_ad.errors import InputError
from resonant_ad.flows.preprocessing import PREPROCESSINGS, Preprocessor
from resonant_ad.methods.base import sample_per_region
from resonant_ad.methods.conditioning import REVISION, Conditioning
from resonant_ad.methods.registry import FitInputs, Method, RegionInputs, register
from resonant_ad.persistence import TrainedEnsemble
from resonant_ad.training import TrainingConfig, resolve_device, train

if TYPE_CHECKING:
    from resonant_ad.config import StudyConfig

__all__ = ["CVAE_PRESETS", "LATENTS", "CVAEMethod", "CVAESettings", "ConditionalVAE"]

_FORMAT = "resonant_ad.ConditionalVAE"
_FORMAT_VERSION = 1

LATENTS = ("prior", "posterior")
"""Where template latents come from: the prior ``N(0, 1)``, or the aggregate posterior of
the sideband events (a Gaussian mixture with one component ``q(z | x_i, m_i)`` per stored
encoded sideband event)."""


@dataclass(frozen=True)
class CVAESettings:
    """Architecture and training of a :class:`ConditionalVAE` (its cache key)."""

    latent_dim: int | None = None
    """Latent dimensions (``None``: as many as features)."""
    hidden: tuple[int, ...] = (128, 128)
    beta: float = 1e-6
    """The loss is ``(1 - beta) * MSE + beta * KL``."""
    preprocessing: str = "standard"
    batch_size: int = 1024
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    max_epochs: int = 100
    max_seconds: float | None = None
    plateau_factor: float = 0.3
    plateau_patience: int = 8
    early_stopping_patience: int = 15
    n_best: int = 5
    posterior_events: int = 20_000
    """Encoded sideband events kept per ensemble member for ``latent = "posterior"``."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.beta < 1.0:
            raise InputError(f"beta = {self.beta}: must be in [0, 1)")
        if self.latent_dim is not None and self.latent_dim < 1:
            raise InputError(f"latent_dim = {self.latent_dim}: must be at least 1")
        if not self.hidden or min(self.hidden) < 1:
            raise InputError("the cVAE needs non-empty hidden layers")
        if self.preprocessing not in PREPROCESSINGS:
            raise InputError(
                f"preprocessing {self.preprocessing!r}: choose one of {PREPROCESSINGS}"
            )
        if self.max_epochs < 1 or self.n_best < 1 or self.posterior_events < 1:
            raise InputError("max_epochs, n_best and posterior_events must be at least 1")


CVAE_PRESETS: dict[str, CVAESettings] = {
    "paper": CVAESettings(hidden=(256, 256, 256), max_epochs=200, n_best=10),
    "cpu": CVAESettings(),
    "tiny": CVAESettings(
        hidden=(32, 32),
        batch_size=256,
        learning_rate=3e-3,
        max_epochs=20,
        plateau_patience=5,
        early_stopping_patience=10,
        n_best=2,
        posterior_events=5_000,
    ),
}
"""cVAE settings per ``[model] preset`` (the flow-matching presets' names)."""

_OVERRIDABLE = ("max_epochs", "max_seconds", "early_stopping_patience")


def cvae_settings(
    config: StudyConfig, beta: float = 1e-6, latent_dim: int | None = None
) -> CVAESettings:
    """The settings of ``[model] preset`` with ``beta``, ``latent_dim`` and the ``[model]``
    overrides (``epochs``, ``max_epochs``, ``max_seconds``) applied."""
    base = CVAE_PRESETS.get(config.model.preset)
    if base is None:
        raise InputError(
            f"[model] preset {config.model.preset!r}: cvae knows {sorted(CVAE_PRESETS)}"
        )
    overrides = config.model.overrides()
    return dataclasses.replace(
        base,
        beta=beta,
        latent_dim=latent_dim,
        **{k: overrides[k] for k in _OVERRIDABLE if k in overrides},
    )


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


class ConditionalVAE(TrainedEnsemble):
    """A conditional VAE of ``x`` given ``m``, kept as an ensemble of its best epochs.

    Features are mapped by a :class:`~resonant_ad.flows.preprocessing.Preprocessor` of
    ``settings.preprocessing`` and ``m`` is standardised, both with the training events'
    statistics. :meth:`fit` minimises ``(1 - beta) * MSE + beta * KL`` (MSE per feature of
    the reconstruction, KL of ``q(z | x, m)`` from ``N(0, 1)`` summed over latent
    dimensions) with :func:`resonant_ad.training.train`, keeps the ``n_best`` epochs of
    lowest validation loss, and stores for each of them the posterior means and variances of
    up to ``posterior_events`` training events. :meth:`sample` decodes latents at the asked
    masses, the events split at random over the members.
    """

    def __init__(self, settings: CVAESettings | None = None) -> None:
        self.settings = settings or CVAESettings()

    def fit(
        self,
        train_events: Events,
        val_events: Events,
        *,
        seed: int = 0,
        device: str = "auto",
        signal_region: SignalRegion | None = None,
        checkpoint: str | None = None,
        progress: bool = False,
    ) -> ConditionalVAE:
        """Train on ``train_events``, select epochs on ``val_events``; returns ``self``."""
        s = self.settings
        scaling = Conditioning.fit(train_events, val_events, s.preprocessing)
        dev = resolve_device(device)
        d = train_events.x.shape[1]
        latent = s.latent_dim or d
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = _CVAENet(d, latent, s.hidden)
        x_train, c_train = scaling.tensors(train_events, dev)
        x_val, c_val = scaling.tensors(val_events, dev)
        eps_val = torch.randn(
            len(x_val), latent, generator=torch.Generator().manual_seed(seed + 2)
        ).to(dev)
        beta = s.beta

        def loss_fn(module: nn.Module, batch: tuple[Tensor, ...], gen: torch.Generator) -> Tensor:
            x, c = batch
            eps = torch.randn(len(x), latent, generator=gen, device=x.device)
            assert isinstance(module, _CVAENet)
            return module.loss(x, c, eps, beta)

        def validate(module: nn.Module) -> float:
            assert isinstance(module, _CVAENet)
            return float(module.loss(x_val, c_val, eps_val, beta))

        config = TrainingConfig(
            batch_size=s.batch_size,
            learning_rate=s.learning_rate,
            weight_decay=s.weight_decay,
            max_epochs=s.max_epochs,
            max_seconds=s.max_seconds,
            plateau_factor=s.plateau_factor,
            plateau_patience=s.plateau_patience,
            early_stopping_patience=s.early_stopping_patience,
            n_best=s.n_best,
            checkpoint_path=checkpoint,
            progress=progress,
        )
        result = train(net, loss_fn, (x_train, c_train), validate, config, seed=seed, device=dev)
        keep = np.random.default_rng(seed + 3).permutation(len(x_train))[: s.posterior_events]
        keep_t = torch.as_tensor(np.sort(keep), device=dev)
        posteriors = []
        for member in result.members:
            net.load_state_dict(member.state)
            net.eval()
            with torch.no_grad():
                mu, logvar = net.encode(x_train[keep_t], c_train[keep_t])
            posteriors.append((mu.cpu(), logvar.cpu()))
        self._set_fitted(
            features=d,
            latent=latent,
            feature_names=train_events.feature_names,
            preprocessor=scaling.preprocessor.cpu(),
            m_scale=scaling.m_scale,
            states=[member.state for member in result.members],
            posteriors=posteriors,
            device=dev,
        )
        self._record_training(result, signal_region)
        return self

    def _set_fitted(
        self,
        *,
        features: int,
        latent: int,
        feature_names: tuple[str, ...],
        preprocessor: Preprocessor,
        m_scale: tuple[float, float],
        states: list[dict[str, Tensor]],
        posteriors: list[tuple[Tensor, Tensor]],
        device: torch.device,
    ) -> None:
        nets = []
        for state in states:
            net = _CVAENet(features, latent, self.settings.hidden)
            net.load_state_dict(state)
            nets.append(net.to(device).eval())
        self.nets_ = nets
        self.posteriors_ = [(mu.float(), logvar.float()) for mu, logvar in posteriors]
        self.n_features_in_ = features
        self.latent_dim_ = latent
        self.feature_names_ = tuple(feature_names)
        self.preprocessor_ = preprocessor.to(device)
        self.m_scale_ = (float(m_scale[0]), float(m_scale[1]))
        self.device_ = device

    def _check_fitted(self) -> None:
        if not hasattr(self, "nets_"):
            raise InputError("this ConditionalVAE is not fitted yet: call fit() or load it")

    def _context(self, m: np.ndarray) -> Tensor:
        mean, std = self.m_scale_
        c = (np.asarray(m, dtype=np.float64).reshape(-1) - mean) / std
        return torch.as_tensor(c, dtype=torch.float32).unsqueeze(1)

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
        self, m: np.ndarray, *, latent: str = "posterior", seed: int | None = None
    ) -> np.ndarray:
        """Decoded features at the masses ``m`` (one row each), latents from ``latent``."""
        self._check_fitted()
        if latent not in LATENTS:
            raise InputError(f"latent {latent!r}: choose one of {LATENTS}")
        gen = torch.Generator()
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(int(seed))
        c = self._context(m)
        n = len(c)
        owner = torch.randperm(n, generator=gen).tensor_split(len(self.nets_))
        out = torch.empty(n, self.n_features_in_)
        with torch.no_grad():
            for k, (net, idx) in enumerate(zip(self.nets_, owner, strict=True)):
                z = self.latents(k, len(idx), latent, gen)
                out[idx] = net.decode(z.to(self.device_), c[idx].to(self.device_)).cpu()
            x = self.preprocessor_.inverse(out.to(self.device_, torch.float64)).cpu().numpy()
        return np.asarray(x)

    # ------------------------------------------------------------------ storage
    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild the fitted cVAE (see :meth:`from_state`)."""
        self._check_fitted()
        return {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "settings": dataclasses.asdict(self.settings),
            "features": self.n_features_in_,
            "latent": self.latent_dim_,
            "feature_names": list(self.feature_names_),
            "preprocessor": {k: v.cpu() for k, v in self.preprocessor_.state_dict().items()},
            "m_scale": list(self.m_scale_),
            "members": [
                {k: v.detach().cpu() for k, v in net.state_dict().items()} for net in self.nets_
            ],
            "posteriors": [(mu.clone(), logvar.clone()) for mu, logvar in self.posteriors_],
            **self._training_state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], device: str = "auto") -> ConditionalVAE:
        """Rebuild a cVAE written by :meth:`state`."""
        if state.get("format") != _FORMAT or state.get("version") != _FORMAT_VERSION:
            raise InputError("not a saved cvae model (or one of another version)")
        raw = dict(state["settings"])
        raw["hidden"] = tuple(raw["hidden"])
        model = cls(CVAESettings(**raw))
        d = int(state["features"])
        pre = Preprocessor(d, model.settings.preprocessing)
        pre.load_state_dict(state["preprocessor"])
        model._set_fitted(
            features=d,
            latent=int(state["latent"]),
            feature_names=tuple(state["feature_names"]),
            preprocessor=pre,
            m_scale=tuple(state["m_scale"]),
            states=state["members"],
            posteriors=[(mu, logvar) for mu, logvar in state["posteriors"]],
            device=resolve_device(device),
        )
        model._restore_training(state)
        return model


class CVAEMethod(Method):
    """``cvae``: a conditional VAE (Sohn, Lee, Yan, NeurIPS 2015) trained on the sidebands
    and decoded at SR masses, as the background template of CATHODE's weakly supervised
    search (arXiv:2109.00546) in place of its flow.

    The encoder ``q(z | x, m)`` and the decoder ``x(z, m)`` both see the standardised
    ``mjj``; one :class:`ConditionalVAE` per SR is trained on its sidebands with the loss
    ``(1 - beta) * MSE + beta * KL`` (``beta = 1e-6`` by default). The template is the
    decoder run at SR masses drawn from the SR data's masses
    (:func:`~resonant_ad.methods.base.sample_masses`). With so small a ``beta`` the encoded
    sideband events do not fill the prior ``N(0, 1)``, so ``latent`` chooses the template's
    latents: ``"prior"`` draws them from ``N(0, 1)``; ``"posterior"`` (the default) from the
    aggregate posterior of the sideband events: a stored training event at random, then a
    draw from its ``q(z | x, m)`` (a Gaussian mixture with one component per stored event).

    Settings (constructor): ``latent``, ``beta``, ``latent_dim`` (``None``: as many latent
    dimensions as features); network sizes and epochs come from :data:`CVAE_PRESETS` by
    ``[model] preset`` (``paper``: three layers of 256 and up to 200 epochs, for a GPU) and
    the ``[model]`` overrides. Any feature set trains; the six features of the cVAE study
    (``mj1``, ``mj2``, ``tau21`` and ``tau32`` of both jets) are
    :data:`~resonant_ad.data.features.FEATURE_SETS` ``["cvae"]``.

    Measured on a toy LHCO-like background (:mod:`resonant_ad.data.toy`) with 55,633
    sideband events around SR 3.3-3.7 TeV (47,288 train, 8,345 validation: the size of the
    Pythia dev sample's sidebands), on 2 shared CPU cores (load average about 4 from other
    jobs) with one torch thread:

    - latent sampling: a classifier (3 HGB members) telling 4x oversampled templates from
      25,647 true SR background events has AUC 0.938 with ``"prior"`` and 0.700 with
      ``"posterior"`` (``cpu`` preset, 100 epochs, ``beta = 1e-6``, 5 latent dimensions),
      hence the default. An independent sample of true SR background scores 0.499, the
      sideband events resampled at SR masses 0.735: at ``beta = 1e-6`` the cVAE nearly
      reconstructs its input and learns little of how ``x`` moves with ``m``. With
      ``beta = 1e-2`` the same AUCs are 0.595 (prior) and 0.584 (posterior); with 4 or 2
      latent dimensions at ``beta = 1e-6``, 0.918 and 0.995 (posterior);
    - training, timed over 3 epochs: ``cpu`` preset 0.32-0.36 s per epoch (100 epochs: 40
      s), ``paper`` preset 1.5 s per epoch, in proportion to the number of sideband events;
    - per SR, decoding 200,000 template events: 0.5 s (``cpu``), 1.7 s (``paper``).

    On the Pythia dev sample (``benchmarks/results/bench_cvae_latents.txt``: 6 trainings of
    40 epochs, ``beta = 1e-6``, 4x oversampled templates against 25,000 true SR background
    events) the same classifier test gives a median AUC of 0.929 with ``"prior"`` latents and
    0.729 with ``"posterior"`` latents: the posterior is the better template here too.

    CPU budget (:attr:`~resonant_ad.methods.registry.Method.cpu_budget`): 120 s per SR on two
    cores for a dev-sample SR at 40 epochs, training included (measured in
    ``benchmarks/results/bench_templates``).
    """

    model_class = ConditionalVAE

    name = "cvae"
    cpu_budget = 120.0
    label = "cVAE"
    color = "#637939"
    linestyle = "-."
    trains_on = "sidebands"
    description = "a conditional VAE trained on the sidebands of each SR, decoded at SR masses"

    def __init__(
        self, latent: str = "posterior", *, beta: float = 1e-6, latent_dim: int | None = None
    ) -> None:
        if latent not in LATENTS:
            raise InputError(f"cvae latent {latent!r}: choose one of {LATENTS}")
        CVAESettings(beta=beta, latent_dim=latent_dim)  # validate early
        self.latent = latent
        self.beta = beta
        self.latent_dim = latent_dim

    options_class = CVAESettings

    def default_options(self, config: StudyConfig) -> CVAESettings:
        """``[model] preset``'s settings with this variant's ``beta`` and ``latent_dim``."""
        return cvae_settings(config, beta=self.beta, latent_dim=self.latent_dim)

    def model_settings(self, config: StudyConfig) -> Any:
        return ("cvae", REVISION, dataclasses.asdict(self.options(config)))

    def template_settings(self, config: StudyConfig) -> Any:
        return self.latent

    def fit(self, inputs: FitInputs) -> ConditionalVAE:
        return ConditionalVAE(self.options(inputs.config)).fit(
            inputs.train,
            inputs.val,
            seed=inputs.seed,
            device=inputs.config.device,
            signal_region=inputs.region,
            checkpoint=None if inputs.checkpoint is None else str(inputs.checkpoint),
            progress=inputs.progress,
        )

    def template(self, model: Any, inputs: RegionInputs, n: int) -> Events:
        return sample_per_region(model, inputs, n, "cvae", latent=self.latent)


register(CVAEMethod())
