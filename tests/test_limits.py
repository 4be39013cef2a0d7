"""Upper limits on a window's signal (CLs with pyhf): the textbook values, the workspace, the
significance the scan reports, and the ``limits`` command on a toy scan."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize, stats

import resonant_ad.search.limits as limits_module
from resonant_ad.cli import main
from resonant_ad.errors import InputError
from resonant_ad.search.counts import CutCount, signed_significance
from resonant_ad.search.limits import upper_limit, workspace
from toys import toy_scan_config


def _cut(observed: float, expected: float, sigma: float, dispersion: float = 1.0) -> CutCount:
    return CutCount(0.01, 0.9, observed, expected, sigma, 0.0, expected, dispersion=dispersion)


def textbook_cls(n: int, b: float, cl: float = 0.95) -> float:
    """The signal s at which CLs = P(N <= n | s + b) / P(N <= n | b) = 1 - cl, for a Poisson
    count with a known background."""
    return float(
        optimize.brentq(
            lambda s: stats.poisson.cdf(n, s + b) / stats.poisson.cdf(n, b) - (1 - cl),
            1e-9,
            10.0 * (n + 10),
        )
    )


@pytest.mark.parametrize(("n", "b", "tolerance"), [(100, 100.0, 0.03), (50, 40.0, 0.05)])
def test_the_limit_of_a_known_background_is_the_textbook_cls(
    n: int, b: float, tolerance: float
) -> None:
    limit = upper_limit(_cut(n, b, 0.0))
    assert limit.observed == pytest.approx(textbook_cls(n, b), rel=tolerance)


def test_the_asymptotic_limit_of_a_few_events_lies_below_the_textbook_one() -> None:
    """At a few events the asymptotic formulae undercover, as the module says: 3 observed over
    a background of 1 gives 6.0 against the textbook 6.8."""
    limit = upper_limit(_cut(3, 1.0, 0.0)).observed
    assert 0.8 * textbook_cls(3, 1.0) < limit < 0.95 * textbook_cls(3, 1.0)


def test_the_expected_band_is_ordered_and_holds_the_observed_limit_of_the_expectation() -> None:
    limit = upper_limit(_cut(200, 200.0, 10.0))
    assert list(limit.expected) == sorted(limit.expected)
    # observed exactly as expected: the observed limit is the median expected one
    assert limit.observed == pytest.approx(limit.expected[2], rel=0.01)


def test_a_larger_background_uncertainty_loosens_the_limit() -> None:
    tight, loose = (upper_limit(_cut(120, 100.0, s)).observed for s in (1.0, 20.0))
    assert loose > 1.2 * tight


@pytest.mark.parametrize(
    ("n", "b", "sigma"), [(50, 40.0, 0.4), (102.5, 36.4, 12.5), (80, 100.0, 5)]
)
def test_pyhfs_discovery_significance_is_the_scans(n: float, b: float, sigma: float) -> None:
    """The scan's Z treats the uncertainty as Gaussian, the workspace as log-normal: within
    0.1 up to a relative uncertainty of a third."""
    z = upper_limit(_cut(n, b, sigma)).discovery_significance
    assert z == pytest.approx(max(signed_significance(n, b, sigma), 0.0), abs=0.1)


def test_an_averaged_count_is_limited_in_events() -> None:
    """A count averaged over cuts with dispersion 1/2 fluctuates like a Poisson count of twice
    its size: its limit is half that of the doubled count, still in events."""
    half = upper_limit(_cut(100, 100.0, 5.0, dispersion=0.5)).observed
    double = upper_limit(_cut(200, 200.0, 10.0)).observed
    assert half == pytest.approx(double / 2, rel=1e-3)


def test_a_signal_efficiency_scales_the_limit_to_the_window() -> None:
    passing = upper_limit(_cut(120, 100.0, 5.0)).observed
    window = upper_limit(_cut(120, 100.0, 5.0), signal_efficiency=0.25).observed
    assert window == pytest.approx(4 * passing, rel=1e-3)
    with pytest.raises(InputError, match="efficiency"):
        workspace(_cut(120, 100.0, 5.0), signal_efficiency=1.5)


def test_the_workspace_validates_and_reopens_to_the_same_limit(tmp_path: Path) -> None:
    import pyhf
    from pyhf.infer.intervals.upper_limits import upper_limit as pyhf_upper_limit

    cut = _cut(75, 60.0, 6.0)
    path = tmp_path / "ws.json"
    path.write_text(json.dumps(workspace(cut)))
    ws = pyhf.Workspace(json.loads(path.read_text()))  # validates against pyhf's schema
    model = ws.model()
    bounds = model.config.suggested_bounds()
    bounds[model.config.poi_index] = (0.0, 1000.0)
    observed, _ = pyhf_upper_limit(ws.data(model), model, scan=None, par_bounds=bounds)
    assert float(observed) == pytest.approx(upper_limit(cut).observed, rel=1e-3)
    with pytest.raises(InputError, match="positive expectation"):
        workspace(_cut(10, 0.0, 1.0))


def test_limits_of_a_toy_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = toy_scan_config(tmp_path)
    out = tmp_path / "scan"
    assert main(["scan", str(config), "--out", str(out), "--no-progress"]) == 0
    assert main(["limits", str(out), "--efficiency", "0.02"]) == 0
    scan = json.loads((out / "scan.json").read_text())["scans"][0]
    limits = json.loads((out / "limits.json").read_text())["scans"][0]["limits"]
    assert [lim["signal_region"] for lim in limits] == [w["signal_region"] for w in scan["windows"]]
    assert all(lim["efficiency"] == 0.02 for lim in limits)
    # the window with the injected signal: its limit lies above the signal that passed
    signal = max(scan["windows"], key=lambda w: w["n_signal_true"])
    cut = next(c for c in signal["counts"] if c["efficiency"] == 0.02)
    lim = next(lim for lim in limits if lim["signal_region"] == signal["signal_region"])
    assert lim["observed"] > cut["true_signal"] > 0
    assert lim["discovery_significance"] == pytest.approx(max(cut["significance"], 0), abs=0.3)
    assert len(list((out / "workspaces").glob("*.json"))) == len(limits)
    assert (out / "limits_sigma-context_eps0.02.png").stat().st_size > 10_000
    assert np.all(np.diff([lim["expected"] for lim in limits], axis=1) >= 0)
    assert main(["limits", str(tmp_path / "nowhere")]) == 2

    # every limit is a stored task: a second run reads them back without pyhf
    assert len(list((out / "limits").glob("*.json"))) == len(limits)

    def no_pyhf(*args: object, **kwargs: object) -> None:
        raise AssertionError("a stored limit was computed again")

    with monkeypatch.context() as m:
        m.setattr(limits_module, "upper_limit", no_pyhf)
        assert main(["limits", str(out), "--efficiency", "0.02", "--no-progress"]) == 0
    again = json.loads((out / "limits.json").read_text())["scans"][0]["limits"]
    assert again == limits

    # the efficiency measured in an injected scan (here the same one): limits on the signal
    # in the window, each the limit on what passed over the window's efficiency
    assert main(["limits", str(out), "--efficiency", "0.02", "--efficiency-from", str(out)]) == 0
    in_window = json.loads((out / "limits.json").read_text())["scans"][0]["limits"]
    passed = [w for w in scan["windows"] if any(c["true_signal"] > 0 for c in w["counts"])]
    assert [lim["signal_region"] for lim in in_window] == [w["signal_region"] for w in passed]
    window = next(x for x in in_window if x["signal_region"] == signal["signal_region"])
    efficiency = cut["true_signal"] / signal["n_signal_true"]
    assert window["signal_efficiency"] == pytest.approx(efficiency)
    assert window["observed"] == pytest.approx(lim["observed"] / efficiency, rel=1e-3)
    assert window["observed"] > signal["n_signal_true"]
