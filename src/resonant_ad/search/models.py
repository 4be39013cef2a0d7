"""Trained generative models of a search, stored in the run folder and reused when present."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion

__all__ = ["trained_flow"]

log = logging.getLogger(__name__)


def trained_flow(
    path: Path,
    train: Events,
    val: Events,
    *,
    signal_region: SignalRegion | None,
    preset: str,
    params: dict[str, Any],
    seed: int,
    device: str = "auto",
    progress: bool = True,
) -> tuple[Any, float]:
    """``(model, training seconds)``: ``v_data`` (no ``signal_region``) or ``v_CR`` of an SR.

    A model already saved at ``path`` is loaded, with the training time recorded next to
    it. Otherwise it is trained with a checkpoint next to ``path``, so an interrupted
    training resumes from its last epochs, and saved to ``path``.
    """
    from resonant_ad.flows.model import FlowMatchingModel
    from resonant_ad.templates.registry import make_template

    record = path.with_suffix(".json")
    if path.is_file() and record.is_file():
        seconds = float(json.loads(record.read_text())["train_seconds"])
        return FlowMatchingModel.load(path, device=device), seconds
    path.parent.mkdir(parents=True, exist_ok=True)
    model_params = {
        **params,
        "device": device,
        "random_state": seed,
        "progress": progress,
        "checkpoint_path": str(path.with_suffix(".ckpt")),
    }
    kind = "data" if signal_region is None else "cr"
    template = make_template(kind, preset=preset, model_params=model_params)
    t0 = time.perf_counter()
    template.fit(train, val, signal_region=signal_region)
    seconds = time.perf_counter() - t0
    model = template.model  # type: ignore[attr-defined]
    model.save(path)
    record.write_text(json.dumps({"train_seconds": seconds, "preset": preset}))
    log.info("trained v_%s (%s preset) in %.0f s: %s", kind, preset, seconds, path.name)
    return model, seconds
