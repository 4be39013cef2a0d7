"""Which degree of R-ANODE's background tilt the held-out likelihood prefers, on
Poisson-bootstrap replicas of the dev sample: the label-free measurement behind the default
``[density] tilt``.

For each ``--tilts`` degree, the fits of ``ranode.py --study null`` (the same replicas,
seeds, background and ``[density]`` defaults; ``--windows`` validation windows per side,
0: the SR alone) are made in the same ``--workdir``, so fits stored by an earlier null run
are read back, not made again. The fits of one region and replica differ in the tilt alone:
the same events, folds and background densities. Each is scored by its held-out ``-2 log
L`` summed over its folds (:attr:`~resonant_ad.density.null.NullFit.held_out_nll`).

The rule, fixed in advance as for the capture (CMS's discrete profiling, arXiv:1408.6865):
from degree 0 upwards, a degree replaces the one kept so far where it lowers the held-out
``-2 log L`` by more than ``--penalty`` per parameter it adds (the tilt of degree ``d`` has
one parameter per monomial of the standardised ``(x, m)`` of degree 1 to ``d``). Printed per
fit: each degree's held-out ``-2 Delta log L`` against the best, the degree the rule keeps,
and each degree's ``w``; per ``N_sig``, how often each degree is kept, and the same rule on
the sums over the fits (a default serves every fit: the degree whose summed held-out
``-2 log L`` plus the penalty of all its parameters is smallest). The true ``w`` is
printed beside, as a check, and chooses nothing.

Cost: one ``r-anode`` fit per degree, region and replica, 3-5 minutes each on one core of
this machine (the backgrounds of a null run in the same ``--workdir`` are read back).

Usage: ``python benchmarks/density/tilt_choice.py --n-sig 0 --replicas 5 --tilts 0 1 2
--workdir runs/ranode_null``.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from pathlib import Path

from density._ranode import null
from resonant_ad.density.null import NullFit
from resonant_ad.search.engine import open_executor

RESULTS = Path(__file__).resolve().parent / "results"


def n_parameters(degree: int, dims: int) -> int:
    """The tilt's parameters: monomials of ``dims`` variables of degree 1 to ``degree``.

    >>> n_parameters(0, 6), n_parameters(1, 6), n_parameters(2, 6)
    (0, 6, 27)
    """
    return math.comb(dims + degree, degree) - 1


def kept_degree(deviance: dict[int, float], params: dict[int, int], penalty: float) -> int:
    """The rule of the module's docstring: the degree whose held-out ``-2 log L``
    (``deviance``) plus ``penalty`` per parameter is smallest, the lower degree on a tie
    (from degree 0 up, each degree replaces the kept one where it gains more than its
    added parameters cost).

    >>> kept_degree({0: 100.0, 1: 80.0, 2: 75.0}, {0: 0, 1: 6, 2: 27}, 1.0)
    1
    >>> kept_degree({0: 100.0, 1: 97.0, 2: 60.0}, {0: 0, 1: 6, 2: 27}, 1.0)
    2
    """
    return min(sorted(deviance), key=lambda d: deviance[d] + penalty * params[d])


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default="../shared/data/pythia-dev")
    p.add_argument("--n-sig", type=int, nargs="+", default=[0])
    p.add_argument("--replicas", type=int, default=5)
    p.add_argument("--windows", type=int, default=0, help="validation windows per side")
    p.add_argument("--tilts", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--penalty", type=float, default=1.0, help="per parameter, in -2 log L")
    p.add_argument("--epochs", type=int, default=40, help="the background model's")
    p.add_argument("--ensemble", type=int, default=10)
    p.add_argument("--background", default="sigma-context")
    p.add_argument("--method", choices=["r-anode", "r-anode-x"], default="r-anode")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--workdir", default="runs/ranode_null")
    p.add_argument("--out", default=None)
    return p


def main() -> None:
    args = parser().parse_args()
    logging.basicConfig(level=logging.WARNING)
    t0 = time.perf_counter()
    # (replica, N_sig, region) -> degree -> the fit there; the true w of each SR fit
    fits: dict[tuple[int, int, str], dict[int, NullFit]] = {}
    true_w: dict[tuple[int, int], float] = {}
    params: dict[int, int] = {}
    with open_executor(args.workers) as executor:
        for tilt in args.tilts:
            run = argparse.Namespace(**vars(args), tilt=tilt, starts=None, injections=1)
            for replica in range(args.replicas):
                for (r, n_sig, _), (model, w, nulls) in null.replica_fits(
                    run, replica, executor
                ).items():
                    params[tilt] = n_parameters(tilt, model.n_features_in_ + 1)  # z = (x, m)
                    true_w[(r, n_sig)] = w
                    for f in [model.null_fit("SR"), *nulls]:
                        label = f.label.removeprefix(f"replica {r} ")
                        fits.setdefault((r, n_sig, label), {})[tilt] = f
                print(
                    f"tilt {tilt} replica {replica}: {time.perf_counter() - t0:.0f} s", flush=True
                )
    lines = []
    for n_sig in args.n_sig:
        kept_count = dict.fromkeys(args.tilts, 0)
        summed = dict.fromkeys(args.tilts, 0.0)  # each fit's -2 Delta log L to its best
        for (r, n, label), by_tilt in sorted(fits.items()):
            if n != n_sig:
                continue
            deviance = {t: 2.0 * f.held_out_nll for t, f in by_tilt.items()}  # type: ignore[operator]
            best = min(deviance.values())
            kept = kept_degree(deviance, params, args.penalty)
            kept_count[kept] += 1
            for t in summed:
                summed[t] += deviance[t] - best
            truth = f", true w {true_w[(r, n)]:.5f}" if label == "SR" else ""
            lines.append(
                f"N_sig {n_sig:4d} replica {r} {label:16s}: held-out -2 Delta log L "
                + ", ".join(f"tilt {t} {deviance[t] - best:+7.1f}" for t in sorted(deviance))
                + f"; kept tilt {kept}; w "
                + ", ".join(f"{by_tilt[t].w:.5f}" for t in sorted(by_tilt))
                + truth
            )
        lines.append(
            f"N_sig {n_sig}: kept "
            + ", ".join(f"tilt {t} in {c}" for t, c in kept_count.items())
            + f" of {sum(kept_count.values())} fits"
        )
        n_fits = sum(kept_count.values())
        all_params = {t: params[t] * n_fits for t in summed}  # a default's, in every fit
        penalised = {t: v + args.penalty * all_params[t] for t, v in summed.items()}
        lines.append(
            f"N_sig {n_sig}: summed over the {n_fits} fits, held-out -2 Delta log L "
            + ", ".join(f"tilt {t} {v:+.1f}" for t, v in sorted(summed.items()))
            + "; with the penalty "
            + ", ".join(f"tilt {t} {v:+.1f}" for t, v in sorted(penalised.items()))
            + f"; the sum keeps tilt {kept_degree(summed, all_params, args.penalty)}"
        )
        lines.append("")
    head = (
        f"bench_tilt_choice: dev sample, SR {null.SR.lo}-{null.SR.hi} TeV and {args.windows} "
        f"validation window(s) per side, {args.replicas} Poisson-bootstrap replicas, "
        f"background {args.background} ({args.epochs} epochs), method {args.method}, "
        f"[density] defaults but the tilt; tilt parameters "
        + ", ".join(f"{t}: {params[t]}" for t in sorted(params))
        + f"; penalty {args.penalty:g} per parameter; wall time {time.perf_counter() - t0:.0f} s"
    )
    text = "\n".join([head, "", *lines])
    print(text)
    n_sigs = "-".join(str(n) for n in args.n_sig)
    name = f"tilt_choice_{args.background}_replicas-{args.replicas}_nsig-{n_sigs}.txt"
    out = args.out or str(RESULTS / name)
    Path(out).write_text(text + "\n")


if __name__ == "__main__":
    main()
