"""Turning trace rows into live API requests, and live responses back into replay state (pure).

What each request looks like (path, body, auth, where ids come back) is the target profile's
business (``load.profile``); what to send when is decided here.  The twin's ids are not the
live ids: workers get theirs from the preload, bookings from the creation response.  A
``Chain`` follows one booking (or one worker's own rows) through the replay.  Offers: the
twin's decision for offer *k* is applied to whichever worker the live system offered the
booking to at that point (``Chain.offered``); when the live system offered nobody, the step is
skipped and counted, never guessed.  Live ids are opaque (numbers or strings, as the API
gives them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from load.profile import _ROW, Auth, BookingView, Profile, dig, render

#: A booking the live system holds for a worker: accepted and after.
HELD = ("accepted", "in_progress", "completed")


@dataclass(slots=True)
class Request:
    """One HTTP request to send; ``token`` goes in the actor's ``auth`` header (``None``: anonymous)."""

    method: str
    path: str
    name: str
    actor: str
    body: Any = None
    token: str | None = None
    idempotency_key: str | None = None
    action: str = ""
    auth: Auth | None = None
    diverged: frozenset[int] = frozenset({409})  # answers that mean "live moved on", not failures

    def headers(self) -> dict[str, str]:
        """Auth and idempotency headers."""
        h = {}
        if self.token:
            a = self.auth or Auth()
            h[a.header] = f"{a.prefix}{self.token}"
        if self.idempotency_key:
            h["Idempotency-Key"] = self.idempotency_key
        return h


@dataclass(slots=True)
class Skip:
    """A trace row the replay cannot send because the live state differs; ``reason`` is counted."""

    reason: str


@dataclass(slots=True)
class Chain:
    """Live state of one booking as the replay knows it (worker ids are live ids)."""

    live_id: Any = None
    citizen_token: str | None = None
    offered: Any = None
    assigned: Any = None
    price_paise: int | None = None
    status: str | None = None
    offered_to: list[Any] = field(default_factory=list)  # live worker of each offer, in order
    stale: bool = False  # an offer may have been made that we did not see: re-read before acting


@dataclass
class LiveIds:
    """Live identities: the twin's worker ids → live ids, live worker ids → tokens, agent token."""

    worker_id: dict[int, Any]
    worker_token: dict[Any, str]
    agent_token: str | None
    admin_token: str | None = None
    caller_token: dict[int, str] = field(default_factory=dict)  # helpline callers by the twin's citizen id

    def worker_ref(self) -> dict[Any, int]:
        """Live worker id → the twin's worker id."""
        return {v: k for k, v in self.worker_id.items()}


def citizen_phone(ref: int) -> str:
    """A valid, unique 10-digit phone for the twin's citizen ``ref`` (5xxxxxxxxx: not a worker's)."""
    return f"5{ref % 1_000_000_000:09d}"


def _py(x: Any) -> Any:
    """A trace cell as a JSON-able Python value (nulls → ``None``)."""
    if x is None or x is pd.NA or (isinstance(x, float) and x != x):
        return None
    return x.item() if hasattr(x, "item") else x


def row_variables(row: Any) -> dict[str, Any]:
    """Template variables every action gets from its trace row."""
    return {k: _py(getattr(row, k)) for k in _ROW}


def _token(actor: str, ch: Chain, ids: LiveIds, worker: Any) -> str | None:
    return {"admin": ids.admin_token, "agent": ids.agent_token, "citizen": ch.citizen_token,
            "worker": ids.worker_token.get(worker), "anonymous": None}[actor]


def _request(prof: Profile, action: str, v: dict[str, Any], ch: Chain, ids: LiveIds,
             worker: Any = None) -> Request | Skip:
    call = prof.actions.get(action)  # type: ignore[call-overload]
    if call is None:
        return Skip(f"{action}: not in profile {prof.name!r}")
    token = _token(call.actor, ch, ids, worker)
    if call.actor != "anonymous" and token is None:
        return Skip(f"{action}: no {call.actor} token")
    key = render(call.idempotency_key, v) if call.idempotency_key else None
    return Request(call.method, render(call.path, v), call.label, call.actor, render(call.body, v), token, key,
                   action, prof.auth_for(call.actor), frozenset(call.diverged_status or prof.diverged_status))


