"""Is the sideband correction worth applying? Its held-out likelihood on Poisson-bootstrap
replicas of the dev sample, and the true SR background as the check.

For each of ``--replicas`` replicas (:func:`~resonant_ad.data.injection.poisson_replica`,
expanded: the flows train unweighted) and each ``--n-sig``, SIGMA's ``sigma-context`` model is
trained on the replica's data as the study trains it (``--epochs``, ``cpu`` preset; kept in
``--workdir``). In the SR 3.3-3.7 TeV and in ``--windows`` validation windows of its width per
side, each in the role of the SR, the correction of ``[density] correction = "sidebands"``
is fitted as the study fits it (its defaults, the region's own sidebands, the study's seed)
and measured three ways, in nats per event (the mean of ``log(r / Z)``, ``r / Z`` capped and
normalised as :meth:`~resonant_ad.density.correction.SidebandCorrection.correct` does it,
``Z`` over SIGMA's samples in the region):

- **held-out sidebands** (label-free): the gain on the sideband data the correction did not
  train on (:attr:`~resonant_ad.density.correction.SidebandCorrection.gain_`), with the
  held-out AUCs of data against the model before and after;
- **window data** (label-free): in a validation window the gain on the window's own data,
  which the correction never saw (it learned from the window's sidebands): the interpolation
  of the misfit across the window, as it is made into the SR. With no signal these are
  background events; with signal injected the windows next to the SR hold its tails;
- **true SR background** (the check, with labels): in the SR the gain on the half of the
  extra SR QCD that no study sees (independent of the data, 32k events): the KL divergence
  to the true background that the correction takes out.

A positive gain is a better density; a correction that learned noise or overshoots scores
below zero. ``--ungrouped`` also fits every correction as it was fitted before the copies of
a replica's events were kept in one fold of the ratio classifier's early stopping, and prints
its gains beside.

Usage: ``python benchmarks/density/correction.py --data-dir ../shared/data/pythia-dev
[--n-sig 0 1000] [--replicas 5] [--windows 2] [--ungrouped] [--workdir runs/correction]``.
Cost (2 CPUs): per replica and ``N_sig`` the model (about 5 minutes at 40 epochs) and 20-40 s
per region and variant.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared code

from _common.dev_sample import dev_config
from resonant_ad.data.events import Events
from resonant_ad.data.injection import Injection, poisson_replica
from resonant_ad.data.regions import SignalRegion, near_sidebands
from resonant_ad.density.background import REFERENCE_FACTOR
from resonant_ad.density.correction import SidebandCorrection
from resonant_ad.methods.inputs import FitInputs, RegionInputs
from resonant_ad.methods.registry import get
from resonant_ad.search.inputs import StudyInputs, load_inputs
from resonant_ad.search.seeds import Stream, stream_seed
from resonant_ad.search.study import study_injections
from resonant_ad.search.validation import validation_windows

SR = SignalRegion(3.3, 3.7)
METHOD = "sigma-context"


class UngroupedCorrection(SidebandCorrection):
    """The correction as it was fitted before: copies of an event split across the folds."""

    def _fold_groups(self, train: Events, n_samples: int) -> np.ndarray | None:
        return None


def replica_model(args: argparse.Namespace, replica: int, n_sig: int) -> tuple[Any, ...]:
    """The config, injection and trained ``sigma-context`` model of one replica at ``n_sig``
    (loaded from ``--workdir`` when there), the seconds its training took, and the true SR
    background no study sees."""
    cfg = dev_config(
        args.data_dir,
        n_sig=[n_sig],
        injections=1,
        methods=[METHOD],
        epochs=args.epochs,
        seed=replica,
    )
    inputs = load_inputs(cfg.data)
    assert inputs.extra_background is not None
    extra = inputs.extra_background.select(slice(1, None, 2))  # the half the study leaves out
    truth = extra.select(SR.contains(extra.m))
    inputs = StudyInputs(
        poisson_replica(inputs.background, replica).expanded(),
        inputs.signal,
        inputs.extra_background,
        inputs.simulation,
    )
    (inj,) = study_injections(cfg, inputs, n_sig, SR)
    method = get(METHOD)
    path = Path(args.workdir) / f"replica-{replica}_nsig-{n_sig}_epochs-{args.epochs}.pt"
    t0 = time.perf_counter()
    if path.exists():
        model = method.load_model(path, device="cpu")
    else:
        fit = FitInputs(inj.train.with_label(0), inj.val.with_label(0), None, cfg, inj.seed)
        model = method.fit(fit)
        path.parent.mkdir(parents=True, exist_ok=True)
        method.save_model(model, path)
    return cfg, inj, model, time.perf_counter() - t0, truth


def region_gains(
    cfg: Any, inj: Injection, model: Any, region: SignalRegion, truth: Events | None, kind: type
) -> dict[str, float]:
    """The correction of ``region`` (class ``kind``) fitted as the study fits it, and its
    gains: held-out sidebands, the region's data, and (``truth``) the true background."""
    d = cfg.density
    correction = kind(d.correction_members, d.correction_samples).fit(
        near_sidebands(inj.train, region, d.correction_width),
        near_sidebands(inj.val, region, d.correction_width),
        model,
        seed=stream_seed(inj.seed, Stream.CORRECTION),
    )
    data = inj.data.select(region.contains(inj.data.m)).with_label(0)
    inputs = RegionInputs(region, data, inj.test.select(slice(0, 0)), cfg, inj.seed)
    reference = get(METHOD).template(model, inputs, REFERENCE_FACTOR * len(data))
    sets = [data] + ([] if truth is None else [truth])
    zeros = [np.zeros(len(ev)) for ev in sets]
    gains, _ = correction.correct(zeros, sets, reference)
    return {
        "sideband": correction.gain_,
        "sideband_error": correction.gain_error_,
        "auc_before": correction.auc_before_,
        "auc_after": correction.auc_after_,
        "data": float(np.mean(gains[0])),
        "data_error": float(np.std(gains[0]) / np.sqrt(len(gains[0]))),
        "truth": float(np.mean(gains[1])) if truth is not None else float("nan"),
        "seconds": correction.fit_seconds_,
    }


