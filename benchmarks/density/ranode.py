"""R-ANODE on realistic jets: the study against the weakly supervised classifier, and the
diagnostics of its fitted signal fraction ``w``, one ``--study`` at a time.

On the Pythia dev sample (``../shared/data/pythia-dev``), SR 3.3-3.7 TeV:

- ``compare`` (the default): R-ANODE, R-ANODE with the true w and ANODE over SIGMA's exact
  background density against the weakly supervised classifier with the same background
  model; the targets, the costs, the solver accuracy and the spurious signal with no signal
  injected (:mod:`density._ranode.compare`);
- ``capture``: how much of the SR signal R-ANODE's learned ``p_S`` takes in, and how much
  background, over SIGMA's background and over one trained on the true SR background
  (:mod:`density._ranode.capture`);
- ``null``: the spurious signal measured in the validation windows next to the SR, on
  Poisson-bootstrap replicas: the total interval of ``w`` and the p-value of ``w = 0`` it
  gives, their coverage and calibration (:mod:`density._ranode.null`);
- ``oracle``: ``w`` alone fitted with a ``p_S`` trained on pure signal: is the shortfall from
  ``p_B`` or from what ``p_S`` learns? (:mod:`density._ranode.oracle`);
- ``profile``: the likelihood as a function of ``w`` with ``p_S`` trained afresh at every
  ``w`` (:mod:`density._ranode.profile`);
- ``starts``: where the fitted ``w`` ends, started low and started high, and which start the
  held-out likelihood prefers (:mod:`density._ranode.starts`);
- ``variants``: does the fitted ``w`` move with the background's mass density or the feature
  set? (:mod:`density._ranode.variants`).

``capture``, ``oracle`` and ``variants`` read the models of a ``compare`` run in the same
``--workdir`` (default ``runs/ranode``); ``profile`` reads the models of a ``starts`` run
(default ``runs/ranode_starts``). Options marked with a study apply to that study only;
the defaults of the shared options depend on the study (``--help`` lists them).

Usage: ``python benchmarks/density/ranode.py [--study compare] [--epochs E] [--workers W]``,
then e.g. ``python benchmarks/density/ranode.py --study capture --n-sig 0``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared code

from density._ranode import capture, compare, null, oracle, profile, starts, variants

STUDIES = {
    "compare": compare,
    "capture": capture,
    "null": null,
    "oracle": oracle,
    "profile": profile,
    "starts": starts,
    "variants": variants,
}
SHARED: dict[str, Any] = {
    "data_dir": "../shared/data/pythia-dev",
    "injections": 3,
    "epochs": 40,
    "ensemble": 10,
    "workers": 2,
    "workdir": "runs/ranode",
}
"""The defaults of the shared options where a study's ``DEFAULTS`` do not set them."""
RESULTS = Path("benchmarks/density/results")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--study", choices=list(STUDIES), default="compare")
    defaults = "; ".join(
        f"{name}: " + ", ".join(f"{k} {v}" for k, v in module.DEFAULTS.items())
        for name, module in STUDIES.items()
    )
    p.epilog = f"defaults of the shared options per study (others: {SHARED}): {defaults}"
    p.add_argument("--data-dir", default=None)
    p.add_argument("--n-sig", type=int, nargs="+", default=None)
    p.add_argument("--injections", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None, help="training epochs of the models")
    p.add_argument("--ensemble", type=int, default=None, help="classifier members")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--workdir", default=None, help="the run folder (models and fits cached)")
    p.add_argument("--out", default=None, help=f"default: a name in {RESULTS} per study")
    p.add_argument(
        "--background",
        choices=["sigma-context", "sigma-linear", "sigma-poly", "cr", "sr-trained"],
        default="sigma-context",
        help="compare, starts, null: [density] background (sr-trained: starts only)",
    )
    g = p.add_argument_group("compare")
    g.add_argument("--accuracy-events", type=int, default=500)
    g.add_argument("--skip-accuracy", action="store_true", help="no solver-accuracy part")
    g.add_argument(
        "--methods",
        nargs="+",
        default=None,
        help="the methods beside --background (default: r-anode, r-anode-x, r-anode-ideal, "
        "anode, iad)",
    )
    g.add_argument(
        "--null-injections", type=int, default=3, help="injections with no signal (0: none)"
    )
    g = p.add_argument_group("capture")
    g.add_argument("--sidebands", type=float, nargs=4, default=[2.9, 3.3, 3.7, 4.1])
    g = p.add_argument_group("null")
    g.add_argument("--replicas", type=int, default=5, help="Poisson-bootstrap replicas")
    g.add_argument("--windows", type=int, default=1, help="validation windows per side")
    g.add_argument(
        "--method", choices=["r-anode", "r-anode-x"], default="r-anode", help="the density fit"
    )
    g = p.add_argument_group("oracle")
    g.add_argument("--n-pure", type=int, nargs="+", default=[6000, 660])
    g = p.add_argument_group("profile")
    g.add_argument(
        "--grid", type=float, nargs="+", default=[0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04]
    )
    g.add_argument(
        "--backgrounds",
        nargs="+",
        choices=["sigma-context", "sr-trained", "sidebands"],
        default=["sigma-context", "sr-trained"],
    )
    g = p.add_argument_group("starts")
    g.add_argument(
        "--starts",
        type=float,
        nargs="+",
        default=None,
        help="starts, null: [density] w_init (starts: 0.01 0.05; null: its default)",
    )
    g.add_argument(
        "--sr-events", type=int, default=None, help="sr-trained: that many SR events (all)"
    )
    g.add_argument("--members", type=int, default=1, help="sr-trained: an ensemble of N")
    g.add_argument(
        "--tilt", type=int, default=None, help="starts, null: [density] tilt (default: its default)"
    )
    g.add_argument(
        "--correction", choices=["none", "sidebands"], default="none", help="[density] correction"
    )
    g.add_argument(
        "--mass", choices=["data", "sidebands"], default="data", help="[density] mass (p(m))"
    )
    g.add_argument(
        "--capture", action="store_true", help="[density] capture (needs --mass sidebands)"
    )
    g = p.add_argument_group("variants")
    g.add_argument(
        "--mass-densities",
        nargs="+",
        choices=variants.MASS_DENSITIES,
        default=list(variants.MASS_DENSITIES),
    )
    return p


def main() -> None:
    p = parser()
    args = p.parse_args()
    study = STUDIES[args.study]
    for key, value in {**SHARED, **study.DEFAULTS}.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.study in ("capture", "oracle", "variants"):  # one N_sig
        if len(args.n_sig) != 1:
            p.error(f"--study {args.study} takes one --n-sig")
        args.n_sig = args.n_sig[0]
    if args.background == "sr-trained" and args.study != "starts":
        p.error("--background sr-trained is a background of --study starts only")
    args.out = args.out or str(RESULTS / study.out_name(args))
    study.run(args)


if __name__ == "__main__":
    main()
