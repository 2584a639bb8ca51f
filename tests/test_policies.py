"""Dispatch policies: their choice on tiny hand-made cases, in isolation and inside the model."""

from __future__ import annotations

import numpy as np
import pytest

from sim.config import load_scenario
from sim.demand import CHANNELS, Arrivals
from sim.errors import ScenarioError
from sim.model import Model
from sim.policies import Candidates, JobRequest, make_policy, policy_names
from sim.policies.batch import assign_min_distance
from sim.seeds import Streams
from sim.worker_index import WorkerIndex, WorkerState
from sim.workforce import Workforce

LKO = (26.8467, 80.9462)   # Lucknow HQ [deg]
KM_LON = 0.01005           # degrees of longitude per km at Lucknow's latitude (approx.)
JOB = JobRequest(0, "electrician", "Lucknow", *LKO, 0.0)
BASE = [
    "geography.districts=[Lucknow]", "helpline.enabled=false", "money.enabled=false",
    "workforce.response_mean_min=0", "lifecycle.patience_mean_min=1e9", "lifecycle.max_search_min=1e6",
    "lifecycle.cancel_after_assign_prob=0", "lifecycle.rating_prob=0", "lifecycle.price_cv=0",
    "catalog.electrician.service_cv=0", "catalog.electrician.service_min=60", "geography.road_factor=1.0",
]


def cands(rows: list[tuple[int, float, float, int, float, int]]) -> Candidates:
    """Candidates from ``(worker_id, km, rating, gross_paise, idle_since_min, jobs)`` rows."""
    return Candidates.from_rows(rows)


# ------------------------------------------------------------------ registry and params


def test_all_five_policies_are_registered():
    assert {"nearest", "rating_weighted", "fair", "batch", "broadcast"} <= set(policy_names())


@pytest.mark.parametrize("name, params, field", [
    ("rating_weighted", {"alpha": 1.5}, "alpha"),
    ("fair", {"criterion": "random"}, "criterion"),
    ("batch", {"window_s": 0}, "window_s"),
    ("broadcast", {"k": 0}, "k"),
    ("broadcast", {"kk": 2}, "kk"),
])
def test_bad_params_name_the_field(name, params, field):
    with pytest.raises(ScenarioError, match=rf"dispatch\.params\.{field}"):
        make_policy(name, params)


def test_empty_candidates_leave_the_job_waiting():
    for name in policy_names():
        assert make_policy(name).choose(JOB, Candidates.empty(), 0.0) == []


# ------------------------------------------------------------------ rating_weighted


def test_rating_weighted_trades_distance_for_rating():
    c = cands([(7, 1.0, 3.0, 0, 0.0, 0), (3, 2.0, 5.0, 0, 0.0, 0)])
    assert make_policy("rating_weighted", {"alpha": 0.0}).choose(JOB, c, 0) == [7]   # pure distance
    assert make_policy("rating_weighted", {"alpha": 1.0}).choose(JOB, c, 0) == [3]   # pure rating
    # alpha 0.5, scale 5 km: 7 scores 0.5*0.2 + 0.5*0.5 = 0.35, 3 scores 0.5*0.4 + 0 = 0.2
    assert make_policy("rating_weighted", {"alpha": 0.5, "distance_scale_km": 5}).choose(JOB, c, 0) == [3]
    # a 1-star gap is worth less than 20 km at scale 1 km and alpha 0.5
    far = cands([(7, 1.0, 4.0, 0, 0.0, 0), (3, 21.0, 5.0, 0, 0.0, 0)])
    assert make_policy("rating_weighted", {"alpha": 0.5, "distance_scale_km": 1}).choose(JOB, far, 0) == [7]


def test_rating_weighted_ties_go_to_nearer_then_lower_id():
    c = cands([(9, 1.0, 4.0, 0, 0.0, 0), (2, 1.0, 4.0, 0, 0.0, 0), (1, 3.0, 4.0, 0, 0.0, 0)])
    assert make_policy("rating_weighted", {"alpha": 1.0}).choose(JOB, c, 0) == [2]


# ------------------------------------------------------------------ fair


def test_fair_gives_the_idle_worker_the_job():
    # worker 4 is nearest but has earned Rs 900; worker 8 has earned nothing.
    c = cands([(4, 0.5, 4.5, 90_000, 10.0, 3), (8, 4.0, 4.5, 0, 500.0, 0), (6, 6.0, 4.5, 20_000, 5.0, 1)])
    assert make_policy("nearest").choose(JOB, c, 600) == [4]
    assert make_policy("fair").choose(JOB, c, 600) == [8]
    assert make_policy("fair", {"criterion": "longest_idle"}).choose(JOB, c, 600) == [6]   # free since t=5
    # the sharing radius limits who competes on fairness
    assert make_policy("fair", {"share_radius_km": 1.0}).choose(JOB, c, 600) == [4]
    assert make_policy("fair", {"share_radius_km": 0.1}).choose(JOB, c, 600) == [4]        # nobody: nearest


