"""Exact event traces on a hand-made world: two electricians, three bookings, fixed durations."""

from __future__ import annotations

import numpy as np
import pytest

from sim.config import load_scenario
from sim.demand import CHANNELS, Arrivals
from sim.geography import haversine_km
from sim.model import Model
from sim.seeds import Streams
from sim.workforce import Workforce

HQ = (26.8467, 80.9462)  # Lucknow
OVERRIDES = [
    "geography.districts=[Lucknow]", "helpline.enabled=false", "money.enabled=false",
    "workforce.response_mean_min=0", "lifecycle.patience_mean_min=1e9", "lifecycle.max_search_min=1e6",
    "lifecycle.cancel_after_assign_prob=0", "lifecycle.rating_prob=0", "lifecycle.price_cv=0",
    "catalog.electrician.service_cv=0", "catalog.electrician.service_min=60",
    "geography.speed_kmh_urban=20", "geography.road_factor=1.0",
]


def world(jobs: list[tuple[float, float, float]], workers: list[tuple[float, float]], sc):
    cats = [k for k, c in sc.catalog.items() if c.enabled]
    e = cats.index("electrician")
    n = len(workers)
    wf = Workforce(
        district_idx=np.zeros(n, dtype=np.int64), skill1=np.full(n, e), skill2=np.full(n, -1),
        active=np.ones(n, dtype=bool), lat=np.array([w[0] for w in workers]), lon=np.array([w[1] for w in workers]),
        shift_start_h=np.zeros(n, dtype=np.int64), shift_end_h=np.full(n, 24), accept_prob=np.ones(n),
        quality=np.full(n, 4.5), names=[f"w{i}" for i in range(n)], phones=np.arange(n, dtype=np.int64))
    m = len(jobs)
    arr = Arrivals(t_min=np.array([j[0] for j in jobs]), category=np.full(m, e), district=np.zeros(m, dtype=np.int64),
                   channel=np.full(m, CHANNELS.index("app")), lat=np.array([j[1] for j in jobs]),
                   lon=np.array([j[2] for j in jobs]), urban=np.ones(m, dtype=bool),
                   call_id=np.full(m, -1))
    return arr, wf


def travel(job, w) -> float:
    return float(haversine_km(job[1], job[2], w[0], w[1])) / 20.0 * 60.0


def test_three_bookings_two_workers_exact_trace():
    sc = load_scenario("baseline", OVERRIDES)
    workers = [HQ, (HQ[0], HQ[1] + 0.05)]            # w1 about 5 km east of w0
    jobs = [(600.0, HQ[0] + 0.01, HQ[1]),             # near w0
            (610.0, HQ[0] + 0.01, HQ[1] + 0.01),      # w0 busy -> w1
            (620.0, HQ[0] - 0.01, HQ[1])]             # both busy -> waits for the first to free
    arr, wf = world(jobs, workers, sc)
    m = Model(sc, Streams(1), arrivals=arr, workforce=wf)
    m.run()
    r = m.rec
    t0 = travel(jobs[0], workers[0])
    t1 = travel(jobs[1], workers[1])
    free0 = 600 + t0 + 60
    free1 = 610 + t1 + 60
    first_free, who = (free0, 0) if free0 <= free1 else (free1, 1)
    t2 = travel(jobs[2], workers[who])
    expected = [
        (0, 600.0, 600 + t0, free0),
        (1, 610.0, 610 + t1, free1),
        (who, first_free, first_free + t2, first_free + t2 + 60),
    ]
    got = [(int(r.worker[b]), r.assigned[b], r.started[b], r.completed[b]) for b in range(3)]
    for g, e in zip(got, expected, strict=True):
        assert g[0] == e[0]
        assert g[1:] == pytest.approx(e[1:], abs=1e-9)
    assert list(r.status) == [1, 1, 1]


def test_tie_goes_to_lower_worker_id_and_decline_redispatches():
    sc = load_scenario("baseline", OVERRIDES)
    # Two workers at the same point: the lower id gets the offer.
    workers = [(HQ[0], HQ[1] + 0.02), (HQ[0], HQ[1] + 0.02)]
    jobs = [(60.0, HQ[0], HQ[1])]
    arr, wf = world(jobs, workers, sc)
    m = Model(sc, Streams(3), arrivals=arr, workforce=wf)
    m.run()
    assert m.rec.worker[0] == 0
    # Worker 0 always declines: the job goes to worker 1 after one declined offer.
    wf.accept_prob[:] = [0.0, 1.0]
    m = Model(sc, Streams(3), arrivals=arr, workforce=wf)
    m.run()
    assert m.rec.worker[0] == 1 and m.rec.offers[0] == 2
    assert list(m.offers.outcome) == [1, 0] and list(m.offers.worker) == [0, 1]


def test_out_of_radius_job_ends_unfulfilled_at_max_search():
    sc = load_scenario("baseline", [*OVERRIDES, "lifecycle.max_search_min=90", "dispatch.params={radius_km: 5}"])
    workers = [(HQ[0] + 0.3, HQ[1])]                  # ~33 km away
    arr, wf = world([(100.0, HQ[0], HQ[1])], workers, sc)
    m = Model(sc, Streams(1), arrivals=arr, workforce=wf)
    m.run()
    assert m.rec.status[0] == 3 and m.rec.ended[0] == pytest.approx(190.0)
    assert m.rec.offers[0] == 0


def test_a_night_booking_is_served_when_a_worker_comes_on_shift_without_searching_overnight():
    """Workers on shift 08:00-20:00; a booking at 21:10 searches once, then its retries every 30
    minutes are skipped while nobody is on shift, and it searches again when the worker comes on
    shift at 08:00 (as the live service's status update offers waiting bookings), before its next
    retry at 08:10: two searches instead of 23."""
    sc = load_scenario("baseline", [*OVERRIDES, "lifecycle.retry_interval_min=30"])
    arr, wf = world([(21 * 60 + 10.0, HQ[0] + 0.01, HQ[1])], [HQ], sc)
    wf.shift_start_h[:], wf.shift_end_h[:] = 8, 20
    m = Model(sc, Streams(1), arrivals=arr, workforce=wf)
    searches = []
    real = m.index.candidates
    m.index.candidates = lambda job, r, now, limit=None: searches.append(now) or real(job, r, now, limit)
    m.run()
    assert m.rec.assigned[0] == pytest.approx(1440.0 + 8 * 60) and m.rec.status[0] == 1
    assert searches == pytest.approx([21 * 60 + 10.0, 1440.0 + 8 * 60])
