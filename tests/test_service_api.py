"""The booking lifecycle, money and idempotency against a real server (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.service_fixtures import *  # noqa: F403
from tests.service_fixtures import ADMIN, LUCKNOW, Api, Server

pytestmark = __import__("pytest").mark.timeout(120)


def test_lifecycle_offers_nearest_and_pays_wallet(api):
    far = api.worker(LUCKNOW[0] + 0.05, LUCKNOW[1])  # ~5.6 km away
    near = api.worker(LUCKNOW[0] + 0.01, LUCKNOW[1])  # ~1.1 km away
    c = api.citizen()
    r = api.book(c)
    assert r.status_code == 201, r.text
    b = r.json()
    assert b["status"] == "offered" and b["worker_id"] == near["id"]
    bid = b["id"]
    pay = api.call("POST", f"/v1/bookings/{bid}/payments", c["token"], "p1",
                   json={"method": "online", "amount_paise": 30000})
    assert pay.status_code == 201, pay.text
    for step in ("accept", "start", "complete"):
        r = api.call("POST", f"/v1/bookings/{bid}/{step}", near["token"])
        assert r.status_code == 200, r.text
    assert r.json()["status"] == "completed"
    assert api.call("POST", f"/v1/bookings/{bid}/rating", c["token"], json={"stars": 5}).status_code == 200
    w = api.call("GET", f"/v1/workers/{near['id']}/wallet", near["token"]).json()
    assert w == {"worker_id": near["id"], "balance_paise": 27000, "credited_paise": 27000, "withdrawn_paise": 0}
    po = api.call("POST", f"/v1/workers/{near['id']}/payouts", near["token"], "po1", json={"amount_paise": 20000})
    assert po.status_code == 201 and po.json()["balance_paise"] == 7000
    over = api.call("POST", f"/v1/workers/{near['id']}/payouts", near["token"], "po2", json={"amount_paise": 7001})
    assert over.status_code == 409
    assert api.call("GET", f"/v1/workers/{far['id']}/wallet", far["token"]).json()["balance_paise"] == 0
    assert api.invariants()["ok"]


def test_decline_redispatches_and_pending_waits_for_a_free_worker(api):
    a = api.worker(LUCKNOW[0] + 0.01, LUCKNOW[1])
    b = api.worker(LUCKNOW[0] + 0.02, LUCKNOW[1])
    c = api.citizen()
    first = api.book(c).json()
    assert first["worker_id"] == a["id"]
    second = api.book(c).json()
    assert second["worker_id"] == b["id"]
    third = api.book(c).json()
    assert third == {"id": third["id"], "status": "pending"}  # nobody free: waits
    r = api.call("POST", f"/v1/bookings/{first['id']}/decline", a["token"])
    assert r.status_code == 200 and r.json()["status"] == "pending"  # b is busy, a declined it
    # a is free again and takes the oldest waiting booking it has not declined
    assert api.call("GET", f"/v1/bookings/{third['id']}", c["token"]).json()["worker_id"] == a["id"]
    assert api.call("POST", f"/v1/bookings/{second['id']}/cancel", c["token"]).status_code == 200
    # b freed by the cancel: the declined booking goes to b
    got = api.call("GET", f"/v1/bookings/{first['id']}", c["token"]).json()
    assert got["status"] == "offered" and got["worker_id"] == b["id"]
    assert api.invariants()["ok"]


def test_status_update_alone_or_with_the_pending_scan(api):
    """A worker becoming available next to a waiting booking gets it in the same request (on SQLite the
    pending check said no: ``IS NULL`` in a RETURNING clause); without one only the status moves."""
    w = api.worker(LUCKNOW[0] + 0.01, LUCKNOW[1], available=False)
    here = {"available": True, "lat": LUCKNOW[0] + 0.02, "lon": LUCKNOW[1] + 0.01}
    r = api.call("PUT", f"/v1/workers/{w['id']}/status", w["token"], json=here)  # nothing waits: alone
    assert r.status_code == 200 and r.json()["active_booking_id"] is None and r.json()["lat"] == here["lat"]
    assert api.call("PUT", f"/v1/workers/{w['id']}/status", w["token"], json={**here, "available": False}).json()[
        "available"] is False
    waiting = api.book(api.citizen()).json()
    assert waiting["status"] == "pending"
    moved = {"available": True, "lat": LUCKNOW[0] + 0.03, "lon": LUCKNOW[1]}
    r = api.call("PUT", f"/v1/workers/{w['id']}/status", w["token"], json=moved)  # a scan is due: the transaction
    assert r.status_code == 200 and r.json()["active_booking_id"] == waiting["id"]
    got = api.call("GET", f"/v1/workers/{w['id']}", w["token"]).json()
    assert (got["lat"], got["lon"], got["available"]) == (moved["lat"], moved["lon"], True)
    assert api.call("GET", f"/v1/bookings/{waiting['id']}", w["token"]).json()["status"] == "offered"
    assert api.invariants()["ok"]


def test_refund_on_cancel_and_cash_payment(api):
    w = api.worker()
    c = api.citizen()
    bid = api.book(c).json()["id"]
    assert api.call("POST", f"/v1/bookings/{bid}/payments", c["token"], "k",
                    json={"method": "online", "amount_paise": 30000}).status_code == 201
    assert api.call("POST", f"/v1/bookings/{bid}/cancel", c["token"]).json()["status"] == "cancelled"
    bid2 = api.book(c).json()["id"]
    cash = {"method": "cash", "amount_paise": 30000}
    assert api.call("POST", f"/v1/bookings/{bid2}/payments", c["token"], "k2", json=cash).status_code == 409
    for step in ("accept", "start"):
        assert api.call("POST", f"/v1/bookings/{bid2}/{step}", w["token"]).status_code == 200
    wrong = api.call("POST", f"/v1/bookings/{bid2}/payments", c["token"], "k3", json={**cash, "amount_paise": 1})
    assert wrong.status_code == 422 and "price" in wrong.json()["detail"]
    assert api.call("POST", f"/v1/bookings/{bid2}/payments", c["token"], "k4", json=cash).status_code == 201
    assert api.invariants()["ok"]


def test_idempotent_booking_replays_first_answer(api):
    api.worker()
    c = api.citizen()
    first = api.book(c, key="same")
    again = api.book(c, key="same")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    other = api.call("POST", "/v1/bookings", c["token"], "same",
                     json={"category": "plumber", "district": "Lucknow", "lat": LUCKNOW[0], "lon": LUCKNOW[1]})
    assert other.status_code == 422
    stats = api.call("GET", "/v1/admin/stats", ADMIN).json()
    assert stats["bookings"] == 1


def test_request_digest_is_the_canonical_json_stored_digests_were_made_of():
    """orjson's digest equals the json.dumps form used before (ASCII or not), so stored keys keep matching."""
    import hashlib
    import json

    from service.idempotency import request_hash

    bodies = [{"category": "plumber", "district": "Lucknow", "lat": 26.8467, "lon": 80.9462, "channel": "app"},
              {"caller_name": "राम कुमार", "caller_phone": "+919812345678", "z": [1.5, None, True], "a": 1e-7},
              {"booking": 17, "method": "cash", "amount_paise": 2**70, "note": "a\"b\\c\n\u0001"}]
    for body in bodies:
        blob = json.dumps(["r", body], sort_keys=True, separators=(",", ":"), default=str)
        assert request_hash("r", body) == hashlib.sha256(blob.encode()).hexdigest()


