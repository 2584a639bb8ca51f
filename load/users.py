"""Locust users: the trace replayer (open model) and the platform's actors (shape mode).

Every request is named by its route (``/v1/bookings/[id]/accept``) and carries the actor in
its request context; actor tasks are tagged ``citizen``, ``worker`` or ``agent``.
"""

from __future__ import annotations

import itertools
from typing import Any

import gevent
import numpy as np
from locust import FastHttpUser, constant, constant_pacing, tag, task

from load import state
from load.actions import Request
from load.http import LeanSender
from load.replay import Replayer

_ids = itertools.count()


def _rng(kind: str) -> np.random.Generator:
    """Each simulated actor gets its own stream (never the global generators)."""
    return np.random.default_rng([0x5E3A, len(kind), next(_ids)])


class _ApiUser(FastHttpUser):
    """A bearer-token API client; 409 is a legitimate business answer, not a failure."""

    abstract = True
    token: str | None = None

    def call(self, req: Request, expected: tuple[int, ...] = (409,)) -> tuple[int, Any]:
        """Send ``req``; return ``(status, JSON body or None)``; ``expected`` codes are races, not failures."""
        headers = req.headers()
        with self.client.request(req.method, req.path, name=req.name, json=req.body, headers=headers,
                                 catch_response=True, context={"actor": req.actor}) as r:
            code = r.status_code or 0
            if code in expected:
                r.success()
            body = None
            if 200 <= code < 300 and r.content:
                try:
                    body = r.json()
                except ValueError:
                    r.failure("response is not JSON")
        return code, body


class TraceReplayUser(_ApiUser):
    """Replays this process's partition of the trace once, at the trace's own times.

    Requests go through ``load.http.LeanSender`` (geventhttpclient, as under ``FastHttpUser``,
    reported to Locust's statistics the same way) so one process keeps thousands on time.
    """

    wait_time = constant(3600)
    concurrency = 500  # connections kept open: requests in flight are not bounded by responses

    @task
    def replay(self) -> None:
        """Wait for the preload, replay, then idle until the test stops."""
        if not state.wait_for_setup():
            raise RuntimeError("no setup from the master within 10 minutes")
        st = state.STATE
        opts = self.environment.parsed_options
        send = LeanSender(self.environment.events.request.fire, self.host, self.concurrency)
        rep = Replayer(st.rows(), st.ids, send, opts.speedup, st.t0, st.profile)
        st.replayers.append(rep)
        rep.run()
        while True:
            gevent.sleep(3600)


# ----------------------------------------------------------------- shape-mode actors

DISTRICTS = ("Lucknow", "Kanpur Nagar", "Prayagraj", "Varanasi", "Agra", "Ghaziabad")
CATEGORIES = ("electrician", "plumber", "carpenter", "ac_repair", "appliance_repair")


def _place(rng: np.random.Generator) -> tuple[str, float, float]:
    from sim.geography import district_map

    d = district_map()[DISTRICTS[int(rng.integers(len(DISTRICTS)))]]
    return d.name, d.hq_lat + rng.normal(0, 0.01), d.hq_lon + rng.normal(0, 0.01)


class CitizenUser(_ApiUser):
    """A citizen on the app or the web: registers, books, pays and rates when the job is done."""

    weight = 6
    wait_time = constant_pacing(10)

    def on_start(self) -> None:
        """Register."""
        self.rng = _rng("citizen")
        self.district, self.lat, self.lon = _place(self.rng)
        n = next(_ids)
        code, body = self.call(Request("POST", "/v1/citizens", "/v1/citizens", "citizen", {
            "name": f"Load citizen {n}", "phone": f"4{n % 10**9:09d}", "district": self.district,
            "lat": self.lat, "lon": self.lon}))
        self.token = body["token"] if body else None
        self.open: list[int] = []

    @tag("citizen")
    @task
    def book(self) -> None:
        """Book a service; pay and rate the bookings that completed since."""
        if not self.token:
            return
        for bid in list(self.open):
            code, b = self.call(Request("GET", f"/v1/bookings/{bid}", "/v1/bookings/[id]", "citizen", None,
                                        self.token))
            if not b or b["status"] not in ("completed", "cancelled"):
                continue
            self.open.remove(bid)
            if b["status"] == "completed":
                self.call(Request("POST", f"/v1/bookings/{bid}/payments", "/v1/bookings/[id]/payments", "citizen",
                                  {"method": "online", "amount_paise": b["price_paise"]}, self.token, f"p{bid}"))
                self.call(Request("POST", f"/v1/bookings/{bid}/rating", "/v1/bookings/[id]/rating", "citizen",
                                  {"stars": int(self.rng.integers(3, 6))}, self.token))
        cat = CATEGORIES[int(self.rng.integers(len(CATEGORIES)))]
        channel = "app" if self.rng.random() < 0.75 else "web"
        code, b = self.call(Request("POST", "/v1/bookings", "/v1/bookings", "citizen", {
            "category": cat, "district": self.district, "lat": self.lat, "lon": self.lon, "channel": channel},
            self.token, f"c{next(_ids)}"))
        if b:
            self.open.append(int(b["id"]))


