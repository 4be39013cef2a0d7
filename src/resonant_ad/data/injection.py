"""The signal-injection protocol: data = background + N_sig signal, train/validation, test set."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from resonant_ad.data.copies import copy_groups, holdout_mask
from resonant_ad.data.events import Events
from resonant_ad.data.regions import SignalRegion
from resonant_ad.errors import InputError

__all__ = [
    "SIGNAL_INJECTION_POOL",
    "SIGNAL_TEST_POOL",
    "Injection",
    "inject_signal",
    "make_injection",
    "make_injections",
    "poisson_replica",
    "split_signal_pool",
]

log = logging.getLogger(__name__)

SIGNAL_INJECTION_POOL = 70_000
"""Signal is injected from the first this many signal events (LHCO protocol)."""
SIGNAL_TEST_POOL = 30_000
"""The last this many signal events are held back for testing."""


@dataclass(frozen=True)
class Injection:
    """One signal injection: the observed data and the labelled test set of one SR.

    ``data`` is all background plus ``n_sig`` signal events over the full ``mjj`` range,
    split 85/15 into ``train``/``val``. ``test`` holds SR events only: held-back signal
    plus background that is not in ``data`` (the extra SR background).
    """

    n_sig: int
    seed: int
    signal_region: SignalRegion
    data: Events
    train: Events
    val: Events
    test: Events

    @property
    def sr_signal(self) -> int:
        """Injected signal events inside the signal region."""
        return int(self.data.label[self.signal_region.contains(self.data.m)].sum())

    @property
    def sr_background(self) -> int:
        in_sr = self.signal_region.contains(self.data.m)
        return int(in_sr.sum()) - self.sr_signal

    @property
    def s_over_b(self) -> float:
        return self.sr_signal / max(self.sr_background, 1)

    @property
    def significance(self) -> float:
        """Naive ``S / sqrt(B)`` in the signal region before any cut."""
        return self.sr_signal / np.sqrt(max(self.sr_background, 1))

    def summary(self) -> str:
        return (
            f"N_sig={self.n_sig} seed={self.seed}: {self.signal_region} holds "
            f"S={self.sr_signal}, B={self.sr_background}, S/B={self.s_over_b:.2e}, "
            f"S/sqrt(B)={self.significance:.2f}; test set {self.test.n_signal} signal + "
            f"{self.test.n_background} background"
        )


def split_signal_pool(signal: Events) -> tuple[Events, Events]:
    """``(injection pool, test pool)``: the first 70k and the last 30k signal events.

    Smaller pools (toy or simulated sets) keep the same 70/30 proportion.
    """
    n = len(signal)
    if n < 2:
        raise InputError(f"the signal pool holds {n} event(s); at least 2 are needed")
    n_inject = min(SIGNAL_INJECTION_POOL, int(0.7 * n))
    n_test = min(SIGNAL_TEST_POOL, n - n_inject)
    return signal.select(slice(0, n_inject)), signal.select(slice(n - n_test, n))


def inject_signal(
    background: Events, signal: Events, n_sig: int, rng: np.random.Generator
) -> Events:
    """Background plus ``n_sig`` signal events drawn from the injection pool, shuffled (no
    signal pool is needed for ``n_sig = 0``: data without signal labels)."""
    if n_sig < 0:
        raise InputError(f"N_sig must be non-negative, got {n_sig}")
    if n_sig == 0:  # the same draws as an empty selection from a pool
        return background.with_label(0).shuffled(rng)
    inject_pool, _ = split_signal_pool(signal)
    if n_sig > len(inject_pool):
        raise InputError(
            f"N_sig = {n_sig} is larger than the signal injection pool of {len(inject_pool)} "
            f"events (the first 70% / 70k of {len(signal)} signal events)"
        )
    injected = inject_pool.select(rng.choice(len(inject_pool), size=n_sig, replace=False))
    return Events.concatenate([background.with_label(0), injected.with_label(1)]).shuffled(rng)


def make_injection(
    background: Events,
    signal: Events,
    n_sig: int,
    *,
    signal_region: SignalRegion,
    seed: int,
    extra_background: Events | None = None,
    val_fraction: float = 0.15,
    holdout_fraction: float = 0.3,
    min_sr_events: int = 100,
) -> Injection:
    """Inject ``n_sig`` signal events into ``background`` following the LHCO protocol.

    The injected events are drawn at random (``seed``) from the first 70k signal events;
    the test signal is the held-back last 30k. The test background is ``extra_background``
    restricted to the SR; without it, ``holdout_fraction`` of the SR background is taken out
    of the data for testing (and said so in the log). The copies of an event (an expanded
    Poisson-bootstrap replica's) are all training or all validation events
    (:mod:`~resonant_ad.data.copies`).
    """
    if not 0 < val_fraction < 1:
        raise InputError(f"validation fraction must be in (0, 1), got {val_fraction}")
    _, test_signal = split_signal_pool(signal)
    rng = np.random.default_rng(seed)
    background = background.with_label(0)
    sr = signal_region
    if extra_background is not None:
        test_background = extra_background.with_label(0).select(sr.contains(extra_background.m))
    else:
        in_sr = np.flatnonzero(sr.contains(background.m))
        held = rng.choice(in_sr, size=int(holdout_fraction * len(in_sr)), replace=False)
        keep = np.ones(len(background), dtype=bool)
        keep[held] = False
        test_background = background.select(held)
        background = background.select(keep)
        log.info(
            "no extra background given: %d SR background events held out of the data for testing",
            len(held),
        )
    data = inject_signal(background, signal, n_sig, rng)
    sr.check(data.m, min_events=min_sr_events)
    if not np.any(sr.contains(background.m)):
        raise InputError(
            f"{sr} holds {n_sig} injected signal events but no background event (background "
            f"masses {background.m.min():.3g}-{background.m.max():.3g} TeV): are the masses "
            "in the right unit?"
        )
    val = holdout_mask(len(data), val_fraction, copy_groups(data.m, data.x), rng)
    test = Events.concatenate(
        [test_signal.with_label(1).select(sr.contains(test_signal.m)), test_background]
    )
    if test.n_background == 0:
        raise InputError(f"no test background events in {sr}")
    return Injection(
        n_sig=n_sig,
        seed=seed,
        signal_region=sr,
        data=data,
        train=data.select(~val),
        val=data.select(val),
        test=test,
    )


def make_injections(
    background: Events,
    signal: Events,
    n_sig: int,
    *,
    signal_region: SignalRegion,
    n_injections: int = 10,
    seed: int = 0,
    extra_background: Events | None = None,
    **kwargs: float,
) -> list[Injection]:
    """``n_injections`` independent injections of ``n_sig`` events (seeds derived from ``seed``)."""
    if n_injections < 1:
        raise InputError(f"number of injections must be at least 1, got {n_injections}")
    seeds = np.random.SeedSequence([seed, n_sig]).generate_state(n_injections)
    return [
        make_injection(
            background,
            signal,
            n_sig,
            signal_region=signal_region,
            seed=int(s),
            extra_background=extra_background,
            **kwargs,  # type: ignore[arg-type]
        )
        for s in seeds
    ]


def poisson_replica(events: Events, seed: int) -> Events:
    """A Poisson-bootstrap replica of ``events``: each event weighted by a draw from
    Poisson(1), the events drawn 0 times left out.

    A replica fluctuates like an independent sample of the same size (to the extent the
    sample describes its distribution), so background-only checks made on replicas include
    the data's own fluctuations, which rerunning the same events with other seeds does not.
    Counts are weighted sums; what trains without weights sees :meth:`Events.expanded`.

    >>> ev = Events(np.arange(10_000.0), np.zeros(10_000), np.zeros(10_000))
    >>> r = poisson_replica(ev, 0)
    >>> 0.6 < len(r) / len(ev) < 0.67, bool(abs(r.weights().sum() - 10_000) < 400)
    (True, True)
    """
    k = np.random.default_rng([seed, 0x5EED]).poisson(1.0, len(events))
    keep = k > 0
    return events.select(keep).with_weight(events.weights()[keep] * k[keep])
