"""The LHCO reader on files written by pandas in the published format, and every bad input."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from resonant_ad.data.lhco import JET_COLUMNS, LHCO_COLUMNS, read_lhco, split_by_label, write_lhco
from resonant_ad.data.toy import ToySample
from resonant_ad.errors import InputError


def test_reads_published_format(lhco_file: Path, toy_sample: ToySample) -> None:
    df = read_lhco(lhco_file)
    assert list(df.columns) == list(LHCO_COLUMNS)
    assert len(df) == len(toy_sample.background) + len(toy_sample.signal)
    bkg, sig = split_by_label(df)
    assert len(sig) == len(toy_sample.signal)
    assert len(bkg) == len(toy_sample.background)
    # values survive the round trip exactly (float64 in the file)
    assert np.isclose(np.sort(sig["mj1"])[0], np.sort(toy_sample.signal["mj1"])[0])
    assert df.attrs["n_dropped"] == 0


def test_file_without_label_column(tmp_path: Path, toy_sample: ToySample) -> None:
    path = tmp_path / "events_anomalydetection_qcd_extra_inneronly_features.h5"
    toy_sample.extra_background[list(JET_COLUMNS)].to_hdf(path, key="df", mode="w")
    with pytest.raises(InputError, match="no label column"):
        read_lhco(path)
    df = read_lhco(path, label=0)
    assert (df["label"] == 0).all() and len(df) == len(toy_sample.extra_background)


def test_label_override_and_max_events(lhco_file: Path) -> None:
    df = read_lhco(lhco_file, label=1, max_events=100)
    assert len(df) == 100 and (df["label"] == 1).all()


def test_write_then_read_round_trip(tmp_path: Path, toy_sample: ToySample) -> None:
    path = write_lhco(toy_sample.signal, tmp_path / "sig.h5")
    back = pd.read_hdf(path)
    pd.testing.assert_frame_equal(back, toy_sample.signal[list(LHCO_COLUMNS)])


def test_missing_file_names_the_public_source(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_lhco(tmp_path / "nope.h5")
    with pytest.raises(InputError, match="Zenodo"):
        read_lhco(tmp_path / "events_anomalydetection_v2.features.h5")


def test_not_an_hdf5_file(tmp_path: Path) -> None:
    path = tmp_path / "junk.h5"
    path.write_text("not hdf5")
    with pytest.raises(InputError, match="is not an HDF5 file") as err:
        read_lhco(path)
    assert "\n" not in str(err.value)  # one line, without HDF5's internal back trace


def test_an_hdf5_file_pandas_cannot_read_is_one_line(tmp_path: Path) -> None:
    import h5py

    path = tmp_path / "raw.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("df", data=np.zeros(3))
    with pytest.raises(InputError, match="cannot read") as err:
        read_lhco(path, key="df")
    assert "\n" not in str(err.value)


def test_missing_columns(tmp_path: Path, toy_sample: ToySample) -> None:
    path = tmp_path / "f.h5"
    toy_sample.signal.drop(columns=["tau2j1", "mj2"]).to_hdf(path, key="df", mode="w")
    with pytest.raises(InputError, match=r"lacks column\(s\) \['tau2j1', 'mj2'\]"):
        read_lhco(path)


def test_tev_units_are_refused(tmp_path: Path, toy_sample: ToySample) -> None:
    df = toy_sample.background.copy()
    df[list(JET_COLUMNS)] /= 1000.0
    path = tmp_path / "tev.h5"
    df.to_hdf(path, key="df", mode="w")
    with pytest.raises(InputError, match="looks like TeV"):
        read_lhco(path)


def test_mev_units_are_refused(tmp_path: Path, toy_sample: ToySample) -> None:
    df = toy_sample.background.copy()
    df[list(JET_COLUMNS)] *= 1000.0
    path = tmp_path / "mev.h5"
    df.to_hdf(path, key="df", mode="w")
    with pytest.raises(InputError, match="looks like MeV"):
        read_lhco(path)


def test_non_finite_rows_are_counted_and_dropped(
    tmp_path: Path, toy_sample: ToySample, caplog: pytest.LogCaptureFixture
) -> None:
    df = toy_sample.background.iloc[:1000].copy()
    df.loc[3, "tau1j1"] = np.nan
    df.loc[10, "pxj2"] = np.inf
    df.loc[11, "mj1"] = -np.inf
    path = tmp_path / "nan.h5"
    df.to_hdf(path, key="df", mode="w")
    with caplog.at_level(logging.WARNING):
        out = read_lhco(path)
    assert len(out) == 997
    assert out.attrs["n_dropped"] == 3
    assert "dropped 3 of 1000 events with NaN or inf" in caplog.text
    assert np.isfinite(out.to_numpy()).all()


def test_bad_labels_and_several_tables(tmp_path: Path, toy_sample: ToySample) -> None:
    df = toy_sample.signal.iloc[:50].copy()
    df["label"] = 2.0
    path = tmp_path / "lab.h5"
    df.to_hdf(path, key="df", mode="w")
    with pytest.raises(InputError, match="labels must be 0"):
        read_lhco(path)
    multi = tmp_path / "multi.h5"
    toy_sample.signal.to_hdf(multi, key="a", mode="w")
    toy_sample.signal.to_hdf(multi, key="b", mode="a")
    with pytest.raises(InputError, match="several tables"):
        read_lhco(multi)
    assert len(read_lhco(multi, key="b")) == len(toy_sample.signal)


def test_rounding_level_negative_masses_read_as_zero_and_negative_rows_dropped(
    tmp_path: Path, toy_sample: ToySample, caplog: pytest.LogCaptureFixture
) -> None:
    df = toy_sample.background.iloc[:1000].copy()
    df.loc[5, "mj1"] = -1.5e-5  # FastJet's mass of a one-constituent jet
    df.loc[6, "mj2"] = -1.5e-5
    df.loc[7, "mj1"] = -3.0  # clearly negative: a bad row
    df.loc[8, "mj2"] = np.nan
    path = tmp_path / "negative.h5"
    df.astype(np.float32).to_hdf(path, key="df", mode="w")
    with caplog.at_level(logging.WARNING):
        out = read_lhco(path)
    assert len(out) == 998 and out.attrs["n_dropped"] == 2
    assert "dropped 1 of 999 events with negative jet masses" in caplog.text
    assert (out[["mj1", "mj2"]].to_numpy() >= 0).all()
    assert out.loc[5, "mj1"] == 0.0 and out.loc[6, "mj2"] == 0.0
    assert out.loc[7, "mj1"] == pytest.approx(df.loc[9, "mj1"], rel=1e-6)  # row 7 gone


def test_the_content_checksum_ignores_how_the_file_was_written(
    tmp_path: Path, lhco_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from resonant_ad.cli import main
    from resonant_ad.data.lhco import content_sha256

    df = pd.read_hdf(lhco_file)
    assert isinstance(df, pd.DataFrame)
    a = write_lhco(df, tmp_path / "a.h5", complevel=9)
    b = write_lhco(df, tmp_path / "b.h5", complevel=1)
    assert a.read_bytes() != b.read_bytes()
    sums = []
    for path in (a, b):
        assert main(["describe", str(path), "--checksum"]) == 0
        sums.append(capsys.readouterr().out.split()[0])
    assert sums[0] == sums[1] == content_sha256(df)
    changed = df.copy()
    changed.iloc[0, 0] += 1.0
    assert content_sha256(changed) != sums[0]
