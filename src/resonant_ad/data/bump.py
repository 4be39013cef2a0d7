"""An artificial signal for data without labels: a Gaussian bump in ``mjj`` with a localised
shape in the features.

The injection test of real data (the SIGMA paper's conclusions, section IV) adds a signal
whose every event is known to the data and reruns the search: a template trained on the
signal region itself (``data``) should learn the bump, one interpolated from the sidebands
(``sigma-*``) or trained on them (``cr``) should not, and the scan should find as many bump
events as were injected. The bump is built from the data alone, so the test needs no
simulation:

- ``mjj`` is Gaussian around ``mass`` with standard deviation ``width``;
- each feature is Gaussian around ``centre``, a quantile of that feature among the data near
  ``mass`` (a point inside the data's own distribution), with a standard deviation
  ``spread`` that is a fraction of the feature's spread there (0.3 by default: on the dev
  sample a cluster of 0.1 was learned by no template, so it would not test what they
  learn), the features independent: a cluster, as a resonance's decay products make
  (two-prong jets of fixed masses);
- the number of events is given, or chosen for a significance ``S / sqrt(B)`` against the
  data within ``mass +- 2 width``.

The bump's *core* (:meth:`ArtificialBump.in_core`: every feature within two spreads of its
centre) is where a template that learned the bump puts more events than the data's own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from resonant_ad.data.events import Events
from resonant_ad.errors import InputError

__all__ = ["ArtificialBump", "artificial_bump"]

CORE = 2.0
"""The core of a bump: every feature within this many spreads of its centre."""


@dataclass(frozen=True)
class ArtificialBump:
    """A Gaussian bump in ``mjj`` (TeV) and the features: what :func:`artificial_bump`
    chose."""

    mass: float
    width: float
    centre: tuple[float, ...]
    spread: tuple[float, ...]
    n_events: int
    feature_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.n_events < 1:
            raise InputError(f"a bump needs at least one event, got {self.n_events}")

    def sample(self, rng: np.random.Generator) -> Events:
        """``n_events`` bump events (label 1)."""
        n = self.n_events
        m = rng.normal(self.mass, self.width, n)
        x = rng.normal(self.centre, self.spread, (n, len(self.centre)))
        return Events(m, x, np.ones(n, dtype=np.int64), self.feature_names)

    def inject(self, data: Events, seed: int) -> Events:
        """The data (label 0, whatever they carried) plus the bump's events (label 1),
        shuffled; weighted data keep their weights, the bump's events weigh 1."""
        rng = np.random.default_rng([seed, 0xB0B])
        bump = self.sample(rng)
        if data.weight is not None:
            bump = bump.with_weight(np.ones(len(bump)))
        return Events.concatenate([data.with_label(0), bump]).shuffled(rng)

    def in_core(self, x: np.ndarray) -> np.ndarray:
        """Whether each row of ``x`` lies in the bump's core (every feature within
        :data:`CORE` spreads of its centre)."""
        z = np.abs(x - np.asarray(self.centre)) / np.asarray(self.spread)
        return np.asarray(np.all(z <= CORE, axis=1))

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def artificial_bump(
    data: Events,
    mass: float,
    width: float | None = None,
    *,
    significance: float = 3.0,
    quantiles: float | Sequence[float] = 0.3,
    relative_spread: float = 0.3,
) -> ArtificialBump:
    """A bump at ``mass`` made to the data's measure (see the module docstring).

    ``width`` defaults to 4% of ``mass`` (a dijet resonance's resolution); the number of
    events is ``significance * sqrt(B)`` for the data's ``B`` within ``mass +- 2 width``
    (another number: ``dataclasses.replace(bump, n_events=n)``). The centre of
    feature ``j`` is the ``quantiles[j]`` quantile (one number: for every feature) of the
    data there; its spread ``relative_spread`` times their standard deviation.

    >>> rng = np.random.default_rng(0)
    >>> data = Events(rng.uniform(2, 5, 9000), rng.normal(0, 1, (9000, 2)), np.zeros(9000))
    >>> b = artificial_bump(data, 3.5)
    >>> round(b.width, 3), 110 < b.n_events < 135, b.spread[0] < 0.31
    (0.14, True, True)
    """
    width = 0.04 * mass if width is None else width
    if not (mass > 0 and width > 0):
        raise InputError(f"a bump needs a positive mass and width, got {mass:g} and {width:g}")
    near = data.select(np.abs(data.m - mass) <= 2 * width)
    if len(near) < 10:
        raise InputError(
            f"a bump at {mass:g} TeV: only {len(near)} events of the data within "
            f"{mass:g} +- {2 * width:g} TeV to shape it after"
        )
    weights = near.weights()
    if significance <= 0:
        raise InputError(f"a bump's significance must be positive, got {significance:g}")
    q = np.broadcast_to(np.asarray(quantiles, dtype=float), (near.x.shape[1],))
    if np.any((q <= 0) | (q >= 1)):
        raise InputError(f"the bump's feature quantiles must lie in (0, 1), got {list(q)}")
    centre = [_weighted_quantile(near.x[:, j], weights, q[j]) for j in range(near.x.shape[1])]
    mean = np.average(near.x, axis=0, weights=weights)
    std = np.sqrt(np.average((near.x - mean) ** 2, axis=0, weights=weights))
    spread = relative_spread * np.where(std > 0, std, 1.0)
    return ArtificialBump(
        float(mass),
        float(width),
        tuple(float(c) for c in centre),
        tuple(float(s) for s in spread),
        math.ceil(significance * math.sqrt(float(weights.sum()))),
        tuple(data.feature_names),
    )


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, q * cum[-1])])
