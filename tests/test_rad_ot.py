"""``rad-ot``'s plan settings: the sideband width, mini-batch plans, the ``gauss`` space and
the saved state, on the linear Gaussian toy of :mod:`toys` (a few thousand events)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from resonant_ad.errors import InputError
from resonant_ad.models.base import ModelContext
from resonant_ad.models.ot_plan import OTPlan, OTSettings, from_gauss, gauss_knots, to_gauss
from toys import SR, gaussian_toy


@pytest.fixture(scope="module")
def events() -> tuple:
    ev = gaussian_toy(6000, seed=3)
    sb = ev.select(SR.sideband(ev.m))
    return sb.select(slice(0, None, 2)), sb.select(slice(1, None, 2))


def fit(events: tuple, **settings: object) -> OTPlan:
    return OTPlan(OTSettings(**settings), ModelContext(SR)).fit(*events, random_state=0)  # type: ignore[arg-type]


def test_side_width_keeps_only_events_next_to_the_sr(events: tuple) -> None:
    plan = fit(events, side_width=0.2, events_per_side=0, solver="exact")
    assert np.all((plan.m_lo_ >= SR.lo - 0.2) & (plan.m_lo_ < SR.lo))
    assert np.all((plan.m_hi_ <= SR.hi + 0.2) & (plan.m_hi_ > SR.hi))
    wide = fit(events, events_per_side=0, solver="exact")
    assert wide.m_lo_.min() < SR.lo - 0.2 and wide.m_hi_.max() > SR.hi + 0.2
    m = np.concatenate([e.m for e in events])
    n_lo = np.sum((m < SR.lo) & (m >= SR.lo - 0.2))
    assert len(plan.m_lo_) == n_lo  # events_per_side 0: every event of the side


def test_exact_batches_pair_every_event_within_its_batch(events: tuple) -> None:
    plan = fit(events, events_per_side=600, solver="exact", batch=200)
    # 600 per side in 3 batches of 200 x 200: each batch's plan is a matching
    assert len(plan.w_) == 600 and np.allclose(plan.w_, 1 / 600)
    assert sorted(plan.i_.tolist()) == list(range(600)) == sorted(plan.j_.tolist())
    one = fit(events, events_per_side=600, solver="exact")
    # a batch is a smaller problem: the joined plan costs at least the one-solve optimum
    assert plan.mean_cost_ >= one.mean_cost_ - 1e-9


def test_unequal_batches_keep_the_marginals(events: tuple) -> None:
    plan = fit(events, events_per_side=0, solver="exact", batch=300)
    lo = np.bincount(plan.i_, weights=plan.w_, minlength=len(plan.m_lo_))
    hi = np.bincount(plan.j_, weights=plan.w_, minlength=len(plan.m_hi_))
    assert len(plan.m_lo_) != len(plan.m_hi_)
    # every event of a side carries nearly equal mass (batches differ by at most one event)
    assert lo.min() > 0 and lo.max() / lo.min() < 1.1
    assert hi.min() > 0 and hi.max() / hi.min() < 1.1


def test_gauss_space_maps_back_and_interpolates_there(events: tuple) -> None:
    x = np.random.default_rng(1).gamma(2.0, size=(4000, 2))
    knots = gauss_knots(x)
    inner = x[(x > knots[0]).all(1) & (x < knots[-1]).all(1)]
    np.testing.assert_allclose(from_gauss(to_gauss(inner, knots), knots), inner, atol=1e-9)
    plan = fit(events, space="gauss", events_per_side=500, solver="exact")
    assert plan.knots_.shape[1] == plan.x_lo_.shape[1]
    m = np.full(300, 3.5)
    xs, pair = plan.sample_pairs(m, seed=0)
    i, j = plan.i_[pair], plan.j_[pair]
    t = (m - plan.m_lo_[i]) / (plan.m_hi_[j] - plan.m_lo_[i])
    z = to_gauss(plan.x_lo_[i], plan.knots_) * (1 - t[:, None])
    z += to_gauss(plan.x_hi_[j], plan.knots_) * t[:, None]
    np.testing.assert_allclose(xs, from_gauss(z, plan.knots_))
    assert np.all(xs >= plan.knots_[0]) and np.all(xs <= plan.knots_[-1])


def test_plan_with_new_settings_round_trips(events: tuple, tmp_path: Path) -> None:
    plan = fit(events, space="gauss", side_width=0.3, batch=100, events_per_side=300)
    plan.save(tmp_path / "plan.pt")
    back = OTPlan.load(tmp_path / "plan.pt")
    assert back.settings == plan.settings
    m = np.linspace(3.3, 3.7, 50)
    np.testing.assert_array_equal(back.sample(m, seed=4), plan.sample(m, seed=4))


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"space": "whitened"}, "OT space"),
        ({"batch": 1}, "batch = 1"),
        ({"side_width": -0.1}, "side_width"),
        ({"events_per_side": 1}, "events_per_side = 1"),
    ],
)
def test_bad_settings_are_refused(settings: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        OTSettings(**settings)
