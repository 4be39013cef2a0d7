"""``--study oracle``: is R-ANODE's low signal fraction from the background density or from
what p_S learns?

On the Pythia dev sample at one N_sig (default 1000), for each injection of
``--study compare``: a signal density ``p_S`` is trained on pure SR signal events that are
not in the data (``--n-pure`` of them, the same flow and training as R-ANODE's with ``w``
fixed at 1), and then ``w`` alone is fitted, by a grid scan of the likelihood of the SR data
(training and validation splits) under ``w p_S + (1 - w) p_B p(m)``, with the background
densities ``--study compare`` cached in its run folder (``--workdir``; the newest file whose
event counts match the injection's SR splits). A ``w`` near the truth means ``p_B`` is good
enough and R-ANODE's shortfall comes from the ``p_S`` it learns from the mixture.

Run ``--study compare --n-sig 1000`` first.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from _common.dev_sample import dev_config
from resonant_ad.data.events import Events
from resonant_ad.density.mixture import SignalMixture
from resonant_ad.search.inputs import load_inputs
from resonant_ad.search.study import study_injections

DEFAULTS = {"n_sig": [1000]}
"""The defaults of the shared options of ``ranode.py`` for this study."""


def cached_density(workdir: Path, n_train: int, n_val: int) -> np.ndarray | None:
    """``log p_B + log p(m)`` of the training and validation SR events, from the newest
    cached density file with those event counts."""
    files = sorted((workdir / "densities").glob("*.npz"), key=lambda f: f.stat().st_mtime)
    for f in reversed(files):
        with np.load(f) as d:
            if len(d["train"]) == n_train and len(d["val"]) == n_val:
                return np.concatenate([d["train"], d["val"]])
    return None


def out_name(args: argparse.Namespace) -> str:
    return f"ranode_oracle_nsig{args.n_sig}.txt"


def run(args: argparse.Namespace) -> None:
    """``w`` fitted with each ``p_S`` of pure signal, per injection."""
    cfg = dev_config(
        args.data_dir, n_sig=[args.n_sig], injections=args.injections, methods=["r-anode"]
    )
    inputs = load_inputs(cfg.data)
    sr = cfg.signal_regions[0]
    pool = inputs.signal.select(sr.contains(inputs.signal.m))
    grid = np.linspace(0.002, 0.08, 391)
    lines = [
        f"bench_ranode_oracle: dev sample, SR [{sr.lo}, {sr.hi}] TeV, N_sig {args.n_sig}; p_S "
        f"trained on pure SR signal (w fixed at 1, {cfg.density.folds} folds, "
        f"{cfg.density.epochs} epochs), then w alone fitted over the background densities of "
        f"{args.workdir} (grid step {grid[1] - grid[0]:.4f})",
    ]
    for k, inj in enumerate(study_injections(cfg, inputs, args.n_sig, sr)):
        train = inj.train.select(sr.contains(inj.train.m))
        val = inj.val.select(sr.contains(inj.val.m))
        events = Events.concatenate([train, val])
        true_w = events.n_signal / len(events)
        log_bg = cached_density(Path(args.workdir), len(train), len(val))
        if log_bg is None:
            lines.append(f"injection {k}: no cached background density; run --study compare")
            continue
        injected = {tuple(r) for r in np.round(events.x[events.label == 1], 6)}
        free = np.array([tuple(r) not in injected for r in np.round(pool.x, 6)])
        rng = np.random.default_rng(k)
        for n_pure in args.n_pure:
            pure = pool.select(free).select(rng.permutation(int(free.sum()))[:n_pure])
            p_s = SignalMixture(**cfg.density.mixture_params(), fixed_w=1.0, random_state=k)
            p_s.fit(pure.x, pure.m, np.zeros(len(pure)), (sr.lo, sr.hi))
            log_s = p_s.log_prob_signal(events.x, events.m)
            log_l = [np.sum(np.logaddexp(np.log(w) + log_s, np.log1p(-w) + log_bg)) for w in grid]
            w_hat = float(grid[int(np.argmax(log_l))])
            lines.append(
                f"injection {k}: true w {true_w:.4f}; p_S from {len(pure)} pure signal events: "
                f"w = {w_hat:.4f} ({w_hat / true_w:.2f} of the truth)"
            )
            print(lines[-1], flush=True)
    text = "\n".join(lines)
    print(text)
    Path(args.out).write_text(text + "\n")
