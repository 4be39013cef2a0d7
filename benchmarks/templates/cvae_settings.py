"""Which cVAE settings make the best background template on the Pythia dev sample.

For one injection of ``N_sig`` signal events (SR 3.3-3.7 TeV), train ``cvae`` on the sidebands
under each named setting (the same number of epochs for all: no early stopping) and make
templates at 4x the SR data's masses with each way of sampling (latents from the prior or the
aggregate posterior; the decoded means, or with the decoder's noise). Per template:

- label-free scores, used to choose: ``window`` is the mean AUC of a classifier telling the
  data of the two validation windows next to the SR (2.9-3.3 and 3.7-4.1 TeV) from the cVAE
  template made for that window (a model trained outside the window, as the study's
  ``validation_windows`` do); ``sideband`` the AUC of the template made at the held-out
  sideband events' masses against those events;
- checks with the labels: ``truth``, the classifier-test AUC against the true SR background
  (the odd half of the extra SR background), and the largest per-bin pull of each feature's
  histogram against it.

0.5 is a perfect template for every AUC. Classifiers: 5 HGB members.

Usage: ``OMP_NUM_THREADS=1 python benchmarks/templates/cvae_settings.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared code

from _common.dev_sample import dev_inputs, held_out_injection
from resonant_ad.data.events import Events
from resonant_ad.data.injection import Injection
from resonant_ad.data.regions import SignalRegion
from resonant_ad.detect.classifier_test import classifier_test
from resonant_ad.detect.hgb import HGBEnsemble
from resonant_ad.models.base import ModelContext
from resonant_ad.models.cvae import PRESETS, ConditionalVAE
from resonant_ad.search.seeds import Stream, stream_seed
from resonant_ad.search.validation import validation_auc, validation_windows
from templates.fidelity import pulls

DEV = Path(__file__).resolve().parents[3] / "shared" / "data" / "pythia-dev"

SETTINGS: dict[str, dict[str, Any]] = {
    "beta1e-6": {"beta": 1e-6, "preprocessing": "standard"},
    "beta1e-2": {"beta": 1e-2, "preprocessing": "standard"},
    "beta1e-1": {"beta": 1e-1, "preprocessing": "standard"},
    "beta1e-3": {"beta": 1e-3, "preprocessing": "standard"},
    "beta1e-2-wide": {"beta": 1e-2, "hidden": (256, 256, 256), "preprocessing": "standard"},
    "beta1e-6-cvae6": {"beta": 1e-6, "features": "cvae", "preprocessing": "standard"},
    "beta1e-2-cvae6": {"beta": 1e-2, "features": "cvae", "preprocessing": "standard"},
    "beta3e-3": {"beta": 3e-3, "preprocessing": "standard"},
    "beta3e-2": {"beta": 3e-2, "preprocessing": "standard"},
    "beta1e-2-100ep": {"beta": 1e-2, "epochs": 100, "preprocessing": "standard"},
    "beta1e-2-gauss": {"beta": 1e-2, "preprocessing": "gaussianize"},
    "beta1e-3-gauss": {"beta": 1e-3, "preprocessing": "gaussianize"},
    "beta1e-6-gauss": {"beta": 1e-6, "preprocessing": "gaussianize"},
    "beta3e-2-gauss": {"beta": 3e-2, "preprocessing": "gaussianize"},
    "beta3e-3-gauss": {"beta": 3e-3, "preprocessing": "gaussianize"},
}
"""Named settings: ``CVAESettings`` fields over the ``cpu`` preset, ``features`` the set and
``epochs`` the training length (default ``--epochs``). The ``standard`` rows were the
preset's map before these measurements chose ``gaussianize``."""

M = TypeVar("M")

SAMPLINGS = (("posterior", False), ("prior", False), ("posterior", True), ("prior", True))


def auc(template: Events, truth: Events, seed: int) -> float:
    clf = HGBEnsemble(n_estimators=5, random_state=seed)
    return float(classifier_test(template, truth, classifier=clf, random_state=seed).auc)


def fit(
    model_type: type[M], inj: Injection, region: SignalRegion, settings: Any, seed: int
) -> tuple[M, float]:
    """A ``model_type`` of ``settings`` trained on the sidebands of ``region`` (everything
    outside it) and its training seconds."""
    train = inj.train.select(region.sideband(inj.train.m))
    val = inj.val.select(region.sideband(inj.val.m))
    model = model_type(settings, ModelContext(region, "cpu"))
    t0 = time.perf_counter()
    model.fit(train, val, random_state=seed)
    return model, time.perf_counter() - t0


