"""The package data: the bundled dataset and the demo config, found through importlib.resources."""

from __future__ import annotations

import importlib.resources
import zipfile
from pathlib import Path

import pytest

import resonant_ad.resources as resources
from resonant_ad.commands.demo import DEMO_CONFIG
from resonant_ad.config import load_config
from resonant_ad.search.inputs import reference_data

PACKAGE_DIR = Path(resources.__file__).resolve().parent


def test_resources_are_package_data() -> None:
    root = importlib.resources.files("resonant_ad.resources")
    assert root.joinpath("demo.toml").is_file()
    for name in resources.REFERENCE_FILES:
        assert root.joinpath("reference", name).is_file()
        assert root.joinpath("reference", name.replace(".h5", ".json")).is_file()
    assert root.joinpath("reference", "README.md").is_file()
    assert root.joinpath("reference", "make_reference.sh").is_file()


def test_paths_are_inside_the_package() -> None:
    assert resources.reference_dir().resolve() == PACKAGE_DIR / "reference"
    assert resources.demo_config().resolve() == PACKAGE_DIR / "demo.toml"
    assert DEMO_CONFIG == resources.demo_config()


def test_reference_data_points_at_existing_files() -> None:
    data = reference_data()
    files = [data.events, data.signal, data.extra_background]
    assert [p.name for p in files if p is not None] == list(resources.REFERENCE_FILES)
    assert all(p is not None and p.is_file() for p in files)


def test_demo_config_loads_and_names_the_bundled_files() -> None:
    config = load_config(DEMO_CONFIG)
    assert config.data == reference_data()


def test_resources_from_a_zip_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Zipped resources are extracted as one tree, so the demo's relative paths still work."""
    archive = tmp_path / "resources.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(PACKAGE_DIR / "demo.toml", "res/demo.toml")
        for name in resources.REFERENCE_FILES:
            zf.writestr(f"res/reference/{name}", b"h5 bytes")
    zipped = zipfile.Path(archive, "res/")
    monkeypatch.setattr(resources, "files", lambda _name: zipped)

    with resources.resources_dir() as folder:
        assert folder.is_dir()
        assert (folder / "reference" / "background.h5").read_bytes() == b"h5 bytes"
        data = load_config(folder / "demo.toml").data
        assert data.events == (folder / "reference" / "background.h5").resolve()
        assert data.signal is not None and data.signal.is_file()
    assert not folder.exists()
