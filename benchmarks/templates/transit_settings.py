"""Which ``transit`` networks make a template as good as the published ones, for less time.

For one injection of ``N_sig`` signal events (SR 3.3-3.7 TeV), train ``transit`` on the SR's
sidebands under each named setting (the same number of epochs for all: no early stopping)
and make its template at 4x the SR data's masses. Per setting:

- label-free, used to choose: ``window``, the mean AUC of a classifier telling the data of
  the two validation windows next to the SR (2.9-3.3 and 3.7-4.1 TeV) from the template made
  for that window by a model trained on that window's sidebands;
- a check with the labels: ``truth``, the classifier-test AUC of the SR template against the
  true SR background (the odd half of the extra SR background), and the largest per-bin pull
  of each feature against it;
- the seconds of the SR's training and per epoch (one torch thread; they vary with the other
  jobs on the machine).

0.5 is a perfect template for every AUC. Classifiers: 5 HGB members, as
``cvae_settings.py`` (whose helpers this script shares).

Usage: ``OMP_NUM_THREADS=1 python benchmarks/templates/transit_settings.py [--settings ...]``.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared code

from _common.dev_sample import dev_inputs, held_out_injection
from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion
from resonant_ad.models.transit import PRESETS, TransitModel
from resonant_ad.search.seeds import Stream, stream_seed
from resonant_ad.search.validation import validation_auc, validation_windows
from templates.cvae_settings import auc, fit, settings_arguments
from templates.fidelity import pulls

SETTINGS: dict[str, dict[str, Any]] = {
    "published": {"hidden": 128},
    "hidden64": {"hidden": 64},
    "hidden64-disc32": {"hidden": 64, "discriminator": (32, 32, 32, 32)},
    "hidden64-blocks1": {"hidden": 64, "blocks": 1},
    "hidden32": {"hidden": 32},
    "hidden64-batch2048": {"hidden": 64, "batch_size": 2048},
}
"""Named settings: ``TransitSettings`` fields over the ``cpu`` preset (``published``: the
paper's networks; ``hidden64`` is today's ``cpu`` preset, chosen by this measurement);
``batch_size`` is the training's."""


def template_at(model: TransitModel, m: np.ndarray, names: Any) -> Events:
    return Events(m, model.sample(m, seed=0), np.zeros(len(m), dtype=np.int64), names)


def main() -> None:
    args = settings_arguments(__doc__, list(SETTINGS), "transit_settings.txt")
    sr = SignalRegion(3.3, 3.7)
    lines = [
        f"transit settings on the Pythia dev sample, SR 3.3-3.7 TeV, N_sig {args.n_sig} "
        f"(injection 0), cpu preset, {args.epochs} epochs each (no early stopping), templates "
        "4x the SR data; AUC 0.5 = perfect; one torch thread on a shared 2-core machine.",
        "window: mean AUC, data vs template in 2.9-3.3 and 3.7-4.1 TeV (label-free); truth: "
        "vs true SR background (labels, a check); pulls: largest |pull| per feature vs truth.",
        f"{'setting':<18} {'window':>6} {'truth':>6}  {'train s':>7}  {'s/epoch':>7}  max pulls",
    ]
    if args.append:
        lines = Path(args.out).read_text().splitlines()
    print("\n".join(lines), flush=True)
    inj, truth = held_out_injection(dev_inputs(args.data_dir), args.n_sig, sr)
    names = truth.feature_names
    seed = stream_seed(inj.seed, Stream.MODEL)
    rng = np.random.default_rng(0)
    sr_data = inj.data.select(sr.contains(inj.data.m))
    m_sr = rng.choice(sr_data.m, 4 * len(sr_data))
    windows = [
        inj.data.select(w.contains(inj.data.m)).with_label(0) for w in validation_windows(sr)
    ]
    masses = [rng.choice(w.m, 4 * len(w)) for w in windows]
    for name in args.settings:
        spec = dict(SETTINGS[name])
        training = dataclasses.replace(
            PRESETS["cpu"].training,
            max_epochs=args.epochs,
            early_stopping_patience=args.epochs + 1,
            batch_size=spec.pop("batch_size", PRESETS["cpu"].training.batch_size),
        )
        settings = dataclasses.replace(PRESETS["cpu"], training=training, **spec)
        model, seconds = fit(TransitModel, inj, sr, settings, seed)
        window = np.mean(
            [
                validation_auc(
                    data, template_at(fit(TransitModel, inj, w, settings, seed)[0], m, names)
                )
                for w, data, m in zip(validation_windows(sr), windows, masses, strict=True)
            ]
        )
        template = template_at(model, m_sr, names)
        worst = " ".join(
            f"{n}={pulls(template.x[:, j], truth.x[:, j]):.0f}" for j, n in enumerate(names)
        )
        lines.append(
            f"{name:<18} {window:>6.3f} {auc(template, truth, 0):>6.3f}  {seconds:>7.1f}  "
            f"{seconds / args.epochs:>7.2f}  {worst}"
        )
        print(lines[-1], flush=True)
        Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
