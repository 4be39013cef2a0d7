"""Physics simulator: Pythia 8 QCD dijets and W' -> X Y signal, FastJet jets, LHCO-format files.

Pythia (``pythia8mc``) and FastJet are optional dependencies (``resonant-ad[simulate]``);
they are imported only when events are generated.
"""

from __future__ import annotations

from resonant_ad.data.simulate.jets import COLUMNS, Jet, JetSelection, select_event
from resonant_ad.data.simulate.nsubjettiness import exclusive_kt_axes, nsubjettiness, tau_n
from resonant_ad.data.simulate.pythia import GeneratorConfig, SignalModel, pythia_settings
from resonant_ad.data.simulate.runner import SimulationSummary, merge_shards, simulate

__all__ = [
    "COLUMNS",
    "GeneratorConfig",
    "Jet",
    "JetSelection",
    "SignalModel",
    "SimulationSummary",
    "exclusive_kt_axes",
    "merge_shards",
    "nsubjettiness",
    "pythia_settings",
    "select_event",
    "simulate",
    "tau_n",
]
