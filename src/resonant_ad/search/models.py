"""Trained models of a search, stored in the run folder and reused when present."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Any

from resonant_ad.methods.inputs import FitInputs
from resonant_ad.methods.registry import Method
from resonant_ad.storage import read_or_set_aside, write_atomic

__all__ = ["recorded_seconds", "trained_model"]

log = logging.getLogger(__name__)


def recorded_seconds(path: Path) -> float:
    """The training time recorded next to the model stored at ``path``."""
    return float(json.loads(path.with_suffix(".json").read_text())["train_seconds"])


def trained_model(path: Path, method: Method, fit: FitInputs) -> tuple[Any, float]:
    """``(model, training seconds)`` of ``method`` trained on ``fit``, stored at ``path``.

    A model already saved at ``path`` is loaded, with the training time recorded next to
    it (``.json``), and brought up to the settings that need no training
    (:meth:`~resonant_ad.methods.registry.Method.refresh`); one that cannot be read is set
    aside and trained again (:mod:`resonant_ad.storage`). Otherwise it is trained with a
    checkpoint next to ``path``, so an interrupted training resumes from its last epoch,
    and saved (atomically) to ``path``.
    """
    record = path.with_suffix(".json")
    device = fit.config.device
    if record.is_file():
        stored = read_or_set_aside(path, lambda p: (method.load_model(p, device),))
        seconds = read_or_set_aside(record, recorded_seconds)
        if stored is not None and seconds is not None:
            refreshed = method.refresh(stored[0], fit)
            if refreshed is not None:  # stored again, with what changed
                write_atomic(path, lambda tmp: method.save_model(refreshed, tmp))
                return refreshed, seconds
            return stored[0], seconds
    fit = dataclasses.replace(fit, checkpoint=path.with_suffix(".ckpt"))
    t0 = time.perf_counter()
    model = method.fit(fit)
    seconds = time.perf_counter() - t0
    write_atomic(path, lambda tmp: method.save_model(model, tmp))
    summary = {"train_seconds": seconds, "method": method.name, "events": len(fit.train)}
    write_atomic(record, lambda tmp: tmp.write_text(json.dumps(summary)))
    log.info("trained %s in %.0f s: %s", method.shared_model_id, seconds, path.name)
    return model, seconds
