"""Turning trace rows into live API requests, and live responses back into replay state (pure).

The twin's ids are not the live ids: workers get theirs from the bulk load, bookings from
the creation response.  A ``Chain`` follows one booking (or one worker's own rows) through
the replay.  Offers: the twin's decision for offer *k* is applied to whichever worker the
live system offered the booking to at that point (``Chain.offered``); when the live system
offered nobody, the step is skipped and counted, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Request names group every booking id under one line of Locust's statistics.
NAMES = {
    "register_citizen": "/v1/citizens", "create_booking": "/v1/bookings",
    "helpline_booking": "/v1/helpline/bookings", "status": "/v1/workers/[id]/status",
    "payout": "/v1/workers/[id]/payouts", "sync": "/v1/bookings/[id]",
}
#: Status codes that mean "the live system diverged from the twin", not "the system failed".
DIVERGED = frozenset({409})


@dataclass(slots=True)
class Request:
    """One HTTP request to send; ``token`` is the bearer token (``None``: anonymous)."""

    method: str
    path: str
    name: str
    actor: str
    body: dict[str, Any] | None = None
    token: str | None = None
    idempotency_key: str | None = None


@dataclass(slots=True)
class Skip:
    """A trace row the replay cannot send because the live state differs; ``reason`` is counted."""

    reason: str


@dataclass(slots=True)
class Chain:
    """Live state of one booking as the replay knows it (worker ids are live ids)."""

    live_id: int | None = None
    citizen_token: str | None = None
    offered: int | None = None
    assigned: int | None = None
    price_paise: int | None = None
    status: str | None = None
    offered_to: list[int] = field(default_factory=list)  # live worker of each offer, in order
    stale: bool = False  # an offer may have been made that we did not see: re-read before acting


@dataclass
class LiveIds:
    """Live identities: the twin's worker ids → live ids, live worker ids → tokens, agent token."""

    worker_id: dict[int, int]
    worker_token: dict[int, str]
    agent_token: str | None
    admin_token: str | None = None
    caller_token: dict[int, str] = field(default_factory=dict)  # helpline callers by the twin's citizen id

    def worker_ref(self) -> dict[int, int]:
        """Live worker id → the twin's worker id."""
        return {v: k for k, v in self.worker_id.items()}


def _i(x: Any) -> int:
    return int(x)


def citizen_phone(ref: int) -> str:
    """A valid, unique 10-digit phone for the twin's citizen ``ref`` (5xxxxxxxxx: not a worker's)."""
    return f"5{ref % 1_000_000_000:09d}"