def test_fair_ties_go_to_nearer_then_lower_id():
    c = cands([(5, 2.0, 4.0, 0, 0.0, 0), (3, 2.0, 4.0, 0, 0.0, 0), (1, 1.0, 4.0, 100, 0.0, 0)])
    assert make_policy("fair").choose(JOB, c, 0) == [3]


# ------------------------------------------------------------------ broadcast


def test_broadcast_offers_the_k_nearest():
    c = cands([(5, 3.0, 4, 0, 0, 0), (1, 1.0, 4, 0, 0, 0), (9, 2.0, 4, 0, 0, 0), (2, 2.0, 4, 0, 0, 0)])
    assert make_policy("broadcast", {"k": 3}).choose(JOB, c, 0) == [1, 2, 9]
    assert make_policy("broadcast", {"k": 10}).choose(JOB, c, 0) == [1, 2, 9, 5]


# ------------------------------------------------------------------ batch


def test_batch_beats_greedy_where_order_matters():
    # On a line: job A at 0 km, job B at 1.9 km, worker 0 at 1 km, worker 1 at -1 km.
    # Greedy in arrival order: A takes worker 0 (1 km), B gets worker 1 (2.9 km) = 3.9 km.
    # Optimal: A takes worker 1 (1 km), B takes worker 0 (0.9 km) = 1.9 km.
    ca = cands([(0, 1.0, 4, 0, 0, 0), (1, 1.0, 4, 0, 0, 0)])
    cb = cands([(0, 0.9, 4, 0, 0, 0), (1, 2.9, 4, 0, 0, 0)])
    jobs = [JOB, JobRequest(1, "electrician", "Lucknow", *LKO, 0.0)]
    greedy = make_policy("nearest").choose_batch(jobs, [ca, cb], 0)
    best = make_policy("batch").choose_batch(jobs, [ca, cb], 0)
    assert greedy == [[0], [1]]
    assert best == [[1], [0]]


def test_batch_places_most_jobs_and_never_reuses_a_worker():
    c0 = cands([(10, 1.0, 4, 0, 0, 0), (11, 5.0, 4, 0, 0, 0)])
    c1 = cands([(10, 9.0, 4, 0, 0, 0)])            # only worker 10 can reach job 1
    c2 = Candidates.empty()                        # nobody for job 2
    assert assign_min_distance([c0, c1, c2]) == [11, 10, -1]
    # more jobs than workers: the nearer pairing wins, the rest wait
    assert assign_min_distance([cands([(4, 3.0, 4, 0, 0, 0)]), cands([(4, 1.0, 4, 0, 0, 0)])]) == [-1, 4]
    assert assign_min_distance([]) == []
    assert make_policy("batch", {"window_s": 90}).batch_window_min == pytest.approx(1.5)


def test_batch_assignment_is_optimal_on_random_cases():
    from itertools import permutations

    rng = np.random.default_rng(5)
    for _ in range(30):
        d = rng.uniform(0, 10, (3, 4))
        lists = [cands([(w, float(d[i, w]), 4, 0, 0, 0) for w in range(4)]) for i in range(3)]
        got = assign_min_distance(lists)
        brute = min(sum(d[i, p[i]] for i in range(3)) for p in permutations(range(4), 3))
        assert sum(d[i, w] for i, w in enumerate(got)) == pytest.approx(brute)


# ------------------------------------------------------------------ inside the model


def world(sc, jobs, workers, quality=None, accept=None):
    """Arrivals and workforce of hand-made electricians; ``jobs``: (t_min, km_east), ``workers``: km_east."""
    e = [k for k, c in sc.catalog.items() if c.enabled].index("electrician")
    n, m = len(workers), len(jobs)
    wf = Workforce(
        district_idx=np.zeros(n, dtype=np.int64), skill1=np.full(n, e), skill2=np.full(n, -1),
        active=np.ones(n, dtype=bool), lat=np.full(n, LKO[0]), lon=LKO[1] + KM_LON * np.asarray(workers),
        shift_start_h=np.zeros(n, dtype=np.int64), shift_end_h=np.full(n, 24),
        accept_prob=np.ones(n) if accept is None else np.asarray(accept, dtype=float),
        quality=np.full(n, 4.0) if quality is None else np.asarray(quality, dtype=float),
        names=[f"w{i}" for i in range(n)], phones=np.arange(n, dtype=np.int64))
    arr = Arrivals(t_min=np.array([j[0] for j in jobs], dtype=float), category=np.full(m, e),
                   district=np.zeros(m, dtype=np.int64), channel=np.full(m, CHANNELS.index("app")),
                   lat=np.full(m, LKO[0]), lon=LKO[1] + KM_LON * np.array([j[1] for j in jobs]),
                   urban=np.ones(m, dtype=bool), call_id=np.full(m, -1, dtype=np.int64))
    return arr, wf


