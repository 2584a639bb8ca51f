"""The same policy, given the same workers and bookings, picks the same worker in the twin and live.

Every registered policy runs a small hand-made world through the twin (``sim.model``), then
the reference deployment (a real server process) is driven through the same timeline in
event order: each booking is created when the twin created it, and accepted, started,
completed and rated as in the twin.  The worker the deployment offers each booking to must
be the twin's first choice for ≥ 99% of bookings.  The world keeps the comparison exact:
every worker accepts at once (``accept_prob`` 1, no response delay), prices have no spread
(the deployment charges the catalog price) and no booking is cancelled, so the only state a
policy sees — who is free, distances, shown ratings (``sim.ratings``), gross earnings and
idle times — evolves the same way in both.
"""

from __future__ import annotations

import json
import uuid

import numpy as np
import pandas as pd
import pytest

from sim.config import load_scenario
from sim.demand import Arrivals
from sim.model import Model
from sim.policies import policy_names
from sim.records import Channel
from sim.runner import collect_tables
from sim.seeds import Streams
from sim.workforce import Workforce
from tests.service_fixtures import ADMIN, LUCKNOW, Api, Server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

N_WORKERS, N_BOOKINGS = 30, 150
WORLD = [
    "geography.districts=[Lucknow]", "helpline.enabled=false", "money.enabled=false",
    "workforce.response_mean_min=0", "lifecycle.patience_mean_min=1e9", "lifecycle.max_search_min=1e6",
    "lifecycle.cancel_after_assign_prob=0", "lifecycle.rating_prob=0.7", "lifecycle.price_cv=0",
    "catalog.electrician.service_cv=0.3", "geography.road_factor=1.0",
]
#: policy name -> params runs (defaults, plus fair's second criterion)
RUNS = [(p, {}) for p in policy_names()] + [("fair", {"criterion": "longest_idle"})]


def world(sc) -> tuple[Arrivals, Workforce]:
    """Workers and electrician bookings scattered within ~6 km of Lucknow; bookings ~40 min apart."""
    rng = np.random.default_rng(7)
    e = [k for k, c in sc.catalog.items() if c.enabled].index("electrician")
    n, m = N_WORKERS, N_BOOKINGS
    wlat, wlon = LUCKNOW[0] + rng.uniform(-0.05, 0.05, n), LUCKNOW[1] + rng.uniform(-0.05, 0.05, n)
    wf = Workforce(
        district_idx=np.zeros(n, dtype=np.int64), skill1=np.full(n, e), skill2=np.full(n, -1),
        active=np.ones(n, dtype=bool), lat=wlat, lon=wlon,
        shift_start_h=np.zeros(n, dtype=np.int64), shift_end_h=np.full(n, 24), accept_prob=np.ones(n),
        quality=rng.uniform(2.5, 5.0, n), names=[f"w{i}" for i in range(n)], phones=np.arange(n, dtype=np.int64))
    t = 600.0 + np.cumsum(rng.uniform(20.0, 60.0, m))
    arr = Arrivals(t_min=t, category=np.full(m, e), district=np.zeros(m, dtype=np.int64),
                   channel=np.full(m, int(Channel.APP)), lat=LUCKNOW[0] + rng.uniform(-0.04, 0.04, m),
                   lon=LUCKNOW[1] + rng.uniform(-0.04, 0.04, m), urban=np.ones(m, dtype=bool),
                   call_id=np.full(m, -1, dtype=np.int64))
    return arr, wf


def twin(policy: str, params: dict) -> tuple[dict[str, pd.DataFrame], Workforce]:
    sc = load_scenario("baseline", [*WORLD, f"dispatch.policy={policy}", f"dispatch.params={json.dumps(params)}"])
    arr, wf = world(sc)
    m = Model(sc, Streams(1), arrivals=arr, workforce=wf)
    m.run()
    return collect_tables(m), wf


def events(bookings: pd.DataFrame) -> list[tuple[float, int, str, int]]:
    """``(time, rank, action, booking)`` in the twin's order (at equal times: ends before starts)."""
    out = []
    for b in bookings.itertuples():
        out.append((b.created_min, 2, "book", b.booking_id))
        if pd.notna(b.worker_id):
            out += [(b.assigned_min, 3, "accept", b.booking_id), (b.started_min, 4, "start", b.booking_id),
                    (b.completed_min, 0, "complete", b.booking_id)]
            if pd.notna(b.rating):
                out.append((b.completed_min, 1, "rate", b.booking_id))
    return sorted(out)


def live(server: Server, tables: dict[str, pd.DataFrame], wf: Workforce) -> dict[int, int | None]:
    """Drive the deployment through the twin's timeline; the twin worker index it offered each booking to."""
    api = Api(server.url)
    api.reset()
    body = {"available": True, "workers": [
        {"name": f"W{i}", "phone": "+919800000000", "district": "Lucknow", "lat": float(wf.lat[i]),
         "lon": float(wf.lon[i]), "skills": ["electrician"]} for i in range(len(wf))]}
    r = api.call("POST", "/v1/admin/workers:bulk", ADMIN, json=body)
    assert r.status_code == 201, r.text
    ids, tokens = r.json()["ids"], r.json()["tokens"]
    index = {wid: i for i, wid in enumerate(ids)}
    citizen = api.citizen()
    bk = tables["bookings"].set_index("booking_id")
    live_id: dict[int, int] = {}
    offered: dict[int, int | None] = {}
    for _, _, action, b in events(tables["bookings"]):
        row = bk.loc[b]
        a = row
        if action == "book":
            r = api.call("POST", "/v1/bookings", citizen["token"], uuid.uuid4().hex,
                         json={"category": "electrician", "district": "Lucknow", "lat": float(a.lat),
                               "lon": float(a.lon), "channel": "app"})
            assert r.status_code == 201, r.text
            got = r.json()
            live_id[b] = got["id"]
            offered[b] = index.get(got.get("worker_id"))
        elif action == "rate":
            r = api.call("POST", f"/v1/bookings/{live_id[b]}/rating", citizen["token"],
                         json={"stars": int(row.rating)})
            assert r.status_code == 200, r.text
        else:
            w = offered[b]
            assert w is not None, f"booking {b}: the deployment offered it to nobody"
            r = api.call("POST", f"/v1/bookings/{live_id[b]}/{action}", tokens[w])
            assert r.status_code == 200, (action, r.text)
    api.http.close()
    return offered


@pytest.mark.parametrize("policy, params", RUNS, ids=[f"{p}{':' if q else ''}{','.join(map(str, q.values()))}"
                                                      for p, q in RUNS])
def test_same_worker_in_twin_and_deployment(policy, params, tmp_path):
    tables, wf = twin(policy, params)
    first = tables["offers"].groupby("booking_id")["worker_id"].first()
    assert len(first) == N_BOOKINGS  # every booking was offered at once in the twin
    server = Server(f"sqlite:///{tmp_path / 'svc.db'}", "--allow-reset", "--rate-limit", "0",
                    "--policy", policy, "--policy-params", json.dumps({"radius_km": 15.0, **params})).start()
    try:
        offered = live(server, tables, wf)
    finally:
        server.stop()
    same = sum(offered[b] == int(w) for b, w in first.items())
    print(f"{policy} {params}: same worker for {same}/{N_BOOKINGS} bookings")  # shown with pytest -s
    assert same / N_BOOKINGS >= 0.99, (policy, same, N_BOOKINGS)