def plan(row: Any, ch: Chain, ids: LiveIds) -> Request | Skip:
    """The request for trace ``row`` (a namedtuple of trace columns) given the chain's state."""
    a = row.action
    if a == "status":
        wid = ids.worker_id[_i(row.worker_ref)]
        return Request("PUT", f"/v1/workers/{wid}/status", NAMES["status"], "worker",
                       {"available": bool(row.available), "lat": float(row.lat), "lon": float(row.lon)},
                       ids.worker_token[wid])
    if a == "payout":
        wid = ids.worker_id[_i(row.worker_ref)]
        return Request("POST", f"/v1/workers/{wid}/payouts", NAMES["payout"], "worker",
                       {"amount_paise": _i(row.amount_paise)}, ids.worker_token[wid], f"po-{row.seq}")
    if a == "register_citizen":
        ref = _i(row.citizen_ref)
        return Request("POST", "/v1/citizens", NAMES["register_citizen"], "citizen",
                       {"name": f"Citizen {ref}", "phone": citizen_phone(ref), "district": row.district,
                        "lat": float(row.lat), "lon": float(row.lon)})
    if a == "create_booking":
        body = {"category": row.category, "district": row.district, "lat": float(row.lat), "lon": float(row.lon)}
        key = f"bk-{_i(row.booking_ref)}"
        if row.channel == "helpline":
            ref = _i(row.citizen_ref)
            # Preloaded callers are found by phone, so the replay can cancel/pay/rate for them.
            ch.citizen_token = ids.caller_token.get(ref)
            body |= {"caller_name": f"Caller {ref}", "caller_phone": citizen_phone(ref)}
            return Request("POST", "/v1/helpline/bookings", NAMES["helpline_booking"], "agent", body,
                           ids.agent_token, key)
        if ch.citizen_token is None:
            return Skip("no citizen token")
        return Request("POST", "/v1/bookings", NAMES["create_booking"], "citizen", body | {"channel": row.channel},
                       ch.citizen_token, key)
    if ch.live_id is None:
        return Skip("booking not created live")
    bid = ch.live_id
    if a in ("accept", "decline"):
        if ch.stale or ch.offered is None:
            return Request("GET", f"/v1/bookings/{bid}", NAMES["sync"], "admin", None, ids.admin_token)
        return Request("POST", f"/v1/bookings/{bid}/{a}", f"/v1/bookings/[id]/{a}", "worker", None,
                       ids.worker_token[ch.offered])
    if a in ("start", "complete"):
        if ch.assigned is None:
            return Skip(f"{a}: no live worker holds the booking")
        return Request("POST", f"/v1/bookings/{bid}/{a}", f"/v1/bookings/[id]/{a}", "worker", None,
                       ids.worker_token[ch.assigned])
    if ch.citizen_token is None:
        return Skip(f"{a}: helpline caller has no token")
    if a == "cancel":
        return Request("POST", f"/v1/bookings/{bid}/cancel", "/v1/bookings/[id]/cancel", "citizen", None,
                       ch.citizen_token)
    if a == "pay":
        if ch.price_paise is None:  # the live price (catalog) differs from the twin's (spread)
            return Request("GET", f"/v1/bookings/{bid}", NAMES["sync"], "admin", None, ids.admin_token)
        amount = ch.price_paise
        return Request("POST", f"/v1/bookings/{bid}/payments", "/v1/bookings/[id]/payments", "citizen",
                       {"method": row.method if isinstance(row.method, str) else "cash", "amount_paise": amount},
                       ch.citizen_token, f"pay-{row.seq}")
    if a == "rate":
        return Request("POST", f"/v1/bookings/{bid}/rating", "/v1/bookings/[id]/rating", "citizen",
                       {"stars": _i(row.stars)}, ch.citizen_token)
    raise ValueError(f"trace action {a!r} is not replayable")


def fold_booking(ch: Chain, body: dict[str, Any]) -> None:
    """Fold a booking view (``{id, status, worker_id, price_paise ...}``) into the chain."""
    st = body.get("status")
    ch.status = st or ch.status
    if body.get("price_paise") is not None:
        ch.price_paise = int(body["price_paise"])
    wid = body.get("worker_id")
    ch.stale = st == "pending"
    if st == "offered" and wid is not None:
        if ch.offered != wid or not ch.offered_to or ch.offered_to[-1] != wid:
            ch.offered_to.append(int(wid))
        ch.offered = int(wid)
    elif st in ("accepted", "in_progress", "completed"):
        ch.offered = None
        ch.assigned = int(wid) if wid is not None else ch.assigned
    else:
        ch.offered = None


def apply(row: Any, req: Request, ch: Chain, status: int, body: Any) -> None:
    """Update the chain from a response (``body`` parsed JSON or ``None``)."""
    if status >= 300 or not isinstance(body, dict):
        if status in DIVERGED and row.action in ("accept", "decline"):
            ch.stale = True  # the live offer moved on (e.g. re-dispatched): re-read next time
        return
    a = row.action
    if a == "register_citizen":
        ch.citizen_token = body.get("token")
        return
    if a == "create_booking":
        ch.live_id = int(body["id"])
    if "status" in body:
        fold_booking(ch, body)
    if a in ("start", "complete", "accept") and ch.status in ("accepted", "in_progress", "completed"):
        ch.assigned = ch.assigned if body.get("worker_id") is None else int(body["worker_id"])
    # A pending booking may be offered by the service at any time (a worker frees up) unseen.
    ch.stale = ch.status == "pending"
