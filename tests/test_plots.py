"""Tests of the figures: produced, non-empty, saved, and changing with the data drawn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from resonant_ad.data.events import Events
from resonant_ad.detect.classifier_test import ClassifierTestResult
from resonant_ad.detect.metrics import DetectionMetrics, sic_curve
from resonant_ad.errors import InputError
from resonant_ad.report.figure import render_array
from resonant_ad.report.histograms import (
    plot_feature_histograms,
    plot_log_weights,
    plot_passing_vs_signal,
    poisson_pulls,
)
from resonant_ad.report.report import result_row
from resonant_ad.report.sic_plots import plot_sic_curves, plot_sic_vs_nsig
from resonant_ad.report.style import method_style
from resonant_ad.report.training_plots import plot_training_curves

NAMES = ("mj1", "tau21_j1")


def _events(rng: np.random.Generator, n: int, shift: float = 0.0, label: int = 0) -> Events:
    x = rng.normal(size=(n, 2)) * 0.1 + np.array([0.1, 0.6]) + shift
    return Events(np.full(n, 3.5), x, np.full(n, label), NAMES)


def _differ(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape != b.shape or bool(np.any(a != b))


def _non_blank(img: np.ndarray) -> bool:
    return img.size > 0 and len(np.unique(img.reshape(-1, img.shape[-1]), axis=0)) > 10


def test_poisson_pulls() -> None:
    p = poisson_pulls(
        np.array([10.0, 0.0]), np.array([10.0, 0.0]), np.array([6.0, 0.0]), np.array([6.0, 0.0])
    )
    assert p.tolist() == [1.0, 0.0]


def test_feature_histograms(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    bkg, sig, data = _events(rng, 5000), _events(rng, 300, 0.2, 1), _events(rng, 5300)
    good, bad = _events(rng, 20_000), _events(rng, 20_000, 0.03)
    fig = plot_feature_histograms(
        bkg, sig, data, {"sigma-context": good, "sigma-linear": bad}, path=tmp_path / "f.png"
    )
    assert (tmp_path / "f.png").stat().st_size > 10_000
    assert len(fig.axes) == 2 * len(NAMES)
    for pulls in fig.axes[1::2]:
        # every bin's pull drawn, the last one too: data and two templates
        drawn = [p.get_data() for p in pulls.patches if hasattr(p, "get_data")]
        assert len(drawn) == 3
        assert all(len(d.values) == 40 and d.edges[-1] == pulls.get_xlim()[1] for d in drawn)
    img = render_array(fig)
    assert _non_blank(img)
    other = plot_feature_histograms(
        bkg, sig, data, {"sigma-context": good, "sigma-linear": _events(rng, 20_000, 0.06)}
    )
    assert _differ(img, render_array(other))
    with pytest.raises(InputError):
        plot_feature_histograms(bkg, Events(sig.m, sig.x, sig.label, ("a", "b")))


def test_sic_curves_change_with_scores(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    labels = np.r_[np.zeros(20_000), np.ones(2_000)]

    def curves(strength: float) -> list:
        return [
            sic_curve(rng.normal(size=len(labels)) + strength * labels, labels) for _ in range(3)
        ]

    fig = plot_sic_curves(
        {"iad": curves(2.0), "sigma-context": curves(1.0)}, path=tmp_path / "s.pdf"
    )
    assert (tmp_path / "s.pdf").stat().st_size > 1000
    img = render_array(fig)
    assert _non_blank(img)
    img2 = render_array(plot_sic_curves({"iad": curves(2.0), "sigma-context": curves(0.5)}))
    assert _differ(img, img2)
    lines = fig.axes[0].get_lines()
    assert {ln.get_label() for ln in lines} >= {"Idealized AD", "SIGMA context"}


def test_sic_vs_nsig() -> None:
    def rows(scale: float) -> list:
        out = []
        for n in (300, 1000, 3000):
            for method, base in (("iad", 10.0), ("sigma-context", 6.0)):
                ms = [DetectionMetrics(scale * base * n / 3000 + i, 1.0, 0.6) for i in range(5)]
                out.append(result_row((3.3, 3.7), n, method, ms))
        return out

    fig = plot_sic_vs_nsig(rows(1.0), s_over_sqrt_b={300: 0.7, 1000: 2.2, 3000: 6.6})
    img = render_array(fig)
    assert _non_blank(img)
    assert _differ(img, render_array(plot_sic_vs_nsig(rows(2.0))))
    med = fig.axes[0].get_lines()[0].get_ydata()
    assert np.allclose(med, [3.0, 1000 / 300 + 2.0, 12.0])
    with pytest.raises(InputError):
        plot_sic_vs_nsig(rows(1.0), signal_region=(4.0, 4.4))


def test_a_legend_of_every_template_method_stands_beside_the_axes() -> None:
    """Up to LEGEND_INSIDE methods the legend sits in the axes; with more it moves beside
    them, where it covers no line, and the axes keep their width."""
    from resonant_ad.methods.registry import names
    from resonant_ad.report.sic_plots import LEGEND_INSIDE

    def rows(methods: list[str]) -> list:
        return [
            result_row(
                (3.3, 3.7), n, m, [DetectionMetrics(5.0 + k + i, 1.0, 0.6) for i in range(3)]
            )
            for k, m in enumerate(methods)
            for n in (450, 1000)
        ]

    many = names(yields="template")
    assert len(many) > LEGEND_INSIDE
    few_fig = plot_sic_vs_nsig(rows(many[:3]))
    many_fig = plot_sic_vs_nsig(rows(many))
    assert few_fig.axes[0].get_legend() is not None and not few_fig.legends
    assert many_fig.axes[0].get_legend() is None and len(many_fig.legends) == 1
    assert len(many_fig.legends[0].get_texts()) == len(many)
    render_array(few_fig), render_array(many_fig)  # lays both out
    legend = many_fig.legends[0].get_window_extent()
    axes = many_fig.axes[0].get_window_extent()
    assert legend.x0 >= axes.x1  # beside the axes, not over them
    assert axes.width == pytest.approx(few_fig.axes[0].get_window_extent().width, rel=0.15)
    rng = np.random.default_rng(0)
    labels = np.r_[np.ones(200), np.zeros(2000)]
    curves = {m: [sic_curve(rng.random(len(labels)) + labels, labels)] for m in many}
    fig = plot_sic_curves(curves)
    assert fig.axes[0].get_legend() is None and len(fig.legends) == 1


def test_log_weights() -> None:
    rng = np.random.default_rng(2)
    empty = Events(np.zeros(0), np.zeros((0, 2)), np.zeros(0), NAMES)

    def res(width: float) -> ClassifierTestResult:
        lw = rng.normal(0, width, 5000)
        return ClassifierTestResult(
            0.5 + width, lw, rng.normal(0, 0.05, 5000), 0.1, empty, float(np.mean(lw > 0.1))
        )

    fig = plot_log_weights({"cr": res(0.05), "sigma-linear": res(0.3)})
    assert len(fig.axes) == 2
    img = render_array(fig)
    assert _non_blank(img)
    img2 = render_array(plot_log_weights({"cr": res(0.05), "sigma-linear": res(0.5)}))
    assert _differ(img, img2)


def test_passing_vs_signal() -> None:
    rng = np.random.default_rng(3)
    sig = _events(rng, 2000, 0.3, 1)

    def res(shift: float) -> ClassifierTestResult:
        passing = _events(rng, 500, shift)
        return ClassifierTestResult(0.6, np.zeros(1), np.zeros(1), 0.1, passing, 0.1)

    fig = plot_passing_vs_signal({"data": res(0.3), "sigma-context": res(0.0)}, sig)
    assert len(fig.axes) == len(NAMES)
    img = render_array(fig)
    assert _non_blank(img)
    img2 = render_array(plot_passing_vs_signal({"data": res(0.1), "sigma-context": res(0.0)}, sig))
    assert _differ(img, img2)


def test_every_registered_method_has_its_own_style() -> None:
    from resonant_ad.methods.registry import names

    styles = [method_style(name, i) for i, name in enumerate(names())]
    assert len({s.color for s in styles}) == len(styles)
    assert method_style("sigma-context").label == "SIGMA context"
    assert method_style("unknown").label == "unknown"


def test_training_curves_plot_each_recorded_quantity() -> None:
    def history(scale: float, nll_every: int) -> list[dict[str, float]]:
        out = []
        for e in range(1, 21):
            r = {"epoch": float(e), "train_loss": scale / e, "val_score": scale / e + 0.1}
            r["lr"] = 1e-3 if e < 10 else 3e-4
            if e % nll_every == 0:
                r["val_nll"] = -scale / e
            out.append(r)
        return out

    fig = plot_training_curves({"v_data": history(1.0, 5), "v_CR": history(2.0, 5)})
    loss, score, nll = fig.axes[:3]
    assert [ln.get_label() for ln in score.get_lines()] == ["v_data", "v_CR"]
    assert [ln.get_label() for ln in loss.get_lines()] == ["v_data", "v_CR"]
    np.testing.assert_allclose(loss.get_lines()[1].get_ydata(), [2.0 / e for e in range(1, 21)])
    assert len(nll.get_lines()[0].get_xdata()) == 4  # recorded every 5th epoch
    assert _non_blank(render_array(fig))
    with pytest.raises(InputError):
        plot_training_curves({"v_data": [{"epoch": 1.0}]})


def _scan(
    method: str, z: list[list[float]], confirmed: list[list[float]] | None = None
) -> dict[str, object]:
    """A ``ScanResult.to_dict()``-like scan: ``z[cut][window]`` (and the confirmed ``Z``)."""
    windows = [
        {
            "center": 3.0 + 0.1 * k,
            "counts": [
                {"efficiency": eps, "significance": zc[k]}
                | ({} if confirmed is None else {"confirmed_significance": confirmed[j][k]})
                for j, (eps, zc) in enumerate(zip((0.1, 0.01), z, strict=True))
            ],
        }
        for k in range(len(z[0]))
    ]
    best = max(max(zc) for zc in z)
    return {
        "method": method,
        "n_sig": 450,
        "efficiencies": [0.1, 0.01],
        "windows": windows,
        "global_significance": {"local": best, "global": best - 1.5},
    }


def test_the_scan_plot_keeps_legend_and_summary_off_the_points(tmp_path: Path) -> None:
    from resonant_ad.report.scan_plot import plot_scan, scan_figure

    z = [[0.1, 1.0, 6.5, 1.2, -0.4], [0.3, 2.0, 8.0, 0.5, -1.0]]
    scans = [_scan("sigma-context", z), _scan("cr", [[v / 2 for v in zc] for zc in z])]
    fig = scan_figure(scans, title="$N_{sig}$ = 450")
    render_array(fig)
    (ax,) = fig.axes
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    legend = fig.legends[0].get_window_extent(renderer)
    assert not legend.overlaps(ax.get_window_extent(renderer))
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(labels) == 5 and not any("N_{sig}" in t for t in labels)  # named once, above
    stars = [ln for ln in ax.get_lines() if ln.get_marker() == "*"]
    assert [tuple(s.get_xydata()[0]) for s in stars] == [(3.2, 8.0), (3.2, 4.0)]
    assert "largest confirmed local Z = 8.00" in fig.get_suptitle()
    assert fig.get_suptitle().startswith("$N_{sig}$ = 450")
    # the star marks the largest excess a neighbouring window confirms, where the scan has one
    lone = _scan(
        "sigma-context",
        [[0.1, 1.0, 6.5, 5.0, 4.8], [0.3, 2.0, 8.0, 0.5, -1.0]],
        confirmed=[[0.1, 1.0, 1.0, 4.8, 4.8], [0.3, 1.0, 0.5, 0.0, 0.0]],
    )
    stars = [ln for ln in scan_figure([lone]).axes[0].get_lines() if ln.get_marker() == "*"]
    assert [tuple(s.get_xydata()[0]) for s in stars] == [(3.3, 5.0)]
    out = plot_scan(scans, tmp_path / "scan.png")
    from matplotlib.image import imread

    assert imread(out).shape[1] >= 1600  # 12 inches at 150 dpi


def test_square_roots_in_labels_draw_without_warnings(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from resonant_ad.report.figure import cms_style, new_figure

    with caplog.at_level(logging.WARNING), cms_style():
        fig = new_figure()
        fig.add_subplot().set_ylabel(r"SIC $= \epsilon_S/\sqrt{\epsilon_B}$")
        render_array(fig)
    assert "TeX to Unicode" not in caplog.text and "findfont" not in caplog.text
