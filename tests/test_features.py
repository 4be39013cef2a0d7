"""Features against an independent, per-event computation from the four-vectors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from resonant_ad.data.features import BASE_FEATURES, compute_features, safe_ratio
from resonant_ad.data.toy import ToySample


def _reference(row: pd.Series) -> tuple[float, float]:
    """mjj (GeV) and dR for one event with plain floats, eta from the polar angle."""
    jets = []
    for j in (1, 2):
        px, py, pz, m = (float(row[f"{q}j{j}"]) for q in ("px", "py", "pz", "m"))
        p = math.sqrt(px * px + py * py + pz * pz)
        theta = math.acos(pz / p)
        jets.append(
            (
                math.sqrt(p * p + m * m),
                px,
                py,
                pz,
                -math.log(math.tan(theta / 2)),
                math.atan2(py, px),
            )
        )
    e, px, py, pz = (jets[0][i] + jets[1][i] for i in range(4))
    mjj = math.sqrt(e * e - px * px - py * py - pz * pz)
    dphi = abs(jets[0][5] - jets[1][5])
    dphi = min(dphi, 2 * math.pi - dphi)
    return mjj, math.hypot(jets[0][4] - jets[1][4], dphi)


def test_mjj_and_delta_r_match_independent_computation(toy_sample: ToySample) -> None:
    df = pd.concat([toy_sample.background.iloc[:300], toy_sample.signal.iloc[:300]])
    ev = compute_features(df)
    ref = np.array([_reference(r) for _, r in df.iterrows()])
    np.testing.assert_allclose(ev.m, ref[:, 0] / 1000, rtol=1e-9)
    np.testing.assert_allclose(ev.x[:, BASE_FEATURES.index("delta_r")], ref[:, 1], rtol=1e-9)


def test_jets_are_ordered_by_mass_and_in_tev(toy_sample: ToySample) -> None:
    df = toy_sample.signal.iloc[:500]
    ev = compute_features(df, extras=("mj2",))
    mj1, dmj, mj2 = ev.x[:, 0], ev.x[:, 1], ev.x[:, -1]
    assert (dmj >= 0).all()
    np.testing.assert_allclose(mj1, np.minimum(df["mj1"], df["mj2"]) / 1000)
    np.testing.assert_allclose(mj2, mj1 + dmj)
    # the signal's jets: 100 GeV and 500 GeV
    assert abs(np.median(mj1) - 0.1) < 0.01 and abs(np.median(mj2) - 0.5) < 0.03


def test_tau21_follows_the_mass_ordering() -> None:
    row = {c: [0.0] for c in ("pzj1", "pzj2")}
    row.update(pxj1=[1500.0], pyj1=[0.0], pxj2=[-1400.0], pyj2=[0.0])
    # jet 1 is the heavier one here, so it becomes J2
    row.update(mj1=[400.0], tau1j1=[40.0], tau2j1=[10.0], tau3j1=[5.0])
    row.update(mj2=[80.0], tau1j2=[20.0], tau2j2=[16.0], tau3j2=[8.0])
    ev = compute_features(pd.DataFrame(row), extras=("tau32_j1", "tau32_j2"))
    x = dict(zip(ev.feature_names, ev.x[0], strict=True))
    assert math.isclose(x["tau21_j1"], 0.8) and math.isclose(x["tau21_j2"], 0.25)
    assert math.isclose(x["tau32_j1"], 0.5) and math.isclose(x["tau32_j2"], 0.5)
    assert math.isclose(x["mj1"], 0.08) and math.isclose(x["delta_mj"], 0.32)
    assert math.isclose(
        ev.m[0], math.sqrt((math.hypot(1500, 400) + math.hypot(1400, 80)) ** 2 - 100.0**2) / 1000
    )


def test_tau1_zero_gives_finite_tau21() -> None:
    out = safe_ratio(np.array([0.0, 0.0, 3.0]), np.array([0.0, 2.0, 0.0]))
    assert np.isfinite(out).all() and out.tolist() == [0.0, 0.0, 0.0]


def test_unknown_extra_feature_is_an_error(toy_sample: ToySample) -> None:
    import pytest

    from resonant_ad.errors import InputError

    with pytest.raises(InputError, match="unknown extra"):
        compute_features(toy_sample.signal, extras=("tau43",))


def test_a_study_reads_the_feature_set_of_its_config(lhco_file: Path) -> None:
    from resonant_ad.config import config_from_dict
    from resonant_ad.data.features import FEATURE_SETS, compute_feature_set
    from resonant_ad.data.lhco import read_lhco, split_by_label
    from resonant_ad.search.inputs import load_inputs

    base = {"events": str(lhco_file), "extra_background": str(lhco_file)}
    five = load_inputs(config_from_dict({"data": base}).data)
    six = load_inputs(config_from_dict({"data": {**base, "features": "cvae"}}).data)
    assert five.background.feature_names == BASE_FEATURES
    assert six.background.feature_names == FEATURE_SETS["cvae"]
    assert six.signal.x.shape[1] == six.extra_background.x.shape[1] == 6  # type: ignore[union-attr]
    bkg, _ = split_by_label(read_lhco(lhco_file))
    expected = compute_feature_set(bkg, "cvae")
    np.testing.assert_allclose(six.background.x, expected.x)
    np.testing.assert_allclose(six.background.m, five.background.m)
    # tau32 = tau3 / tau2 of the lighter jet, in [0, 1]
    tau32 = six.background.x[:, FEATURE_SETS["cvae"].index("tau32_j1")]
    assert 0 <= tau32.min() and tau32.max() <= 1.0 and tau32.std() > 0.05
