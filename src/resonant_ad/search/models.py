"""Trained models of a search, stored in the run folder and reused when present."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from resonant_ad.methods.registry import FitInputs, Method

__all__ = ["recorded_seconds", "trained_model"]

log = logging.getLogger(__name__)


def recorded_seconds(path: Path) -> float:
    """The training time recorded next to the model stored at ``path``."""
    return float(json.loads(path.with_suffix(".json").read_text())["train_seconds"])


def trained_model(path: Path, method: Method, fit: FitInputs) -> tuple[Any, float]:
    """``(model, training seconds)`` of ``method`` trained on ``fit``, stored at ``path``.

    A model already saved at ``path`` is loaded, with the training time recorded next to
    it (``.json``). Otherwise it is trained with a checkpoint next to ``path``, so an
    interrupted training resumes from its last epoch, and saved (atomically) to ``path``.
    """
    record = path.with_suffix(".json")
    device = fit.config.device
    if path.is_file() and record.is_file():
        return method.load_model(path, device), recorded_seconds(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fit = dataclasses.replace(fit, checkpoint=path.with_suffix(".ckpt"))
    t0 = time.perf_counter()
    model = method.fit(fit)
    seconds = time.perf_counter() - t0
    tmp = path.with_name(path.name + ".tmp")
    method.save_model(model, tmp)
    os.replace(tmp, path)
    record.write_text(
        json.dumps({"train_seconds": seconds, "method": method.name, "events": len(fit.train)})
    )
    log.info("trained %s in %.0f s: %s", method.shared_model_id, seconds, path.name)
    return model, seconds