def test_ten_concurrent_identical_payments_have_one_effect(api):
    w = api.worker()
    c = api.citizen()
    bid = api.book(c).json()["id"]
    body = {"method": "online", "amount_paise": 30000}

    def pay(_):
        return api.call("POST", f"/v1/bookings/{bid}/payments", c["token"], "pay-once", json=body)

    with ThreadPoolExecutor(10) as ex:
        rs = list(ex.map(pay, range(10)))
    codes = sorted(r.status_code for r in rs)
    assert set(codes) <= {201, 409}, codes
    ok = [r.json() for r in rs if r.status_code == 201]
    assert ok and all(o == ok[0] for o in ok)  # every 2xx is the first answer
    later = pay(0)
    assert later.status_code == 201 and later.json() == ok[0]
    for step in ("accept", "start", "complete"):
        api.call("POST", f"/v1/bookings/{bid}/{step}", w["token"])
    wal = api.call("GET", f"/v1/workers/{w['id']}/wallet", w["token"]).json()
    assert wal["balance_paise"] == 27000  # paid once: 300 Rs less 10 % commission
    assert api.invariants()["ok"]


def race_64_bookings(api):
    """8 free workers side by side, then 64 citizens book at once; returns (workers, offered ids)."""
    workers = [api.worker(LUCKNOW[0] + 0.002 * i, LUCKNOW[1]) for i in range(8)]
    citizens = [api.citizen() for _ in range(64)]
    with ThreadPoolExecutor(64) as ex:
        rs = list(ex.map(lambda c: api.book(c, key=uuid.uuid4().hex), citizens))
    assert all(r.status_code == 201 for r in rs), [r.text for r in rs if r.status_code != 201][:3]
    return workers, [r.json()["worker_id"] for r in rs if r.json()["status"] == "offered"]


def test_race_64_bookings_8_workers(api):
    workers, offered = race_64_bookings(api)
    assert len(offered) == len(set(offered)) <= 8
    assert len(offered) == 8  # nobody else wanted them: all 8 get a job
    assert set(offered) == {w["id"] for w in workers}
    assert api.invariants()["ok"]


def test_race_across_two_server_processes(backend):
    """The guarantee holds across processes too (``--workers 2``: locks live in the database)."""
    srv = Server(backend, "--workers", "2", "--rate-limit", "0", "--allow-reset").start()
    try:
        api = Api(srv.url)
        api.reset()
        workers, offered = race_64_bookings(api)
        assert sorted(offered) == sorted(w["id"] for w in workers)
        assert api.invariants()["ok"]
    finally:
        srv.stop()


