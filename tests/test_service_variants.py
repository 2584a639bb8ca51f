"""Every endpoint through each request variant: identical answers and identical rows.

The same script (every endpoint of API v1) runs on two fresh servers: once with compact JSON
and ``application/json``, once with spaced JSON, ``application/json; charset=utf-8`` and
lower-case header names.  Answers (ids, states, money) and every table's rows (without
clocks, random tokens and codes) must be the same: one implementation answers them all.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import MetaData, create_engine, select

from service.db import drop_scratch_schema, scratch_schema
from tests.service_fixtures import *  # noqa: F403
from tests.service_fixtures import ADMIN, LUCKNOW, PG_BASE, Server

pytestmark = pytest.mark.timeout(240)
SPOT = {"district": "Lucknow", "lat": LUCKNOW[0], "lon": LUCKNOW[1]}
#: Columns that hold clocks, random tokens or codes: they differ between any two runs.
VOLATILE = {"created_at", "offered_at", "first_offered_at", "accepted_at", "started_at", "ended_at", "retry_at",
            "idle_since_min", "expires_at", "token_hash", "code_hash", "body", "value"}


class Caller:
    """Sends JSON the way one variant does."""

    def __init__(self, http, spaced: bool) -> None:
        self.http, self.spaced = http, spaced

    def __call__(self, method: str, path: str, token: str | None = None, key: str | None = None,
                 body: dict | None = None) -> tuple[int, object]:
        auth, idem, ctype = ("authorization", "idempotency-key", "application/json; charset=utf-8") if self.spaced \
            else ("Authorization", "Idempotency-Key", "application/json")
        h = {auth: f"Bearer {token}"} if token else {}
        if key:
            h[idem] = key
        content = None
        if body is not None:
            h["Content-Type"] = ctype
            content = json.dumps(body, indent=2) if self.spaced else json.dumps(body, separators=(",", ":"))
        r = self.http.request(method, path, headers=h, content=content)
        return r.status_code, (r.json() if r.content else None)


def script(call: Caller) -> list:
    """Every endpoint once or more; the answers without clocks and tokens."""
    out = []

    def do(*a, **kw):
        code, body = call(*a, **kw)
        out.append((a[0], a[1], code, strip(body)))
        return body

    w1 = do("POST", "/v1/workers", body={"name": "A", "phone": "9800000001", "skills": ["electrician"], **SPOT})
    w2 = do("POST", "/v1/workers", body={"name": "B", "phone": "9800000002", "skills": ["electrician"], **SPOT})
    c = do("POST", "/v1/citizens", body={"name": "C", "phone": "+91 98111 11111", **SPOT})
    for w in (w1, w2):
        do("PUT", f"/v1/workers/{w['id']}/status", w["token"], body={"available": True, **{k: SPOT[k] for k in
                                                                                            ("lat", "lon")}})
    do("GET", f"/v1/workers/{w1['id']}", w1["token"])
    b = do("POST", "/v1/bookings", c["token"], "k1", body={"category": "electrician", "channel": "web", **SPOT})
    do("POST", "/v1/bookings", c["token"], "k1", body={"category": "electrician", "channel": "web", **SPOT})
    tok = {w1["id"]: w1["token"], w2["id"]: w2["token"]}
    do("POST", f"/v1/bookings/{b['id']}/decline", tok[b["worker_id"]])
    b = do("GET", f"/v1/bookings/{b['id']}", c["token"])
    wt = tok[b["worker_id"]]
    do("POST", f"/v1/bookings/{b['id']}/payments", c["token"], "p1", body={"method": "online", "amount_paise": 30000})
    for step in ("accept", "start", "complete"):
        do("POST", f"/v1/bookings/{b['id']}/{step}", wt)
    do("POST", f"/v1/bookings/{b['id']}/rating", c["token"], body={"stars": 4})
    do("GET", f"/v1/workers/{b['worker_id']}/wallet", wt)
    do("POST", f"/v1/workers/{b['worker_id']}/payouts", wt, "po", body={"amount_paise": 1000})
    b2 = do("POST", "/v1/bookings", c["token"], "k2", body={"category": "electrician", **SPOT})
    do("POST", f"/v1/bookings/{b2['id']}/cancel", c["token"])
    ag = do("POST", "/v1/admin/agents", ADMIN, body={"name": "Sita"})
    do("POST", "/v1/helpline/bookings", ag["token"], "h1",
       body={"caller_name": "Ram", "caller_phone": "09811111111", "category": "plumber", **SPOT})
    do("POST", f"/v1/citizens/{c['id']}/claims", c["token"], body={})
    do("POST", f"/v1/citizens/{c['id']}/claims", c["token"], body={"code": "000000"})  # wrong, most likely
    do("POST", "/v1/admin/workers:bulk", ADMIN, body={"workers": [{"name": "D", "phone": "9800000003",
                                                                   "skills": ["plumber"], **SPOT}]})
    do("POST", "/v1/admin/citizens:bulk", ADMIN, body={"citizens": [{"name": "E", "phone": "9800000004", **SPOT}]})
    for path in ("/v1/admin/stats", "/v1/admin/invariants", "/v1/admin/config", "/v1/admin/outbox"):
        do("GET", path, ADMIN)
    do("POST", "/v1/bookings", c["token"], "k3", body={"category": "electrician", "colour": "red", **SPOT})  # 422
    return out


def strip(body: object) -> object:
    """``body`` without clocks, tokens and codes (they differ between two runs)."""
    if isinstance(body, dict):
        return {k: strip(v) for k, v in body.items()
                if k not in VOLATILE | {"token", "tokens", "assignment_latency", "expires_in_s"}}
    if isinstance(body, list):
        return [strip(v) for v in body]
    return body


def rows(url: str) -> dict[str, list]:
    """Every table's rows without volatile columns, sorted."""
    eng = create_engine(url)
    md = MetaData()
    md.reflect(eng)
    out = {}
    with eng.connect() as conn:
        for t in md.sorted_tables:
            if t.name in ("meta", "alembic_version"):
                continue
            cols = [c for c in t.columns if c.name not in VOLATILE]
            out[t.name] = sorted((tuple(r) for r in conn.execute(select(*cols))), key=repr)  # keys may be random
    eng.dispose()
    return out


@pytest.fixture
def two_databases(backend, tmp_path):
    if backend.startswith("sqlite"):
        yield [f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"]
        return
    made = [scratch_schema(PG_BASE, "var") for _ in range(2)]
    yield [u for u, _ in made]
    for _, name in made:
        drop_scratch_schema(PG_BASE, name)


def test_every_endpoint_answers_alike_in_every_variant(two_databases):
    import httpx

    answers, tables = [], []
    for spaced, url in zip((False, True), two_databases, strict=True):
        srv = Server(url, "--rate-limit", "0").start()
        try:
            with httpx.Client(base_url=srv.url, timeout=30) as http:
                answers.append(script(Caller(http, spaced)))
        finally:
            srv.stop()
        tables.append(rows(url))
    assert answers[0] == answers[1]
    assert {code for *_, code, _ in answers[0]} >= {200, 201, 202, 422}
    assert tables[0] == tables[1]
    assert tables[0]["bookings"] and tables[0]["ledger_entries"]
