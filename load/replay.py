"""Open-model trace replay: each request goes out at ``t0 + t_min·60/speedup`` whatever the responses.

One dispatcher greenlet walks the schedule and spawns a greenlet per request when it is
due; requests of one booking (or one worker's own rows) run in trace order because each
needs what the previous one returned (the live booking id, the offered worker).  The lag
of a request is its send time minus its due time, measured just before sending, so
waiting for a slow predecessor shows up as lag.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

import gevent
import numpy as np
import pandas as pd
from gevent.event import Event

from load.actions import Chain, LiveIds, Request, Skip, apply, fold_booking, plan
from load.profile import Profile
from load.schedule import LagHistogram, due_offsets_s, ready_until, sleep_for


class Sender(Protocol):
    """Sends a request and returns ``(status, parsed JSON or None)``; never raises for HTTP errors."""

    def __call__(self, req: Request) -> tuple[int, Any]:  # pragma: no cover - protocol
        """Send ``req``."""
        ...


def chain_key(row: Any) -> tuple[str, int]:
    """Rows of one booking share a chain; rows without a booking chain by worker."""
    b = row.booking_ref
    if b is not None and b is not pd.NA and b == b:  # not null (None, NA or NaN)
        return ("b", int(b))
    return ("w", int(row.worker_ref))


class Replayer:
    """Replays trace rows (already partitioned) against a live deployment.

    Args:
        rows: trace rows of this process, in ``seq`` order (preloaded rows removed).
        ids: live identities from the preload.
        send: how to send one request.
        speedup: simulated seconds per wall second.
        t0: wall-clock time the schedule starts [unix s].
        prof: the target profile (how actions become requests).
        clock: wall clock [unix s] (injectable for tests).
    """

    def __init__(self, rows: pd.DataFrame, ids: LiveIds, send: Sender, speedup: float, t0: float,
                 prof: Profile, clock: Callable[[], float] = time.time) -> None:
        self.rows = list(rows.itertuples(index=False))
        self.due = due_offsets_s(rows["t_min"].to_numpy(np.float64), speedup)
        self.ids = ids
        self.prof = prof
        self.send = send
        self.t0 = t0
        self.clock = clock
        self.lag = LagHistogram.empty()
        self.skipped: Counter[str] = Counter()
        self.diverged: Counter[str] = Counter()
        self.chains: dict[tuple[str, int], Chain] = {}
        self._tails: dict[tuple[str, int], Event] = {}
        self.acked: Counter[str] = Counter()  # 2xx answers by action
        self.failed: Counter[str] = Counter()  # other answers (not divergences) and network errors
        self.sent = 0
        self.dispatched = 0  # rows whose due time came before the run stopped
        self.done = False

    def run(self) -> None:
        """Dispatch every row at its due time; return when all requests have finished."""
        self._idle = Event()
        self._idle.set()
        self._in_flight = 0
        i = 0
        while True:
            elapsed = self.clock() - self.t0
            j = ready_until(self.due, i, elapsed)
            for k in range(i, j):
                self._spawn(k)
            i = self.dispatched = j
            wait = sleep_for(self.due, i, self.clock() - self.t0)
            if wait is None:
                break
            gevent.sleep(wait)
        self._idle.wait()
        self.done = True

    def _spawn(self, k: int) -> None:
        # A bare counter instead of a gevent Group: Group.add costs more than the rest of a request.
        row = self.rows[k]
        key = chain_key(row)
        prev = self._tails.get(key)
        mine = Event()
        self._tails[key] = mine
        self._in_flight += 1
        self._idle.clear()
        gevent.spawn(self._step, k, row, key, prev, mine)

    def _step(self, k: int, row: Any, key: tuple[str, int], prev: Event | None, mine: Event) -> None:
        try:
            if prev is not None:
                prev.wait()
            ch = self.chains.get(key)
            if ch is None:
                ch = self.chains[key] = Chain()
            self._send_row(k, row, ch)
        finally:
            mine.set()
            if self._tails.get(key) is mine:
                del self._tails[key]  # keeps the map as small as the requests in flight
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    def _send_row(self, k: int, row: Any, ch: Chain) -> None:
        req = plan(row, ch, self.ids, self.prof)
        if isinstance(req, Request) and req.action == "get_booking":
            # Re-read the live booking once (an offer or price we have not seen), then decide.
            status, body = self._timed(k, req)
            if status >= 300 or not isinstance(body, dict):
                self.skipped[f"{row.action}: booking unreadable"] += 1
                return
            fold_booking(ch, body, self.prof.booking)
            req = plan(row, ch, self.ids, self.prof)
            if isinstance(req, Request) and req.action == "get_booking":
                req = Skip(f"{row.action}: no live offer")
        if isinstance(req, Skip):
            self.skipped[req.reason] += 1
            return
        status, body = self._timed(k, req)
        if status in req.diverged:
            self.diverged[req.name] += 1
        elif 200 <= status < 300:
            self.acked[req.action] += 1
        else:
            self.failed[req.action] += 1
        apply(row, req, ch, status, body, self.prof)

    def _timed(self, k: int, req: Request) -> tuple[int, Any]:
        self.lag.add(self.clock() - self.t0 - float(self.due[k]))
        self.sent += 1
        return self.send(req)

    def booking_log(self, ref_of: dict[Any, int]) -> pd.DataFrame:
        """Per booking: live id, live status and the twin's ids of the workers live offered/assigned."""
        rows = []
        for (kind, ref), ch in sorted(self.chains.items()):
            if kind != "b":
                continue
            rows.append({
                "booking_ref": ref, "live_id": None if ch.live_id is None else str(ch.live_id),
                "live_status": ch.status,
                "live_worker_ref": ref_of.get(ch.assigned) if ch.assigned is not None else None,
                "live_offers_ref": ";".join(str(ref_of.get(w, -1)) for w in ch.offered_to),
            })
        cols = ["booking_ref", "live_id", "live_status", "live_worker_ref", "live_offers_ref"]
        return pd.DataFrame(rows, columns=cols).astype({"live_worker_ref": "Int64"})
