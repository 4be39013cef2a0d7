"""The density methods' pieces (R-ANODE, ANODE): a signal density and the signal fraction
``w`` fitted over a fixed background density.

- :mod:`~resonant_ad.density.mixture`: :class:`SignalMixture`, the fit of ``p_S`` and ``w``;
- :mod:`~resonant_ad.density.signal`: :class:`SignalDensity`, the fitted ``p_S`` and its
  score and samples;
- :mod:`~resonant_ad.density.folds`: one fold's training (warm-up and restarts of ``w``);
- :mod:`~resonant_ad.density.likelihood`: the signal flow and the mixture likelihood;
- :mod:`~resonant_ad.density.tilt`: the exponential tilt of ``p_B``;
- :mod:`~resonant_ad.density.profile`: the likelihood scan of ``w`` and its interval;
- :mod:`~resonant_ad.density.null`: :class:`SpuriousSignal`, the ``w`` of fits where there
  is no signal, as ``w``'s systematic and the null distribution of the test of ``w = 0``;
- :mod:`~resonant_ad.density.ratio`: density ratios from a classifier;
- :mod:`~resonant_ad.density.correction`: :class:`SidebandCorrection` of ``p_B``;
- :mod:`~resonant_ad.density.background`: :func:`background_density`, ``log p_B + log p(m)``
  of an SR's events.
"""

from __future__ import annotations

from resonant_ad.density.background import REFERENCE_FACTOR, background_density
from resonant_ad.density.correction import Sampler, SidebandCorrection
from resonant_ad.density.folds import Fold, FoldTrainer
from resonant_ad.density.likelihood import MixtureLikelihood, SignalFlow
from resonant_ad.density.mixture import SignalMixture
from resonant_ad.density.null import NullFit, SpuriousSignal, wilks_p_value
from resonant_ad.density.profile import Profile, capture_scan, interval, scan
from resonant_ad.density.ratio import odds, ratio_inputs, weighted_auc
from resonant_ad.density.signal import SignalDensity
from resonant_ad.density.tilt import Tilt, fit_tilt, tilt_features

__all__ = [
    "REFERENCE_FACTOR",
    "Fold",
    "FoldTrainer",
    "MixtureLikelihood",
    "NullFit",
    "Profile",
    "Sampler",
    "SidebandCorrection",
    "SignalDensity",
    "SignalFlow",
    "SignalMixture",
    "SpuriousSignal",
    "Tilt",
    "background_density",
    "capture_scan",
    "fit_tilt",
    "interval",
    "odds",
    "ratio_inputs",
    "scan",
    "tilt_features",
    "weighted_auc",
    "wilks_p_value",
]