class WorkerUser(_ApiUser):
    """A worker: registers, goes on duty, answers offers, starts and completes jobs, withdraws."""

    weight = 3
    wait_time = constant_pacing(5)

    def on_start(self) -> None:
        """Register (admin bulk loader of one) and become available."""
        self.rng = _rng("worker")
        d, lat, lon = _place(self.rng)
        admin = self.environment.parsed_options.admin_token
        n = next(_ids)
        code, body = self.call(Request("POST", "/v1/admin/workers:bulk", "/v1/admin/workers:bulk", "admin", {
            "workers": [{"name": f"Load worker {n}", "phone": f"3{n % 10**9:09d}", "district": d, "lat": lat,
                         "lon": lon, "skills": list(CATEGORIES)}]}, admin))
        self.wid, self.token = (body["ids"][0], body["tokens"][0]) if body else (None, None)
        self.pos = (lat, lon)
        if self.token:
            self.call(Request("PUT", f"/v1/workers/{self.wid}/status", "/v1/workers/[id]/status", "worker",
                              {"available": True, "lat": lat, "lon": lon}, self.token))

    @tag("worker")
    @task
    def work(self) -> None:
        """Move the held booking one step: accept (or decline), start, complete; sometimes withdraw."""
        if not self.token:
            return
        # The app's heartbeat (availability + position) answers with the booking the worker holds.
        code, me = self.call(Request("PUT", f"/v1/workers/{self.wid}/status", "/v1/workers/[id]/status", "worker",
                                     {"available": True, "lat": self.pos[0], "lon": self.pos[1]}, self.token))
        bid = me.get("active_booking_id") if me else None
        if bid is None:
            if self.rng.random() < 0.1:
                self.call(Request("POST", f"/v1/workers/{self.wid}/payouts", "/v1/workers/[id]/payouts", "worker",
                                  {"amount_paise": 100}, self.token, f"w{next(_ids)}"))
            return
        # 404: the offer timed out and the live clock offered the booking to someone else meanwhile.
        code, b = self.call(Request("GET", f"/v1/bookings/{bid}", "/v1/bookings/[id]", "worker", None, self.token),
                            expected=(404, 409))
        step = {"offered": "accept" if self.rng.random() < 0.75 else "decline", "accepted": "start",
                "in_progress": "complete"}.get(b["status"]) if b else None
        if step:
            self.call(Request("POST", f"/v1/bookings/{bid}/{step}", f"/v1/bookings/[id]/{step}", "worker", None,
                              self.token))


class HelplineAgentUser(_ApiUser):
    """A helpline agent booking for callers (toll-free 155330)."""

    weight = 1
    wait_time = constant_pacing(20)

    def on_start(self) -> None:
        """Get an agent token from the admin."""
        self.rng = _rng("agent")
        admin = self.environment.parsed_options.admin_token
        code, body = self.call(Request("POST", "/v1/admin/agents", "/v1/admin/agents", "admin",
                                       {"name": "Load agent"}, admin))
        self.token = body["token"] if body else None

    @tag("agent")
    @task
    def book_for_caller(self) -> None:
        """One caller's booking."""
        if not self.token:
            return
        d, lat, lon = _place(self.rng)
        n = next(_ids)
        self.call(Request("POST", "/v1/helpline/bookings", "/v1/helpline/bookings", "agent", {
            "caller_name": f"Caller {n}", "caller_phone": f"2{n % 10**9:09d}",
            "category": CATEGORIES[int(self.rng.integers(len(CATEGORIES)))], "district": d,
            "lat": lat, "lon": lon}, self.token, f"h{n}"))
