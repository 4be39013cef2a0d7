"""The study set-up the physics benchmarks share: the Pythia dev sample (``events.h5`` and
``extra_sr_background.h5`` in ``data_dir``), SR 3.3-3.7 TeV, seed 0, on the CPU."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import logsumexp

from resonant_ad.config import DataConfig, StudyConfig, config_from_dict
from resonant_ad.data.events import Events
from resonant_ad.data.injection import Injection
from resonant_ad.data.regions import SignalRegion
from resonant_ad.data.spectrum import MassDensity
from resonant_ad.density.mixture import SignalMixture
from resonant_ad.flows.model import FlowMatchingModel
from resonant_ad.methods.inputs import RegionInputs
from resonant_ad.methods.registry import Method
from resonant_ad.search.inputs import StudyInputs, load_inputs


def dev_inputs(data_dir: str | Path, features: str = "sigma") -> StudyInputs:
    """The dev sample's events and its extra SR background, with the feature set
    ``features``."""
    d = Path(data_dir)
    return load_inputs(
        DataConfig(
            events=d / "events.h5",
            extra_background=d / "extra_sr_background.h5",
            features=features,
        )
    )


def dev_config(
    data_dir: str | Path,
    *,
    n_sig: list[int],
    injections: int,
    methods: list[str],
    epochs: int | None = None,
    ensemble: int | None = None,
    seed: int = 0,
    data: dict[str, Any] | None = None,
    preset: str = "cpu",
    device: str = "cpu",
    **sections: dict[str, Any],
) -> StudyConfig:
    """The study config: ``epochs`` sets ``[model]`` (the ``preset``, ``cpu`` by default, for
    that many epochs) and ``ensemble`` ``[classifier]`` (that many members, the template
    oversampled four times), each left at its default when ``None``; ``seed`` is the study's
    seed; ``device`` its device; ``data`` adds ``[data]`` keys and ``sections`` whole
    sections (e.g. ``density={...}``)."""
    d = Path(data_dir)
    config: dict[str, Any] = {
        "data": {
            "events": str(d / "events.h5"),
            "extra_background": str(d / "extra_sr_background.h5"),
            **(data or {}),
        },
        "study": {
            "signal_regions": [[3.3, 3.7]],
            "n_sig": n_sig,
            "n_injections": injections,
            "methods": methods,
            "seed": seed,
            "device": device,
        },
    }
    if epochs is not None:
        config["model"] = {"preset": preset, "epochs": epochs}
    elif preset != "cpu":
        config["model"] = {"preset": preset}
    if ensemble is not None:
        config["classifier"] = {"ensemble_size": ensemble, "oversampling": 4}
    return config_from_dict({**config, **sections})


def held_out_injection(
    inputs: StudyInputs, n_sig: int, sr: SignalRegion, injection: int = 0
) -> tuple[Injection, Events]:
    """Injection ``injection`` (seed 0) of ``n_sig`` signal events, its test events the
    even-numbered events of the extra SR background, and the odd-numbered ones in ``sr``: a
    true SR background that neither the data nor the test events hold (the truth a template
    is compared with)."""
    from resonant_ad.data.injection import make_injections

    extra = inputs.extra_background
    assert extra is not None
    test, held = extra.select(slice(0, None, 2)), extra.select(slice(1, None, 2))
    inj = make_injections(
        inputs.background,
        inputs.signal,
        n_sig,
        signal_region=sr,
        n_injections=injection + 1,
        seed=0,
        extra_background=test,
    )[injection]
    return inj, held.select(sr.contains(held.m))


PLAIN_DENSITY = {"correction": "none", "mass": "data", "capture": False}
"""The background of the R-ANODE studies that read the mixture's ingredients themselves (and
of those measured before the study's defaults corrected ``p_B`` in the sidebands, took
``p(m)`` from them and profiled the background-like signal): ``p_B`` as the model gives it,
``p(m)`` from the SR data's masses, no capture. A study's ``density`` overrides it."""


def ranode_config(
    args: argparse.Namespace,
    features: str = "sigma",
    *,
    n_sig: int | None = None,
    density: dict[str, Any] | None = None,
) -> StudyConfig:
    """``r-anode`` at ``n_sig`` (default ``args.n_sig``) with the options ``--data-dir``,
    ``--injections``, ``--epochs`` and ``--ensemble`` of ``args``, the feature set
    ``features`` and the ``[density]`` section ``density`` over :data:`PLAIN_DENSITY`
    (default: the ``sigma-context`` background)."""
    return dev_config(
        args.data_dir,
        n_sig=[args.n_sig if n_sig is None else n_sig],
        injections=args.injections,
        methods=["r-anode"],
        epochs=args.epochs,
        ensemble=args.ensemble,
        data={"features": features},
        density={**PLAIN_DENSITY, "background": "sigma-context", **(density or {})},
    )


def sr_fit_inputs(inj: Injection, cfg: StudyConfig) -> tuple[Events, Events, RegionInputs]:
    """An injection's SR events as the density methods fit them (training and validation),
    its SR data, and the region inputs of the config's first SR."""
    sr = cfg.signal_regions[0]
    events = Events.concatenate(
        [inj.train.select(sr.contains(inj.train.m)), inj.val.select(sr.contains(inj.val.m))]
    )
    sr_data = inj.data.select(sr.contains(inj.data.m))
    return events, sr_data, RegionInputs(sr, sr_data, inj.test, cfg, inj.seed)


