"""Toys the template tests share: a Gaussian background whose mean moves linearly with the
mass (its SR truth known), the ``[model]`` config that trains tiny models on it, and a small
study of the LHCO-like toy with a simulation beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from resonant_ad.config import StudyConfig, config_from_dict
from resonant_ad.data.events import Events
from resonant_ad.data.features import compute_features
from resonant_ad.data.regions import SignalRegion
from resonant_ad.data.toy import make_toy_sample
from resonant_ad.search.inputs import StudyInputs

SR = SignalRegion(3.3, 3.7)
MU = np.array([1.0, 2.0, 0.0])
SLOPE = np.array([1.0, -0.5, 0.0])
SIGMA = np.array([0.3, 0.2, 0.5])
NAMES = ("a", "b", "c")


def gaussian_toy(
    n: int,
    seed: int,
    *,
    shift: tuple[np.ndarray, np.ndarray] | None = None,
    width: np.ndarray | None = None,
) -> Events:
    """``n`` events: ``m = 2.9 + Exp(0.6)`` below 4.5 TeV, ``x ~ N(MU + SLOPE (m - 3.5),
    SIGMA)``; with ``shift = (A, B)`` the mean moves by ``A + B (m - 3.5)`` (data that a
    simulation mismodels), with ``width`` the spread is ``width * SIGMA`` (and the shift, if
    any, is added with the noise)."""
    rng = np.random.default_rng(seed)
    m = 2.9 + rng.exponential(0.6, size=3 * n)
    m = m[m < 4.5][:n]
    dm = (m - 3.5)[:, None]
    noise = SIGMA * rng.standard_normal((len(m), len(MU)))
    a, b = (0.0, 0.0) if shift is None else shift
    if width is not None:
        x = MU + SLOPE * dm + (noise * width + a + b * dm)
    else:
        x = MU + SLOPE * dm + noise
        if shift is not None:
            x = x + a + b * dm
    return Events(m, x, np.zeros(len(m)), NAMES)


def sr_truth(n: int, seed: int, **kwargs: Any) -> Events:
    """The SR events of ``gaussian_toy(n, seed, **kwargs)``: the true SR background."""
    events = gaussian_toy(n, seed, **kwargs)
    return events.select(SR.contains(events.m))


def split(events: Events) -> tuple[Events, Events]:
    """``(train, val)``: the last five sixths and the first sixth."""
    n_val = len(events) // 6
    return events.select(slice(n_val, None)), events.select(slice(0, n_val))


def toy_config(
    method: dict[str, Any] | None = None,
    *,
    epochs: int | None = 20,
    preprocessing: str | None = "standard",
    **model: Any,
) -> StudyConfig:
    """A config of tiny models trained ``epochs`` epochs (``None``: no ``[model]`` table) on
    features preprocessed by ``preprocessing`` (``None``: each family's own), with the
    ``[method.NAME]`` tables ``method``."""
    raw: dict[str, Any] = {"data": {"events": "unused.h5"}, "study": {"device": "cpu"}}
    if epochs is not None:
        given = {} if preprocessing is None else {"preprocessing": preprocessing}
        raw["model"] = {"preset": "tiny", "epochs": epochs, **given, **model}
    if method:
        raw["method"] = method
    return config_from_dict(raw)


def study_inputs(
    n_background: int, n_signal: int, n_simulation: int, *, simulation: bool, seed: int = 99
) -> StudyInputs:
    """The LHCO-like toy (seed 5) with, if ``simulation``, a simulated background of
    ``n_simulation`` events drawn with ``seed``."""
    toy = make_toy_sample(n_background, n_signal, 0, seed=5)
    sim = compute_features(make_toy_sample(n_simulation, 0, 0, seed=seed).background)
    return StudyInputs(
        compute_features(toy.background),
        compute_features(toy.signal),
        None,
        sim if simulation else None,
    )


def study_config(methods: list[str], n_sig: int, *, epochs: int | None = None, **study: Any) -> Any:
    """A one-injection study of ``methods`` at ``n_sig`` with a two-member classifier (and
    tiny models of ``epochs`` epochs where given)."""
    raw: dict[str, Any] = {
        "data": {"events": "unused.h5"},
        "study": {"n_sig": [n_sig], "n_injections": 1, "methods": methods, "device": "cpu"} | study,
        "classifier": {"ensemble_size": 2, "oversampling": 1},
    }
    if epochs is not None:
        raw["model"] = {"preset": "tiny", "epochs": epochs}
    return config_from_dict(raw)


def toy_scan_config(folder: Path, *, ensemble_size: int = 2, scan_extra: str = "") -> Path:
    """A toy sample (20k background, 3k signal) in ``folder`` and the config of a tiny
    SIGMA scan of it over three windows with 1500 signal events injected (``scan_extra``:
    more ``[scan]`` lines)."""
    import pandas as pd

    from resonant_ad.data.lhco import write_lhco

    toy = make_toy_sample(20_000, 3_000, 0, seed=5)
    write_lhco(pd.concat([toy.background, toy.signal], ignore_index=True), folder / "ev.h5")
    config = folder / "c.toml"
    config.write_text(
        '[data]\nevents = "ev.h5"\n[study]\ndevice = "cpu"\n'
        '[model]\npreset = "tiny"\nmax_epochs = 2\n'
        f"[classifier]\nensemble_size = {ensemble_size}\noversampling = 2\n"
        "[scan]\nm_min = 2.9\nm_max = 4.5\nwidth = 0.4\nstep = 0.4\nmargin = 0.1\n"
        'n_sig = 1500\nefficiencies = [0.1, 0.02]\nmethods = ["sigma-context"]\n' + scan_extra
    )
    return config
