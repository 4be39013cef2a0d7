"""The study set-up the physics benchmarks share: the Pythia dev sample (``events.h5`` and
``extra_sr_background.h5`` in ``data_dir``), SR 3.3-3.7 TeV, seed 0, on the CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from resonant_ad.config import StudyConfig, config_from_dict


def dev_config(
    data_dir: str | Path,
    *,
    n_sig: list[int],
    injections: int,
    methods: list[str],
    epochs: int | None = None,
    ensemble: int | None = None,
    data: dict[str, Any] | None = None,
    **sections: dict[str, Any],
) -> StudyConfig:
    """The study config: ``epochs`` sets ``[model]`` (the ``cpu`` preset for that many
    epochs) and ``ensemble`` ``[classifier]`` (that many members, the template oversampled
    four times), each left at its default when ``None``; ``data`` adds ``[data]`` keys and
    ``sections`` whole sections (e.g. ``density={...}``)."""
    d = Path(data_dir)
    config: dict[str, Any] = {
        "data": {
            "events": str(d / "events.h5"),
            "extra_background": str(d / "extra_sr_background.h5"),
            **(data or {}),
        },
        "study": {
            "signal_regions": [[3.3, 3.7]],
            "n_sig": n_sig,
            "n_injections": injections,
            "methods": methods,
            "seed": 0,
            "device": "cpu",
        },
    }
    if epochs is not None:
        config["model"] = {"preset": "cpu", "epochs": epochs}
    if ensemble is not None:
        config["classifier"] = {"ensemble_size": ensemble, "oversampling": 4}
    return config_from_dict({**config, **sections})