def sync_request(prof: Profile, ch: Chain, ids: LiveIds) -> Request | Skip:
    """Re-read the live booking (its offer, worker, price)."""
    return _request(prof, "get_booking", {"booking_id": ch.live_id}, ch, ids)


def plan(row: Any, ch: Chain, ids: LiveIds, prof: Profile) -> Request | Skip:
    """The request for trace ``row`` (a namedtuple of trace columns) given the chain's state."""
    a = row.action
    v = row_variables(row)
    if a in ("status", "payout"):
        wid = ids.worker_id[int(row.worker_ref)]
        v |= {"worker_id": wid, "available": bool(row.available) if a == "status" else None,
              "amount_paise": _py(row.amount_paise)}
        return _request(prof, a, v, ch, ids, wid)
    if a == "register_citizen":
        ref = int(row.citizen_ref)
        return _request(prof, a, v | {"citizen_name": f"Citizen {ref}", "citizen_phone": citizen_phone(ref)}, ch, ids)
    if a == "create_booking":
        if row.channel == "helpline":
            ref = int(row.citizen_ref)
            # Preloaded callers are found by phone, so the replay can cancel/pay/rate for them.
            ch.citizen_token = ids.caller_token.get(ref)
            v |= {"caller_name": f"Caller {ref}", "caller_phone": citizen_phone(ref)}
            return _request(prof, "helpline_booking", v, ch, ids)
        return _request(prof, a, v, ch, ids)
    if ch.live_id is None:
        return Skip("booking not created live")
    v["booking_id"] = ch.live_id
    if a in ("accept", "decline"):
        if ch.stale or ch.offered is None:
            return sync_request(prof, ch, ids)
        return _request(prof, a, v | {"worker_id": ch.offered}, ch, ids, ch.offered)
    if a in ("start", "complete"):
        if ch.assigned is None:
            return Skip(f"{a}: no live worker holds the booking")
        return _request(prof, a, v | {"worker_id": ch.assigned}, ch, ids, ch.assigned)
    if a == "pay":
        amount = ch.price_paise
        if amount is None and prof.booking.price_paise is not None:
            return sync_request(prof, ch, ids)  # the live price (catalog) differs from the twin's (spread)
        method = row.method if isinstance(row.method, str) else "cash"
        return _request(prof, a, v | {"amount_paise": amount or _py(row.amount_paise), "method": method}, ch, ids)
    if a == "rate":
        return _request(prof, a, v | {"stars": int(row.stars)}, ch, ids)
    if a == "cancel":
        return _request(prof, a, v, ch, ids)
    raise ValueError(f"trace action {a!r} is not replayable")


def fold_booking(ch: Chain, body: Any, view: BookingView) -> None:
    """Fold a booking as the API shows it (``view`` says where its fields are) into the chain."""
    st = view.state(dig(body, view.status))
    ch.status = st or ch.status
    price = dig(body, view.price_paise)
    if price is not None:
        ch.price_paise = int(price)
    wid = dig(body, view.worker_id)
    ch.stale = st == "pending"
    if st == "offered" and wid is not None:
        if ch.offered != wid or not ch.offered_to or ch.offered_to[-1] != wid:
            ch.offered_to.append(wid)
        ch.offered = wid
    elif st in HELD:
        ch.offered = None
        ch.assigned = wid if wid is not None else ch.assigned
    else:
        ch.offered = None


def apply(row: Any, req: Request, ch: Chain, status: int, body: Any, prof: Profile) -> None:
    """Update the chain from a response (``body`` parsed JSON or ``None``)."""
    if status >= 300 or not isinstance(body, dict):
        if status in req.diverged and row.action in ("accept", "decline"):
            ch.stale = True  # the live offer moved on (e.g. re-dispatched): re-read next time
        return
    returns = prof.actions[req.action].returns if req.action in prof.actions else {}  # type: ignore[operator]
    if req.action == "register_citizen":
        ch.citizen_token = dig(body, returns.get("citizen_token", "token"))
        return
    if req.action in ("create_booking", "helpline_booking"):
        ch.live_id = dig(body, returns.get("booking_id", prof.booking.id))
    if dig(body, prof.booking.status) is not None:
        fold_booking(ch, body, prof.booking)
    # A pending booking may be offered by the service at any time (a worker frees up) unseen.
    ch.stale = ch.status == "pending"
