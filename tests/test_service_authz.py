"""Authorization matrix: every endpoint refuses every caller who does not own the object,
with nothing changed, and accepts its owner (so the setup really allowed the action)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.service_fixtures import *  # noqa: F403
from tests.service_fixtures import ADMIN, LUCKNOW

pytestmark = pytest.mark.timeout(180)

SPOT = {"district": "Lucknow", "lat": LUCKNOW[0], "lon": LUCKNOW[1]}
CALLERS = ("anon", "admin", "c1", "c2", "w1", "w2", "agent")
PAY = {"method": "online", "amount_paise": 30000}


def _world(api):
    """Two workers (w1 holds the booking), two citizens (c1 owns it), one agent, admin."""
    w1 = api.worker(LUCKNOW[0] + 0.001, LUCKNOW[1])
    w2 = api.worker(LUCKNOW[0] + 0.03, LUCKNOW[1])
    api.call("PUT", f"/v1/workers/{w2['id']}/status", w2["token"], json={"available": False, "lat": 26.8, "lon": 81.0})
    c1, c2 = api.citizen(), api.citizen()
    ag = api.call("POST", "/v1/admin/agents", ADMIN, json={"name": "Agent"}).json()
    toks = {"anon": None, "admin": ADMIN, "c1": c1["token"], "c2": c2["token"], "w1": w1["token"],
            "w2": w2["token"], "agent": ag["token"]}
    return toks, w1, c1


def _advance(api, toks, bid, steps):
    for s in steps:
        r = api.call("POST", f"/v1/bookings/{bid}/{s}", toks["w1"])
        assert r.status_code == 200, r.text


# (method, path template, state the booking must be in, body, allowed callers, needs idempotency key)
# states: "offered", "accepted", "in_progress", "completed" (paid online, so the wallet has money)
MATRIX = [
    ("PUT", "/v1/workers/{w}/status", "offered", {"available": False, "lat": 26.9, "lon": 80.9}, {"w1"}, False),
    ("POST", "/v1/bookings", "offered", {"category": "electrician", **SPOT}, {"c1", "c2"}, True),
    ("POST", "/v1/helpline/bookings", "offered",
     {"caller_name": "Ram", "caller_phone": "+919812345678", "category": "electrician", **SPOT}, {"agent"}, True),
    ("GET", "/v1/bookings/{b}", "offered", None, {"admin", "c1", "w1"}, False),
    ("POST", "/v1/bookings/{b}/accept", "offered", None, {"w1"}, False),
    ("POST", "/v1/bookings/{b}/decline", "offered", None, {"w1"}, False),
    ("POST", "/v1/bookings/{b}/start", "accepted", None, {"w1"}, False),
    ("POST", "/v1/bookings/{b}/complete", "in_progress", None, {"w1"}, False),
    ("POST", "/v1/bookings/{b}/cancel", "accepted", None, {"c1"}, False),
    ("POST", "/v1/bookings/{b}/rating", "completed", {"stars": 4}, {"c1"}, False),
    ("POST", "/v1/bookings/{b}/payments", "offered", PAY, {"c1"}, True),
    ("GET", "/v1/workers/{w}", "offered", None, {"admin", "w1"}, False),
    ("GET", "/v1/workers/{w}/wallet", "completed", None, {"admin", "w1"}, False),
    ("POST", "/v1/workers/{w}/payouts", "completed", {"amount_paise": 100}, {"w1"}, True),
    ("POST", "/v1/citizens/{c}/claims", "offered", {}, {"c1"}, False),
    ("GET", "/v1/admin/stats", "offered", None, {"admin"}, False),
    ("GET", "/v1/admin/config", "offered", None, {"admin"}, False),
    ("GET", "/v1/admin/outbox", "offered", None, {"admin"}, False),
    ("GET", "/v1/admin/invariants", "offered", None, {"admin"}, False),
    ("POST", "/v1/admin/agents", "offered", {"name": "A2"}, {"admin"}, False),
    ("POST", "/v1/admin/workers:bulk", "offered",
     {"workers": [{"name": "B", "phone": "+919800000001", "skills": ["plumber"], **SPOT}]}, {"admin"}, False),
    ("POST", "/v1/admin/citizens:bulk", "offered",
     {"citizens": [{"name": "B", "phone": "+919800000001", **SPOT}]}, {"admin"}, False),
    ("POST", "/v1/admin/reset", "offered", None, {"admin"}, False),
]
OPEN = {("POST", "/v1/workers"), ("POST", "/v1/citizens"), ("GET", "/healthz")}  # registration is public


def _snapshot(api, bid, wid):
    b = api.call("GET", f"/v1/bookings/{bid}", ADMIN).json()
    s = api.call("GET", "/v1/admin/stats", ADMIN).json()
    s.pop("assignment_latency")
    w = api.call("GET", f"/v1/workers/{wid}/wallet", ADMIN).json()
    return b, s, w


def test_matrix_covers_every_endpoint(server):
    spec = httpx.get(server.url + "/openapi.json").json()
    ops = {(m.upper(), p.replace("{booking_id}", "{b}").replace("{worker_id}", "{w}")
                                  .replace("{citizen_id}", "{c}"))
           for p, item in spec["paths"].items() for m in item}
    assert ops == {(m, p) for m, p, *_ in MATRIX} | OPEN


@pytest.mark.parametrize("method,path,state,body,allowed,keyed", MATRIX, ids=[f"{m} {p}" for m, p, *_ in MATRIX])
def test_only_owners_may_call(api, method, path, state, body, allowed, keyed):
    toks, w1, c1 = _world(api)
    b = api.book(c1).json()
    bid = b["id"]
    assert b["worker_id"] == w1["id"]
    if state == "completed":
        assert api.call("POST", f"/v1/bookings/{bid}/payments", c1["token"], "pay", json=PAY).status_code == 201
    steps = {"offered": [], "accepted": ["accept"], "in_progress": ["accept", "start"],
             "completed": ["accept", "start", "complete"]}[state]
    _advance(api, toks, bid, steps)
    url = path.format(b=bid, w=w1["id"], c=c1["id"])
    before = _snapshot(api, bid, w1["id"])
    for who in CALLERS:
        if who in allowed:
            continue
        r = api.call(method, url, toks[who], uuid.uuid4().hex if keyed else None, json=body)
        expect = {401} if who == "anon" else {403, 404}
        assert r.status_code in expect, (who, r.status_code, r.text)
        assert isinstance(r.json()["detail"], str) and r.json()["detail"]
        assert _snapshot(api, bid, w1["id"]) == before, f"{who} changed something"
    owner = sorted(allowed)[0]
    r = api.call(method, url, toks[owner], uuid.uuid4().hex if keyed else None, json=body)
    assert 200 <= r.status_code < 300, (owner, r.text)


def test_request_bodies_cannot_set_price_status_or_worker(api):
    toks, w1, c1 = _world(api)
    for extra in ({"price_paise": 1}, {"status": "completed"}, {"worker_id": w1["id"]}):
        r = api.call("POST", "/v1/bookings", c1["token"], uuid.uuid4().hex,
                     json={"category": "electrician", **SPOT, **extra})
        assert r.status_code == 422 and next(iter(extra)) in r.json()["detail"]
    assert api.call("GET", "/v1/admin/stats", ADMIN).json()["bookings"] == 0