def test_helpline_books_for_a_caller_found_by_phone(api):
    w = api.worker()
    agent = api.call("POST", "/v1/admin/agents", ADMIN, json={"name": "Sita"}).json()
    body = {"caller_name": "Ram", "caller_phone": "+919812345678", "category": "electrician",
            "district": "Lucknow", "lat": LUCKNOW[0], "lon": LUCKNOW[1]}
    first = api.call("POST", "/v1/helpline/bookings", agent["token"], "h1", json=body).json()
    second = api.call("POST", "/v1/helpline/bookings", agent["token"], "h2", json=body).json()
    assert first["worker_id"] == w["id"] and second["status"] == "pending"
    assert first["citizen_id"] == second["citizen_id"]  # the same caller, registered once
    got = api.call("GET", f"/v1/bookings/{first['id']}", ADMIN).json()
    assert got["channel"] == "helpline" and got["price_paise"] == 30000


def test_partial_unique_index_is_the_backstop(tmp_path):
    """Even SQL that bypasses the dispatcher cannot give one worker two active bookings."""
    import pytest
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from service import db

    d = db.Database(f"sqlite:///{tmp_path / 'b.db'}")
    d.create_schema()
    row = {"citizen_id": 1, "category": "plumber", "district": "Agra", "lat": 27.2, "lon": 78.0, "channel": "app",
           "status": "offered", "worker_id": 7, "price_paise": 30000, "paid_paise": 0, "offers": 1, "created_at": 0.0}
    with d.write() as conn:
        conn.execute(insert(db.citizens).values(id=1, name="c", phone="9800000000", district="Agra", lat=27.2,
                                                lon=78.0, created_at=0.0))
        conn.execute(insert(db.bookings).values(**row))
        conn.execute(insert(db.bookings).values(**{**row, "status": "completed"}))  # finished ones may repeat
    with pytest.raises(IntegrityError), d.write() as conn:
        conn.execute(insert(db.bookings).values(**{**row, "status": "accepted"}))
    d.dispose()


def test_duplicate_while_first_in_flight_gets_409_on_postgres(api, backend):
    """Hold the key's advisory lock as an in-flight first request would: a duplicate gets 409 at once."""
    import pytest

    if not backend.startswith("postgresql"):
        pytest.skip("SQLite serializes writers: a duplicate waits and replays instead")
    import psycopg

    from service.idempotency import lock_id
    from tests.service_fixtures import PG_BASE

    api.worker()
    c = api.citizen()
    with psycopg.connect(PG_BASE.replace("+psycopg", "")) as held:
        held.execute("SELECT pg_advisory_xact_lock(%s)", (lock_id(f"citizen:{c['id']}:bookings", "k1"),))
        r = api.book(c, key="k1")
        assert r.status_code == 409 and r.headers["Retry-After"] == "1" and "in flight" in r.json()["detail"]
        held.rollback()
    assert api.book(c, key="k1").status_code == 201


def test_http_layer_refuses_malformed_requests_with_one_line_reasons(api):
    c = api.citizen()
    w = api.worker()
    cases = [  # (method, path, token, headers, content, expected status, words in the reason)
        ("POST", "/v1/bookings", c["token"], {"Idempotency-Key": "m1", "Content-Type": "application/json"},
         b'{"category": ', 400, "JSON"),
        ("POST", "/v1/bookings", c["token"], {"Idempotency-Key": "m2", "Content-Type": "text/plain"},
         b'{"category": "electrician"}', 422, "Content-Type"),
        ("POST", "/v1/bookings", c["token"], {"Content-Type": "application/json"},
         b'{"category": "electrician"}', 422, "Idempotency-Key"),
        ("POST", "/v1/bookings", c["token"], {"Idempotency-Key": "m3"}, b"", 422, "body"),
        ("GET", "/v1/workers/0", w["token"], {}, None, 422, "worker_id"),
        ("GET", "/v1/workers/abc", w["token"], {}, None, 422, "worker_id"),
        ("GET", "/v1/workers/99999999999", w["token"], {}, None, 422, "worker_id"),
        ("GET", "/v1/admin/outbox?limit=0", ADMIN, {}, None, 422, "limit"),
        ("GET", "/v1/nowhere", None, {}, None, 404, "Not Found"),
        ("DELETE", "/v1/bookings", c["token"], {}, None, 405, "Method Not Allowed"),
        ("PUT", f"/v1/workers/{w['id']}/status", None, {"Content-Type": "application/json"}, b"{", 401, "bearer"),
    ]
    for method, path, token, headers, content, status, words in cases:
        r = api.call(method, path, token, headers=dict(headers), content=content)
        assert r.status_code == status, (method, path, r.status_code, r.text)
        assert words in r.json()["detail"], (method, path, r.text)
    assert api.call("DELETE", "/v1/bookings", c["token"]).headers["allow"] == "POST"
    head = api.call("HEAD", f"/v1/workers/{w['id']}", w["token"])
    assert head.status_code == 200 and head.content == b""
    spec = api.call("GET", "/openapi.json").json()
    assert spec["paths"]["/v1/bookings"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BookingIn"}
