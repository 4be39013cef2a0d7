"""The background density of the density methods in an SR.

:func:`background_density` computes ``log p_B(x | m) + log p(m)`` of an SR's training,
validation and test events under a background model's exact density, with ``p(m)`` from the
SR data's masses or a dijet fit of the sidebands (:mod:`~resonant_ad.data.spectrum`), ``p_B``
optionally corrected by the ratio of data to the model learned in the sidebands
(:class:`~resonant_ad.density.correction.SidebandCorrection`), and a reference sample of the
model in the SR; it is a task of the study's graph, stored in the run folder's
``densities`` cache.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from resonant_ad.data.events import Events
from resonant_ad.data.spectrum import MassDensity, SidebandMassDensity
from resonant_ad.density.correction import SidebandCorrection
from resonant_ad.methods.inputs import BackgroundDensity, RegionInputs
from resonant_ad.methods.registry import Method
from resonant_ad.search.cache import Cache
from resonant_ad.search.seeds import Stream, stream_seed

__all__ = ["REFERENCE_FACTOR", "background_density"]


REFERENCE_FACTOR = 2
"""Events of the background model drawn per SR data event: the reference sample that
normalises the tilt of ``p_B`` and the sideband correction."""


def background_density(
    root: str,
    key: str,
    method: Method,
    model: Any,
    region: RegionInputs,
    fit_events: tuple[Events, Events],
    sidebands: tuple[Events, Events] | None = None,
    mass_sidebands: Events | None = None,
) -> BackgroundDensity:
    """``log p_B(x | m) + log p(m)`` of an SR's training, validation and test events
    under ``method``'s model, ``p(m)`` from the SR data's masses or (``[density] mass =
    "sidebands"``) the dijet fit of the ``mass_sidebands`` data, to which the tilt's
    reference is then resampled; with ``[density] correction = "sidebands"``, ``p_B``
    corrected by the ratio learned on the ``sidebands`` data (training, validation) against
    the model's samples there. Computed once and kept under ``key`` in the cache of the run
    folder ``root``."""

    def compute() -> dict[str, np.ndarray]:
        t0 = time.perf_counter()
        sr, d = region.region, region.config.density
        data_mass = MassDensity(sr.lo, sr.hi).fit(region.data.m)
        mass: MassDensity | SidebandMassDensity = data_mass
        if mass_sidebands is not None:
            mass = SidebandMassDensity(sr.lo, sr.hi, d.mass_width).fit(mass_sidebands.m)
        parts = (*fit_events, region.test)
        # no test events where only the fit is wanted (the null fits in validation windows)
        log_p = [method.log_density(model, region, ev) if len(ev) else np.zeros(0) for ev in parts]
        out: dict[str, np.ndarray] = {}
        ref = None
        if d.tilt > 0 or sidebands is not None:
            ref = method.template(model, region, REFERENCE_FACTOR * len(region.data))
        if sidebands is not None:
            assert ref is not None
            correction = SidebandCorrection(d.correction_members, d.correction_samples)
            correction.fit(*sidebands, model, seed=stream_seed(region.seed, Stream.CORRECTION))
            log_p, ref = correction.correct(log_p, list(parts), ref)
            out.update(
                {f"correction_{k}": np.array(v) for k, v in correction.diagnostics().items()}
            )
        for name, lp, ev in zip(("train", "val", "test"), log_p, parts, strict=True):
            out[f"mass_{name}"] = mass.log_prob(ev.m)
            out[name] = lp + out[f"mass_{name}"]
        if ref is not None and d.tilt > 0:
            if mass_sidebands is not None:
                # the template's masses follow the SR data's: resampled to the background's p(m)
                ratio = np.exp(mass.log_prob(ref.m) - data_mass.log_prob(ref.m))
                gen = np.random.default_rng(stream_seed(region.seed, Stream.CORRECTION))
                ref = ref.select(gen.choice(len(ref), len(ref), p=ratio / ratio.sum()))
            out["reference_x"], out["reference_m"] = ref.x, ref.m
        out["seconds"] = np.array(time.perf_counter() - t0)
        return out

    d = Cache(root).arrays("densities", key, compute)
    reference = None
    if "reference_x" in d:
        n_ref = len(d["reference_m"])
        reference = Events(d["reference_m"], d["reference_x"], np.zeros(n_ref, dtype=np.int64))
    prefix = "correction_"
    correction = {k.removeprefix(prefix): float(v) for k, v in d.items() if k.startswith(prefix)}
    return BackgroundDensity(
        method.name,
        d["train"],
        d["val"],
        d["test"],
        float(d["seconds"]),
        reference,
        correction or None,
        (d["mass_train"], d["mass_val"], d["mass_test"]) if "mass_train" in d else None,
    )
