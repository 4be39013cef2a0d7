"""``supervised``: the fully supervised classifier, signal against background in the SR."""

from __future__ import annotations

from typing import Any

import numpy as np

from resonant_ad.methods.inputs import RegionInputs
from resonant_ad.methods.registry import Method, register

__all__ = ["SupervisedMethod"]


class SupervisedMethod(Method):
    """The ``[classifier]`` ensemble trained on labelled events: signal from the signal pool
    kept out of the injections, against the background of the SR data. The upper yardstick:
    it knows what the signal looks like."""

    name = "supervised"
    label = "Supervised"
    color = "#7f7f7f"
    linestyle = ":"
    trains_on = "nothing"
    yields = "scores"
    needs_truth = True
    default = True

    def scores(self, model: Any, inputs: RegionInputs) -> np.ndarray:
        from resonant_ad.detect.weakly_supervised import weakly_supervised_scores

        assert inputs.signal is not None, "the engine gives the supervised method the signal"
        background = inputs.data.select(inputs.data.label == 0)
        return weakly_supervised_scores(
            inputs.signal,
            background,
            inputs.test,
            classifier=inputs.classifier(),
            random_state=inputs.seed,
        )


register(SupervisedMethod())
