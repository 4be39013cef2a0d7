"""The methods of a study, one declarative module each, and the registry that lists them.

- :mod:`~resonant_ad.methods.registry`: :class:`Method` (what a method declares; the
  engine's shared work behind it) and :func:`register` / :func:`get` / :func:`names`;
- :mod:`~resonant_ad.methods.inputs`: what a method is handed (:class:`FitInputs`,
  :class:`RegionInputs`);
- one module per method: :mod:`~resonant_ad.methods.data` (``data``),
  :mod:`~resonant_ad.methods.cr` (``cr``), :mod:`~resonant_ad.methods.sigma`
  (``sigma-linear``, ``sigma-context``, ``sigma-poly``; what the three flow-matching
  modules share: :mod:`~resonant_ad.methods.flow_matching`),
  :mod:`~resonant_ad.methods.iad` (``iad``), :mod:`~resonant_ad.methods.supervised`
  (``supervised``), :mod:`~resonant_ad.methods.cathode_nf` (``cathode-nf``),
  :mod:`~resonant_ad.methods.cvae` (``cvae``), :mod:`~resonant_ad.methods.rad_ot`
  (``rad-ot``), :mod:`~resonant_ad.methods.ranode` (``r-anode``, ``r-anode-ideal``,
  ``anode``), :mod:`~resonant_ad.methods.sim_nf` (``sim-nf``),
  :mod:`~resonant_ad.methods.feta` (``feta``, built on ``sim-nf``),
  :mod:`~resonant_ad.methods.salad` (``salad``, the simulation reweighted to the data),
  :mod:`~resonant_ad.methods.curtains_f4f` (``curtains-f4f``, built on ``cathode-nf``),
  :mod:`~resonant_ad.methods.transit` (``transit``, sideband events moved by an adversarial
  autoencoder).

Their background models live in :mod:`resonant_ad.models`.
"""

from __future__ import annotations

from resonant_ad.methods.inputs import FitInputs, RegionInputs
from resonant_ad.methods.registry import (
    Method,
    default_names,
    get,
    names,
    register,
    unregister,
)
from resonant_ad.models.base import sample_masses

__all__ = [
    "FitInputs",
    "Method",
    "RegionInputs",
    "default_names",
    "get",
    "names",
    "register",
    "sample_masses",
    "unregister",
]
