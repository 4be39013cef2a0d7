"""What the density methods measure besides scores: the signal fraction ``w`` (fitted, with
its 68% interval, against the truth) and the learned signal density ``p_S`` (its samples
beside the true signal). Written by :func:`~resonant_ad.report.outputs.write_study` when a
study ran ``r-anode``."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from resonant_ad.data.events import Events
from resonant_ad.errors import InputError

__all__ = [
    "SignalFraction",
    "format_signal_fractions",
    "plot_signal_fractions",
    "plot_signal_model",
    "signal_fractions",
    "write_density_outputs",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignalFraction:
    """The fitted and true signal fraction of one (SR, N_sig, injection)."""

    method: str
    signal_region: tuple[float, float]
    n_sig: int
    injection: int
    true_w: float
    w: float
    w_lo: float
    w_hi: float
    fold_w: tuple[float, ...]
    collapsed: tuple[bool, ...]
    fit_seconds: float
    starts: tuple[tuple[float, float, float], ...] = ()
    """Per start of ``w``: the start, the fitted ``w`` from it and its held-out ``-2 Delta
    log L`` against the best start."""
    correction: tuple[float, float, float] | None = None
    """With ``[density] correction = "sidebands"``: the held-out sideband AUC of data
    against the background model, before and after the correction, and the correction's
    held-out log-likelihood gain there (nats per event; NaN for a fit stored before it was
    measured)."""
    capture: float | None = None
    """With ``[density] capture``: the fitted fraction of the signal that is background-like
    in ``x`` (told by its mass alone)."""
    q0: float = float("nan")
    """``2 (log L(w) - log L(0))``, the test statistic of ``w = 0``."""
    p_value_wilks: float = float("nan")
    """Its asymptotic p-value (exact only where ``p_B`` is)."""
    null: dict[str, Any] | None = None
    """With ``[density] null_windows``: the null fits in the validation windows, the spurious
    ``w`` (mean, spread), the corrected ``w``, the statistical and total intervals and the
    p-value of ``q0`` from the null fits (:mod:`~resonant_ad.density.null`)."""
    without_capture: dict[str, Any] | None = None
    """With ``[density] capture``: ``w``, its interval and ``q0`` of the fit without it (the
    same ``p_S``), and what profiling over the background-like fraction adds to the held-out
    ``2 log L``."""

    @property
    def covers_total(self) -> bool | None:
        """Whether the total interval (with the spurious signal) contains the true ``w``
        (``None``: no null fits)."""
        if self.null is None:
            return None
        lo, hi = self.null["total_interval"]
        return bool(lo <= self.true_w <= hi)

    @property
    def covers(self) -> bool:
        """Whether the 68% interval contains the true ``w``."""
        return self.w_lo <= self.true_w <= self.w_hi


def _learns_w(name: str) -> bool:
    from resonant_ad.methods.registry import get

    return getattr(get(name), "w_mode", None) == "learned"


def signal_fractions(result: Any) -> list[SignalFraction]:
    """Every fitted ``w`` of the study's methods that learn it (``r-anode``)."""
    rows = []
    for (method, n_sig, k, sr), _ in sorted(result.model_files.items()):
        if not _learns_w(method):
            continue
        fit = result.model(method, n_sig, k, sr)
        nulls = result.null_fits.get((method, n_sig, k, sr))
        if nulls:
            fit.calibrate(nulls)
        summary = fit.summary()
        lo, hi = fit.w_interval_
        rows.append(
            SignalFraction(
                method,
                sr,
                n_sig,
                k,
                result.signal_fractions.get((n_sig, k, sr), float("nan")),
                float(fit.w_),
                float(lo),
                float(hi),
                tuple(float(w) for w in fit.fold_w_),
                tuple(bool(c) for c in fit.collapsed_),
                float(fit.fit_seconds_),
                tuple(
                    (float(s["w_init"]), float(s["w"]), float(s["deviance"])) for s in fit.starts_
                ),
                _correction(fit.sideband_correction_),
                fit.capture_,
                float(summary["q0"]),
                float(summary["p_value_wilks"]),
                summary.get("null"),
                summary.get("without_capture"),
            )
        )
    return rows


