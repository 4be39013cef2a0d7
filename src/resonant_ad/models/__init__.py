"""The background models of the template methods, one module per family, behind one
interface (:mod:`~resonant_ad.models.base`: fit on events, sample features at given masses).

- :mod:`~resonant_ad.models.flow_matching`: the flow-matching model of ``data``, ``cr`` and
  the SIGMA templates, and its view in one SR;
- :mod:`~resonant_ad.models.conditional_flow`: CATHODE's conditional normalizing flow
  (``cathode-nf``, ``sim-nf``); :mod:`~resonant_ad.models.conditioning`: how such models
  see their events;
- :mod:`~resonant_ad.models.cvae`: the conditional VAE (``cvae``);
- :mod:`~resonant_ad.models.ot_plan`: the optimal-transport plan between sidebands
  (``rad-ot``);
- :mod:`~resonant_ad.models.transport`: what the transport models share;
  :mod:`~resonant_ad.models.feta` (``feta``) and :mod:`~resonant_ad.models.mass_transport`
  (``curtains-f4f``);
- :mod:`~resonant_ad.models.transit`: TRANSIT's adversarial autoencoder (``transit``);
- :mod:`~resonant_ad.models.salad`: the reweighted simulation (``salad``).
"""
