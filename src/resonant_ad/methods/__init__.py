"""The methods of a study, one module each, and the registry that lists them.

- :mod:`~resonant_ad.methods.registry`: :class:`Method` (what a method declares and does)
  and :func:`register` / :func:`get` / :func:`names`;
- :mod:`~resonant_ad.methods.base`: the background-template interface (:class:`Template`,
  :class:`FlowTemplate`) and SR mass sampling;
- one module per method: :mod:`~resonant_ad.methods.data` (``data``),
  :mod:`~resonant_ad.methods.cr` (``cr``), :mod:`~resonant_ad.methods.sigma`
  (``sigma-linear``, ``sigma-context``, ``sigma-poly``), :mod:`~resonant_ad.methods.iad`
  (``iad``), :mod:`~resonant_ad.methods.supervised` (``supervised``),
  :mod:`~resonant_ad.methods.cathode_nf` (``cathode-nf``), :mod:`~resonant_ad.methods.cvae`
  (``cvae``), :mod:`~resonant_ad.methods.rad_ot` (``rad-ot``),
  :mod:`~resonant_ad.methods.ranode` (``r-anode``, ``r-anode-ideal``, ``anode``),
  :mod:`~resonant_ad.methods.sim_nf` (``sim-nf``), :mod:`~resonant_ad.methods.feta`
  (``feta``, built on ``sim-nf``), :mod:`~resonant_ad.methods.salad` (``salad``, the
  simulation reweighted to the data), :mod:`~resonant_ad.methods.curtains_f4f`
  (``curtains-f4f``, built on ``cathode-nf``); :mod:`~resonant_ad.methods.transport`: what
  the transport methods share;
- :mod:`~resonant_ad.methods.families`: the flow templates by name, and loading saved ones.
"""

from __future__ import annotations

from resonant_ad.methods.base import FlowMethod, FlowTemplate, Template, sample_masses
from resonant_ad.methods.cr import CRTemplate
from resonant_ad.methods.data import DataTemplate
from resonant_ad.methods.families import TEMPLATE_NAMES, make_template, template_from_state
from resonant_ad.methods.registry import (
    FitInputs,
    Method,
    RegionInputs,
    default_names,
    get,
    names,
    register,
    unregister,
)
from resonant_ad.methods.sigma import SigmaTemplate

__all__ = [
    "TEMPLATE_NAMES",
    "CRTemplate",
    "DataTemplate",
    "FitInputs",
    "FlowMethod",
    "FlowTemplate",
    "Method",
    "RegionInputs",
    "SigmaTemplate",
    "Template",
    "default_names",
    "get",
    "make_template",
    "names",
    "register",
    "sample_masses",
    "template_from_state",
    "unregister",
]