def _correction(diagnostics: dict[str, float] | None) -> tuple[float, float, float] | None:
    """The sideband AUCs before and after a background correction and its held-out gain
    (``None``: no correction)."""
    if diagnostics is None:
        return None
    gain = float(diagnostics.get("gain", float("nan")))
    return (float(diagnostics["auc_before"]), float(diagnostics["auc_after"]), gain)


def format_signal_fractions(rows: list[SignalFraction]) -> str:
    """A table: true and fitted ``w`` with the interval, per injection."""
    lines = [
        f"{'method':<9} {'SR':<12} {'N_sig':>5} {'inj':>3} {'true w':>8} {'fitted w':>9} "
        f"{'68% interval':>20} {'covers':>6} {'collapsed folds':>15} {'fit s':>6}  "
        "per start: w_init -> w (held-out -2 Delta log L)"
    ]
    for r in rows:
        sr = f"[{r.signal_region[0]:g}, {r.signal_region[1]:g}]"
        lines.append(
            f"{r.method:<9} {sr:<12} {r.n_sig:>5} {r.injection:>3} {r.true_w:>8.5f} "
            f"{r.w:>9.5f} [{r.w_lo:>8.5f}, {r.w_hi:>8.5f}] {'yes' if r.covers else 'no':>6} "
            f"{sum(r.collapsed):>7}/{len(r.collapsed):<7} {r.fit_seconds:>6.0f}  "
            + ", ".join(f"{w0:g} -> {w:.5f} ({d:+.1f})" for w0, w, d in r.starts)
            + (
                ""
                if r.correction is None
                else f"; p_B corrected, sideband AUC {r.correction[0]:.4f} -> "
                f"{r.correction[1]:.4f}, held-out gain {r.correction[2]:+.4f} nats/event"
            )
            + ("" if r.capture is None else f"; background-like signal {r.capture:.2f}")
            + ("" if r.without_capture is None else _capture_text(r.without_capture))
            + f"; q0 {r.q0:.2f} (Wilks p {r.p_value_wilks:.2g})"
            + ("" if r.null is None else _null_text(r.null))
        )
    return "\n".join(lines)


def _capture_text(plain: dict[str, Any]) -> str:
    """What the capture adds to ``2 log L``, and ``w`` without it."""
    return f" (adds {plain['capture_gain']:.1f} to 2 log L; w without it {plain['w']:.5f})"


def _null_text(null: dict[str, Any]) -> str:
    """The null fits' part of a table row: the spurious signal, the total interval, the
    calibrated p-value."""
    lo, hi = null["total_interval"]
    return (
        f"; spurious w {null['mean']:.5f} +- {null['spread']:.5f} ({null['n']} null fits, "
        f"subtracted, systematic {null['systematic']:.5f}), w {null['w']:.5f} total "
        f"[{lo:.5f}, {hi:.5f}], p {null['p_value']:.3f}"
    )


def plot_signal_fractions(rows: list[SignalFraction], path: str | Path | None = None) -> Any:
    """Fitted ``w`` with its 68% interval against the true ``w``, one point per injection."""
    from resonant_ad.report.figure import cms_style as _style
    from resonant_ad.report.figure import new_figure as _figure
    from resonant_ad.report.figure import save_figure as _save

    if not rows:
        raise InputError("no fitted signal fractions to plot")
    with _style():
        fig = _figure(figsize=(7.5, 6.5))
        ax = fig.add_subplot()
        n_sigs = sorted({r.n_sig for r in rows})
        for i, n in enumerate(n_sigs):
            sel = [r for r in rows if r.n_sig == n]
            t = np.array([r.true_w for r in sel])
            w = np.array([r.w for r in sel])
            err = np.array([[r.w - r.w_lo for r in sel], [r.w_hi - r.w for r in sel]])
            ax.errorbar(
                t,
                w,
                yerr=np.maximum(err, 0),
                fmt="o",
                capsize=3,
                color=f"C{i}",
                label=f"$N_{{sig}}$ = {n}",
            )
        top = max(max(r.true_w for r in rows), max(r.w_hi for r in rows)) * 1.15
        ax.plot([0, top], [0, top], color="grey", ls="--", lw=1, label="fitted = true")
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_xlabel("true signal fraction $w$ in the SR")
        ax.set_ylabel("fitted $w$ (68% interval)")
        ax.legend(fontsize="small")
    _save(fig, path)
    return fig