def simulate(policy_overrides, jobs, workers, extra=(), **kw) -> Model:
    sc = load_scenario("baseline", [*BASE, *policy_overrides, *extra])
    arr, wf = world(sc, jobs, workers, **kw)
    m = Model(sc, Streams(1), arrivals=arr, workforce=wf)
    m.run()
    return m


def test_batch_travels_less_than_nearest_in_the_model():
    jobs = [(600.0, 0.0), (600.5, 1.9)]               # B arrives 30 s after A
    workers = [1.0, -1.0]
    near = simulate(["dispatch.policy=nearest"], jobs, workers)
    batch = simulate(["dispatch.policy=batch", "dispatch.params.window_s=120"], jobs, workers)
    assert list(near.rec.worker) == [0, 1] and list(batch.rec.worker) == [1, 0]
    assert np.nansum(batch.rec.travel_km) < np.nansum(near.rec.travel_km) - 1.5
    assert (batch.rec.assigned >= 600.5).all()        # decided at the end of the window


def test_fair_gives_the_second_job_to_the_idle_worker_in_the_model():
    jobs = [(600.0, 0.0), (900.0, 0.0)]               # worker 0 is free again long before job 2
    workers = [0.5, 3.0]
    near = simulate(["dispatch.policy=nearest"], jobs, workers)
    fair = simulate(["dispatch.policy=fair"], jobs, workers)
    assert list(near.rec.worker) == [0, 0]
    assert list(fair.rec.worker) == [0, 1]
    idle = simulate(["dispatch.policy=fair", "dispatch.params.criterion=longest_idle"], jobs, workers)
    assert list(idle.rec.worker) == [0, 1]


def test_broadcast_first_acceptance_wins_in_the_model():
    # Worker 0 (nearest) always declines; broadcast to 2 places the job in one round.
    jobs = [(600.0, 0.0)]
    slow = ["workforce.response_mean_min=1"]   # answers take time, so rounds are visible
    m = simulate(["dispatch.policy=broadcast", "dispatch.params.k=2"], jobs, [0.5, 1.0, 2.0], slow,
                 accept=[0.0, 1.0, 1.0])
    assert m.rec.worker[0] == 1 and m.rec.offers[0] == 2
    assert list(m.offers.worker) == [0, 1] and len(set(m.offers.offered)) == 1
    seq = simulate(["dispatch.policy=nearest"], jobs, [0.5, 1.0, 2.0], slow, accept=[0.0, 1.0, 1.0])
    assert seq.rec.worker[0] == 1 and seq.offers.offered[1] > seq.offers.offered[0]


def test_ratings_feed_back_into_rating_weighted_choices():
    # Both start at the same prior rating (new workers show the workforce's mean quality);
    # worker 0 (nearer) does poor work.  After one rated job its shown rating falls and the
    # next job goes to worker 1.
    sc = load_scenario("baseline", [*BASE, "dispatch.policy=rating_weighted", "dispatch.params.alpha=0.5",
                                    "dispatch.params.distance_scale_km=5", "lifecycle.rating_prob=1",
                                    "workforce.rating_prior_weight=1", "workforce.quality_mean=4"])
    arr, wf = world(sc, [(600.0, 0.0), (900.0, 0.0)], [1.0, 1.5], quality=[1.0, 5.0])
    m = Model(sc, Streams(1), arrivals=arr, workforce=wf)
    assert list(m.state.rating) == [4.0, 4.0]
    m.run()
    assert list(m.rec.worker) == [0, 1]
    assert m.rec.rating[0] <= 3 and m.state.rating[0] < 4.0


def test_rating_updates_are_visible_to_the_next_candidates_call():
    sc = load_scenario("baseline", BASE)
    _, wf = world(sc, [(0.0, 0.0)], [1.0, 1.5])
    st = WorkerState(2, 4.0, 1.0)
    idx = WorkerIndex(wf, tuple(k for k, c in sc.catalog.items() if c.enabled), st)
    pol = make_policy("rating_weighted", {"alpha": 0.5, "distance_scale_km": 5})
    assert pol.choose(JOB, idx.candidates(JOB, 20, 600), 600) == [0]
    st.add_rating(0, 1.0)
    c = idx.candidates(JOB, 20, 600)
    assert c.rating[0] == pytest.approx(2.5)
    assert pol.choose(JOB, c, 600) == [1]
