"""Where the windows' scatter of ``kappa`` comes from: the classifier or the template?

Two folders of stored scans (``sliding_window.py``) of the same replicas that differ only in
the classifier (``--ensemble``; the same data, ``v_data`` and template samples, since the
template's seed depends on the window alone): for every window and cut without signal (true
signal below 5% of the true background), the true background's ``log kappa`` (true
background count over the template count) in both. Printed per cut: the variance of each
over the windows and replicas, their correlation and half the variance of their difference
(the part that changes with the classifier alone, Poisson noise of the selected events
included). A correlation near 1 says the template decides which windows pass more data; near
0, the classifier's own choice of events. Uses the labels: a diagnostic, never a rule.

Usage: ``python benchmarks/scan/kappa_scatter.py A B`` (default: the committed scans with 10
and with 40 classifier members); writes ``scan/results/kappa_scatter.txt``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common.stored_scans import read_scans

SIGNAL_FREE = 0.05
"""A window and cut count as free of signal below this true signal over true background."""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("first", nargs="?", default="benchmarks/scan/results/raw_scans")
    p.add_argument("second", nargs="?", default="benchmarks/scan/results/raw_scans_40_members")
    p.add_argument("--out", default="benchmarks/scan/results/kappa_scatter.txt")
    args = p.parse_args()
    a, b = read_scans(Path(args.first)), read_scans(Path(args.second))
    shared = sorted(set(a) & set(b))
    pairs: dict[float, list[tuple[float, float]]] = {}
    for name in shared:
        for wa, wb in zip(a[name]["windows"], b[name]["windows"], strict=True):
            assert wa["signal_region"] == wb["signal_region"]
            for ca, cb in zip(wa["counts"], wb["counts"], strict=True):
                if max(c["true_signal"] / max(c["true_background"], 1.0) for c in (ca, cb)) >= (
                    SIGNAL_FREE
                ):
                    continue
                pairs.setdefault(ca["efficiency"], []).append(
                    tuple(
                        float(np.log(max(c["true_background"], 0.5) / c["expected_template"]))
                        for c in (ca, cb)
                    )
                )
    lines = [
        f"bench_kappa_scatter: the true background's log kappa in the same windows of the same "
        f"{len(shared)} replicas ({', '.join(shared)}), scanned with two classifiers "
        f"(benchmarks/scan/kappa_scatter.py)",
        f"  first: {args.first}; second: {args.second}",
    ]
    for eff, xy in sorted(pairs.items()):
        x, y = np.array(xy).T
        lines.append(
            f"  eps {eff:g}: {len(x)} window-cuts; variance {x.var(ddof=1):.3f} (first), "
            f"{y.var(ddof=1):.3f} (second); correlation {np.corrcoef(x, y)[0, 1]:.2f}; half the "
            f"variance of the difference {np.var(x - y, ddof=1) / 2:.3f}"
        )
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
