"""One demand, channels afterwards; helpline calls from their causes (issue 12)."""

from __future__ import annotations

import pytest

from sim.config import load_scenario
from sim.helpline.causes import expected_calls_per_hour
from sim.model import Model
from sim.seeds import Streams

BOOKING_RELATED = ("new_booking", "booking_status", "complaint")


def _month(*sets: str) -> Model:
    sc = load_scenario("baseline", ["horizon_days=30", "money.enabled=false", "output.calls=full", *sets])
    return Model(sc, Streams(7))


def _counts(m: Model) -> dict[str, float]:
    calls = m.calls
    fresh = calls[calls["redial_of"].isna()]
    out = {t: float((fresh["type"] == t).sum()) for t in BOOKING_RELATED}
    out["helpline_bookings"] = float((m.arrivals.channel == 2).sum())
    out["all_calls"] = float(len(fresh))
    return out


@pytest.fixture(scope="module")
def pair():
    return _counts(_month()), _counts(_month("demand.scale=3"))


def test_statewide_surge_raises_helpline_bookings_and_booking_calls_in_proportion(pair):
    base, surge = pair
    # A month holds ~310 helpline bookings and ~280 complaints, and every booking-related count
    # shares the base month's draw of attempts: ±20% is about three standard errors.
    assert surge["helpline_bookings"] / base["helpline_bookings"] == pytest.approx(3.0, rel=0.2)
    for t in BOOKING_RELATED:
        assert surge[t] / base[t] == pytest.approx(3.0, rel=0.2), t
    # calls with other causes do not follow a demand surge
    other_base = base["all_calls"] - sum(base[t] for t in BOOKING_RELATED)
    other_surge = surge["all_calls"] - sum(surge[t] for t in BOOKING_RELATED)
    assert other_surge / other_base == pytest.approx(1.0, rel=0.05)


def test_an_overloaded_helpline_loses_bookings(pair):
    base, _ = pair
    few = "helpline.agents_by_hour=" + str([0] * 8 + [1] * 12 + [0] * 4)
    starved = _counts(_month(few))
    assert starved["helpline_bookings"] < 0.6 * base["helpline_bookings"]


def test_expected_calls_by_cause():
    sc = load_scenario("baseline")
    c = sc.helpline.causes
    per_h = 11_900 / 8760
    e = expected_calls_per_hour(c, per_h, 0.4, 154 / 24, 52_349)
    assert e["new_booking"] == pytest.approx(per_h * 0.4)
    assert e["booking_status"] == pytest.approx(per_h * c.followups_per_booking)
    double = expected_calls_per_hour(c, 2 * per_h, 0.4, 154 / 24, 52_349)
    for t in BOOKING_RELATED:
        assert double[t] == pytest.approx(2 * e[t])
    assert double["other"] == e["other"]
    # the baseline year's fresh calls come out near D9's 2,800 a day (before redials)
    assert sum(e.values()) * 24 == pytest.approx(2800, rel=0.1)