def summary(rows: list[tuple[int, str, dict[str, float]]], key: str, where: str) -> str:
    """The mean of ``key`` over the ``rows`` of regions ``where`` (``SR``, ``windows``) with
    its standard error, and how many are positive."""
    vals = np.array([g[key] for _, name, g in rows if (name == "SR") == (where == "SR")])
    vals = vals[np.isfinite(vals)]
    if not len(vals):
        return f"{key} ({where}): none"
    err = vals.std(ddof=1) / np.sqrt(len(vals)) if len(vals) > 1 else float("nan")
    return (
        f"{key} gain ({where}): mean {vals.mean():+.4f} +- {err:.4f} nats/event, "
        f"positive in {int(np.sum(vals > 0))} of {len(vals)}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-dir", default="../shared/data/pythia-dev")
    p.add_argument("--n-sig", type=int, nargs="+", default=[0, 1000])
    p.add_argument("--replicas", type=int, default=5)
    p.add_argument("--windows", type=int, default=2, help="validation windows per side")
    p.add_argument("--epochs", type=int, default=40, help="training epochs of v_data")
    p.add_argument("--ungrouped", action="store_true", help="also the correction before")
    p.add_argument("--workdir", default="runs/correction")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    t0 = time.perf_counter()
    variants = {"grouped": SidebandCorrection}
    if args.ungrouped:
        variants["ungrouped"] = UngroupedCorrection
    regions = [SR, *validation_windows(SR, args.windows)]
    defaults = dev_config(args.data_dir, n_sig=[0], injections=1, methods=[METHOD]).density
    lines = [
        f"bench_correction: dev sample, {args.replicas} Poisson-bootstrap replicas, {METHOD} "
        f"({args.epochs} epochs, cpu preset); the correction's defaults "
        f"({defaults.correction_members} MLPs, {defaults.correction_width} TeV sidebands, "
        f"{defaults.correction_samples} samples per sideband event) in the SR "
        f"[{SR.lo}, {SR.hi}] TeV and {args.windows} validation window(s) per side; gains "
        "in nats per event (mean log(r / Z)), +- their standard errors",
        "",
        "N_sig replica region     variant   | held-out sidebands: gain, AUC before -> after | "
        "region data gain | true SR background gain | correction s",
    ]
    print("\n".join(lines), flush=True)
    results: dict[tuple[int, str], list[tuple[int, str, dict[str, float]]]] = {}
    for n_sig in args.n_sig:
        for replica in range(args.replicas):
            cfg, inj, model, seconds, truth = replica_model(args, replica, n_sig)
            print(f"N_sig {n_sig} replica {replica}: model {seconds:.0f} s", flush=True)
            for region in regions:
                name = "SR" if region == SR else f"[{region.lo:g}, {region.hi:g}]"
                for variant, kind in variants.items():
                    g = region_gains(cfg, inj, model, region, truth if name == "SR" else None, kind)
                    results.setdefault((n_sig, variant), []).append((replica, name, g))
                    lines.append(
                        f"{n_sig:5d} {replica:7d} {name:<10} {variant:<9} | "
                        f"{g['sideband']:+.4f} +- {g['sideband_error']:.4f}, "
                        f"{g['auc_before']:.4f} -> {g['auc_after']:.4f} | "
                        f"{g['data']:+.4f} +- {g['data_error']:.4f} | "
                        f"{'-' if np.isnan(g['truth']) else format(g['truth'], '+.4f')} | "
                        f"{g['seconds']:.0f}"
                    )
                    print(lines[-1], flush=True)
    lines.append("")
    for (n_sig, variant), rows in results.items():
        lines.append(f"N_sig {n_sig}, {variant}:")
        for key, where in (
            ("sideband", "SR"),
            ("sideband", "windows"),
            ("data", "windows"),
            ("truth", "SR"),
        ):
            lines.append("  " + summary(rows, key, where))
    lines += ["", f"wall time {time.perf_counter() - t0:.0f} s"]
    text = "\n".join(lines)
    print("\n".join(lines[-(4 * len(results) + len(results) + 2) :]))
    out = args.out or (
        f"benchmarks/density/results/sideband_correction_replicas-{args.replicas}_"
        f"nsig-{'-'.join(map(str, args.n_sig))}.txt"
    )
    Path(out).write_text(text + "\n")


if __name__ == "__main__":
    main()
