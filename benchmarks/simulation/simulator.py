"""Benchmark and validation studies of the physics simulator (``resonant-ad simulate``).

Default: generation speed per core for QCD and signal (generated and selected events per
second), and the time to regenerate the bundled dataset from its recorded summaries.

``--cut-study``: QCD generated with a low ``pTHatMin`` to measure which fraction of the events
passing the selection a higher ``pTHatMin`` would lose, and which fraction of the events with
``mjj`` in the signal region an ``mHat`` window would lose.

``--tune-study``: mean jet mass and tau21 of QCD with ``--tune data`` and ``--tune sim``.

Run ``python benchmarks/simulation/simulator.py [--cut-study] [--tune-study] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from resonant_ad.data.simulate.jets import JetSelection, dijet_mass, select_event
from resonant_ad.data.simulate.pythia import (
    MHAT_WIDEN_ABOVE,
    MHAT_WIDEN_BELOW,
    QCD_PTHAT_MIN,
    GeneratorConfig,
    generate_events,
    make_pythia,
)
from resonant_ad.resources import reference_dir

__all__ = ["cut_study", "main", "speed", "tune_study"]


def speed(config: GeneratorConfig, n_selected: int, seed: int) -> dict[str, float]:
    """Events per second on one core (generated and selected) and the pass rate."""
    pythia = make_pythia(config, seed)
    selection = JetSelection(mjj_window=config.mjj_window)
    t_gen = t_sel = 0.0
    n_gen = n_sel = 0
    start_cpu = time.process_time()
    events = generate_events(pythia)
    while n_sel < n_selected:
        t0 = time.process_time()
        event = next(events)
        t1 = time.process_time()
        jets = select_event(event.particles, selection)
        t2 = time.process_time()
        t_gen += t1 - t0
        t_sel += t2 - t1
        n_gen += 1
        n_sel += jets is not None
    cpu = time.process_time() - start_cpu
    return {
        "generated_per_s": n_gen / cpu,
        "selected_per_s": n_sel / cpu,
        "pass_rate": n_sel / n_gen,
        "ms_pythia_per_event": 1e3 * t_gen / n_gen,
        "ms_jets_per_event": 1e3 * t_sel / n_gen,
        "n_generated": n_gen,
    }


def cut_study(n_generated: int, pthat_low: float, seed: int) -> list[str]:
    """Losses of a ``pTHatMin`` cut and of the ``mHat`` window, from an unbiased QCD sample."""
    config = GeneratorConfig("qcd", pthat_min=pthat_low)
    pythia = make_pythia(config, seed)
    selection = JetSelection()
    pthat, mhat, mjj = [], [], []
    events = generate_events(pythia)
    for _ in range(n_generated):
        event = next(events)
        jets = select_event(event.particles, selection)
        if jets is None:
            continue
        pthat.append(event.pthat)
        mhat.append(event.mhat)
        mjj.append(dijet_mass(jets[0].p4, jets[1].p4))
    pthat_a, mhat_a, mjj_a = np.array(pthat), np.array(mhat), np.array(mjj)
    n = len(pthat_a)
    lines = [
        f"cut study: QCD pTHatMin = {pthat_low:g} GeV, {n_generated} generated, {n} selected "
        f"(pass rate {n / n_generated:.3f})",
        "  fraction of selected events a higher pTHatMin would lose (binomial error):",
    ]
    for cut in (800, 850, 900, 950, 1000, 1050, 1100, 1150):
        if cut <= pthat_low:
            continue
        f = float(np.mean(pthat_a < cut))
        lines.append(f"    pTHatMin {cut:5d} GeV: {f:.3f} +- {np.sqrt(f * (1 - f) / n):.3f}")
    sr = (mjj_a >= 3300) & (mjj_a <= 3700)
    n_sr = int(sr.sum())
    lines.append(f"  selected events with 3.3 <= mjj <= 3.7 TeV: {n_sr} ({n_sr / n:.3f})")
    if n_sr:
        lo, hi = 3300 - MHAT_WIDEN_BELOW, 3700 + MHAT_WIDEN_ABOVE
        lost = float(np.mean((mhat_a[sr] < lo) | (mhat_a[sr] > hi)))
        err = np.sqrt(lost * (1 - lost) / n_sr)
        lines.append(
            f"  SR events outside mHat [{lo:g}, {hi:g}] GeV (lost by --mjj-window 3.3 3.7): "
            f"{lost:.3f} +- {err:.3f}"
        )
        for lo2, hi2 in ((3100, 3900), (2900, 4100), (2700, 4500), (2400, 5000), (2200, 5200)):
            lost2 = float(np.mean((mhat_a[sr] < lo2) | (mhat_a[sr] > hi2)))
            lines.append(f"    for comparison, mHat [{lo2}, {hi2}] GeV would lose {lost2:.3f}")
    return lines


def tune_study(n_selected: int, seed: int) -> list[str]:
    """Mean jet masses and tau21 of QCD for the ``data`` and ``sim`` tunes."""
    lines = [f"tune study: QCD, {n_selected} selected events per tune, same seed"]
    for tune in ("data", "sim"):
        config = GeneratorConfig("qcd", tune=tune)
        pythia = make_pythia(config, seed)
        selection = JetSelection()
        masses, tau21, n_gen = [], [], 0
        events = generate_events(pythia)
        while len(masses) < 2 * n_selected:
            event = next(events)
            n_gen += 1
            jets = select_event(event.particles, selection)
            if jets is None:
                continue
            for jet in jets:
                masses.append(jet.mass)
                tau21.append(jet.tau[1] / jet.tau[0] if jet.tau[0] > 0 else 0.0)
        m, t = np.array(masses), np.array(tau21)
        err_m, err_t = m.std() / np.sqrt(len(m)), t.std() / np.sqrt(len(t))
        lines.append(
            f"  tune {tune}: mean jet mass {m.mean():6.1f} +- {err_m:.1f} GeV, "
            f"median {np.median(m):6.1f} GeV, mean tau21 {t.mean():.4f} +- {err_t:.4f}, "
            f"pass rate {n_selected / n_gen:.3f}"
        )
    return lines


def reference_times() -> list[str]:
    """CPU time recorded when the bundled files were generated (from their JSON summaries)."""
    lines = []
    total = 0.0
    for path in sorted(reference_dir().glob("*.json")):
        meta = json.loads(path.read_text())
        cpu = float(meta["cpu_seconds_all_shards"])
        total += cpu
        lines.append(
            f"  {path.stem}: {meta['n_selected']} events, {meta['n_generated']} generated, "
            f"{cpu / 60:.1f} CPU min"
        )
    if lines:
        lines.insert(0, "bundled dataset (resources/reference), CPU time recorded at generation:")
        lines.append(f"  total {total / 60:.1f} CPU min = {total / 120:.1f} min on 2 cores")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300, help="selected events per process")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--cut-study", type=int, default=0, help="generated events for it")
    parser.add_argument("--cut-pthat", type=float, default=700.0)
    parser.add_argument("--tune-study", type=int, default=0, help="selected events per tune")
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--out", default=None, help="also write the report here")
    args = parser.parse_args()

    lines: list[str] = []
    if not args.no_speed:
        lines.append(f"simulator speed, one core, {args.events} selected events per process")
        for name, config in (
            (f"qcd (pTHatMin {QCD_PTHAT_MIN:g})", GeneratorConfig("qcd")),
            ("qcd --mjj-window 3.3 3.7", GeneratorConfig("qcd", mjj_window=(3300.0, 3700.0))),
            ("signal 2-prong", GeneratorConfig("signal")),
        ):
            r = speed(config, args.events, args.seed)
            lines.append(
                f"  {name:26s}: {r['generated_per_s']:6.1f} generated/s/core, "
                f"{r['selected_per_s']:6.1f} selected/s/core, pass rate {r['pass_rate']:.3f} "
                f"(CPU: Pythia {r['ms_pythia_per_event']:.2f} ms, jets+tau "
                f"{r['ms_jets_per_event']:.2f} ms per generated event)"
            )
            print(lines[-1], flush=True)
        lines += reference_times()
    if args.cut_study:
        lines += cut_study(args.cut_study, args.cut_pthat, args.seed)
    if args.tune_study:
        lines += tune_study(args.tune_study, args.seed)
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