def sr_trained_background(
    cfg: StudyConfig, inputs: StudyInputs, sr_events: int | None = None, member: int = 0
) -> tuple[FlowMatchingModel, str]:
    """The flow-matching model of the study's ``[model]`` settings trained on the true
    background *in* the SR: the dev sample's QCD outside the SR plus the extra SR QCD
    (independent of the data), 80% for training and 20% for validation; and a line saying
    what it is and how long it took. A yardstick for the background model: it needs
    background-only SR events. ``sr_events``: keep only that many of the extra SR events
    (as many as the data have in the SR, to compare with a model trained on the data);
    ``member``: the ``member``-th of an ensemble (the same events, another training seed)."""
    assert inputs.extra_background is not None
    t0 = time.perf_counter()
    sr, qcd, extra = cfg.signal_regions[0], inputs.background, inputs.extra_background
    in_sr = extra.select(sr.contains(extra.m))
    if sr_events is not None:
        in_sr = in_sr.select(slice(0, min(sr_events, len(in_sr))))
    pool = Events.concatenate([qcd.select(~sr.contains(qcd.m)), in_sr])
    perm = np.random.default_rng(cfg.seed).permutation(len(pool))
    n_train = int(0.8 * len(pool))
    model = FlowMatchingModel.from_preset(
        cfg.model.preset, **cfg.model.overrides(), device="cpu", random_state=cfg.seed + member
    ).fit(pool.select(perm[:n_train]), pool.select(perm[n_train:]))
    line = (
        f"sr-trained background model: {len(pool)} QCD events ({len(in_sr)} in the SR; "
        f"{n_train} for training), "
        f"{cfg.model.preset} preset, {cfg.model.epochs} epochs, "
        f"{time.perf_counter() - t0:.0f} s"
    )
    return model, line


def background_inputs(
    models: list[tuple[Method, Any]], region: RegionInputs, events: Events
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """What a mixture fit needs of the background, as the study's densities task makes it:
    ``log p_B(x | m) + log p(m)`` of ``events`` (``p(m)`` from the SR data's masses) and a
    reference sample for the tilt, ``REFERENCE_FACTOR`` events per SR data event. ``models``
    are ``(the method that reads the model, the model)``; several make an ensemble whose
    density is the mean of theirs and whose reference draws equally from each."""
    from resonant_ad.density.background import REFERENCE_FACTOR

    sr, n = region.region, len(models)
    log_pm = MassDensity(sr.lo, sr.hi).fit(region.data.m).log_prob(events.m)
    log_bg = [method.log_density(model, region, events) for method, model in models]
    n_ref = REFERENCE_FACTOR * len(region.data) // n
    ref = Events.concatenate([method.template(model, region, n_ref) for method, model in models])
    return log_pm + logsumexp(log_bg, axis=0) - np.log(n), (ref.x, ref.m)


def sideband_correction(model: FlowMatchingModel, inj: Injection, cfg: StudyConfig) -> Any:
    """The :class:`~resonant_ad.density.correction.SidebandCorrection` of ``model`` that the
    study's ``[density] correction = "sidebands"`` fits in the config's first SR (the same
    settings, sideband events and seed)."""
    from resonant_ad.data.regions import near_sidebands
    from resonant_ad.density.correction import SidebandCorrection
    from resonant_ad.search.seeds import Stream, stream_seed

    d, sr = cfg.density, cfg.signal_regions[0]
    return SidebandCorrection(d.correction_members, d.correction_samples).fit(
        near_sidebands(inj.train, sr, d.correction_width),
        near_sidebands(inj.val, sr, d.correction_width),
        model,
        seed=stream_seed(inj.seed, Stream.CORRECTION),
    )


def sideband_corrected(
    log_bg: np.ndarray,
    reference: tuple[np.ndarray, np.ndarray],
    model: FlowMatchingModel,
    inj: Injection,
    cfg: StudyConfig,
    events: Events,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """``log_bg`` of ``events`` and the tilt's ``reference`` corrected as the study's
    ``[density] correction = "sidebands"`` corrects them: by :func:`sideband_correction`."""
    ref = Events(reference[1], reference[0], np.zeros(len(reference[1])))
    (log_bg,), ref = sideband_correction(model, inj, cfg).correct([log_bg], [events], ref)
    return log_bg, (ref.x, ref.m)


def fit_mixture(
    x: np.ndarray,
    m: np.ndarray,
    log_bg: np.ndarray,
    window: tuple[float, float],
    reference: tuple[np.ndarray, np.ndarray],
    params: dict[str, Any],
    seed: int,
) -> SignalMixture:
    """R-ANODE's mixture fitted with ``params`` on one torch thread: the task the benchmarks
    hand to their worker processes, two fits side by side on the two cores."""
    import torch

    torch.set_num_threads(1)
    return SignalMixture(**params, random_state=seed).fit(x, m, log_bg, window, reference=reference)