_SIGNAL_MODEL_STYLES: dict[str, dict[str, Any]] = {
    "background": {"histtype": "step", "color": "grey", "lw": 1.5, "label": "SR background"},
    "signal": {"histtype": "stepfilled", "color": "#fdae6b", "label": "true signal"},
    "samples": {"histtype": "step", "color": "#8c564b", "lw": 2, "label": "$p_S$ samples"},
}
"""The histograms of :func:`plot_signal_model`, in the order they are drawn."""


def plot_signal_model(
    samples: Events, signal: Events, background: Events, path: str | Path | None = None
) -> Any:
    """Normalised histograms of every feature (and ``m``) of ``p_S`` samples, the true
    signal and the SR background: what the fit says the signal looks like (samples whose
    masses are NaN, of a ``p_S`` over ``x`` alone, show no mass)."""
    from resonant_ad.report.figure import cms_style as _style
    from resonant_ad.report.figure import new_figure as _figure
    from resonant_ad.report.figure import save_figure as _save
    from resonant_ad.report.style import feature_label

    names = ("mjj", *samples.feature_names)
    columns = {
        "samples": np.column_stack([samples.m, samples.x]),
        "signal": np.column_stack([signal.m, signal.x]),
        "background": np.column_stack([background.m, background.x]),
    }
    ncols = 3
    nrows = -(-len(names) // ncols)
    with _style():
        fig = _figure(figsize=(6.0 * ncols, 5.0 * nrows + 0.8))
        handles: list[Any] = []
        labels: list[str] = []
        for j, name in enumerate(names):
            ax = fig.add_subplot(nrows, ncols, j + 1)
            ref = np.concatenate([columns["signal"][:, j], columns["background"][:, j]])
            lo, hi = np.percentile(ref, [0.5, 99.5])
            edges = np.linspace(lo, hi if hi > lo else lo + 1, 41).tolist()
            for key, style in _SIGNAL_MODEL_STYLES.items():
                values = columns[key][:, j]
                values = values[np.isfinite(values)]  # a p_S of x alone samples no masses
                if len(values):
                    ax.hist(np.clip(values, lo, hi), edges, density=True, **style)
            ax.set_xlabel("$m_{jj}$ [TeV]" if name == "mjj" else feature_label(name))
            ax.set_ylabel("normalised")
            if j == 0:
                handles, labels = ax.get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncol=3)
    _save(fig, path)
    return fig


def write_density_outputs(result: Any, out: Path) -> str:
    """``signal_fraction.json``, its plot and the ``p_S`` sample plots of a study that ran a
    method learning ``w``; returns the table ("" when there is none)."""
    rows = signal_fractions(result)
    if not rows:
        return ""
    out.mkdir(parents=True, exist_ok=True)
    (out / "signal_fraction.json").write_text(
        json.dumps(
            [{**asdict(r), "covers": r.covers, "covers_total": r.covers_total} for r in rows],
            indent=2,
        )
    )
    plot_signal_fractions(rows, out / "plots" / "signal_fraction.png")
    for (sr, n_sig), example in sorted(result.examples.items()):
        first = next((r for r in rows if r.signal_region == sr and r.n_sig == n_sig), None)
        observed = example.get("observed")
        if first is None or observed is None or not np.any(observed.label == 1):
            continue
        fit = result.model(first.method, n_sig, 0, sr)
        x, m = fit.sample(20_000, seed=0)
        samples = Events(m, x, np.ones(len(m)), observed.feature_names)
        tag = f"SR{sr[0]:g}-{sr[1]:g}_nsig{n_sig}"
        plot_signal_model(
            samples,
            observed.select(observed.label == 1),
            observed.select(observed.label == 0),
            out / "plots" / f"signal_model_{tag}.png",
        )
    table = format_signal_fractions(rows)
    (out / "signal_fraction.txt").write_text(table + "\n")
    log.info("wrote the fitted signal fractions to %s", out / "signal_fraction.json")
    return table