def template_at(model: ConditionalVAE, m: np.ndarray, names: Any, how: tuple[str, bool]) -> Events:
    x = model.sample(m, latent=how[0], noise=how[1], seed=0)
    return Events(m, x, np.zeros(len(m), dtype=np.int64), names)


def settings_arguments(doc: str | None, settings: list[str], out: str) -> argparse.Namespace:
    """The command line of a settings benchmark (the named ``settings`` to measure, one
    injection of ``--n-sig``, ``--epochs`` each, rows written to ``out`` or appended), with
    one torch thread and warnings only."""
    p = argparse.ArgumentParser(description=doc)
    p.add_argument("--data-dir", default=str(DEV))
    p.add_argument("--settings", nargs="+", default=settings)
    p.add_argument("--n-sig", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--out", default=f"benchmarks/templates/results/{out}")
    p.add_argument("--append", action="store_true", help="add rows to --out, no header")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import torch

    torch.set_num_threads(1)
    return args


def main() -> None:
    args = settings_arguments(__doc__, list(SETTINGS), "cvae_settings.txt")
    sr = SignalRegion(3.3, 3.7)
    lines = [
        f"cvae settings on the Pythia dev sample, SR 3.3-3.7 TeV, N_sig {args.n_sig} "
        f"(injection 0), cpu preset, {args.epochs} epochs each unless the setting says "
        "(no early stopping), "
        "templates 4x the SR data; AUC 0.5 = perfect.",
        "window: mean AUC, data vs template in 2.9-3.3 and 3.7-4.1 TeV (label-free); "
        "sideband: template vs held-out sideband events (label-free); truth: vs true SR "
        "background (labels, a check); pulls: largest |pull| per feature vs truth.",
        f"{'setting':<16} {'latent':<9} {'noise':<5} {'window':>6} {'sideband':>8} "
        f"{'truth':>6}  {'train s':>7}  max pulls",
    ]
    if args.append:
        lines = Path(args.out).read_text().splitlines()
    print("\n".join(lines), flush=True)
    loaded: dict[str, tuple[Injection, Events]] = {}
    for name in args.settings:
        spec = dict(SETTINGS[name])
        features = spec.pop("features", "sigma")
        epochs = spec.pop("epochs", args.epochs)
        if features not in loaded:
            inputs = dev_inputs(args.data_dir, features)
            loaded[features] = held_out_injection(inputs, args.n_sig, sr)
        inj, truth = loaded[features]
        names = truth.feature_names
        training = dataclasses.replace(
            PRESETS["cpu"].training,
            max_epochs=epochs,
            early_stopping_patience=epochs + 1,
        )
        settings = dataclasses.replace(PRESETS["cpu"], training=training, **spec)
        seed = stream_seed(inj.seed, Stream.MODEL)
        rng = np.random.default_rng(0)

        model, seconds = fit(ConditionalVAE, inj, sr, settings, seed)
        sr_data = inj.data.select(sr.contains(inj.data.m))
        m_sr = rng.choice(sr_data.m, 4 * len(sr_data))
        sb_val = inj.val.select(sr.sideband(inj.val.m))
        m_sb = rng.choice(sb_val.m, 4 * len(sb_val))
        windows = []
        for w in validation_windows(sr):
            w_data = inj.data.select(w.contains(inj.data.m)).with_label(0)
            w_model = fit(ConditionalVAE, inj, w, settings, seed)[0]
            windows.append((w_data, rng.choice(w_data.m, 4 * len(w_data)), w_model))
        for how in SAMPLINGS:
            window = np.mean(
                [validation_auc(d, template_at(wm, mw, names, how)) for d, mw, wm in windows]
            )
            side = auc(template_at(model, m_sb, names, how), sb_val.with_label(0), 0)
            template = template_at(model, m_sr, names, how)
            true_auc = auc(template, truth, 0)
            worst = " ".join(
                f"{n}={pulls(template.x[:, j], truth.x[:, j]):.0f}" for j, n in enumerate(names)
            )
            line = (
                f"{name:<16} {how[0]:<9} {'yes' if how[1] else 'no':<5} {window:>6.3f} "
                f"{side:>8.3f} {true_auc:>6.3f}  {seconds:>7.1f}  {worst}"
            )
            lines.append(line)
            print(line, flush=True)
            Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
