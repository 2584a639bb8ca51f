"""The exact FCFS multi-agent queue with abandonment, callbacks, redials and shifts.

Why it is a discrete-event simulation without an event list: under first-come-first-served
a call's offered wait depends only on the calls ahead of it, and a call that abandons never
takes an agent.  Processing calls in arrival order against a heap of agent free-times
therefore reproduces, call by call, what an event-driven model (SimPy ``Resource`` with
``req | timeout(patience)``) produces — ``tests/test_helpline_engine.py`` checks exactly
that.  Times are in one unit chosen by the caller (minutes in the twin, seconds in the
stationary runs); shift slots are ``slot`` units long.

Shifts: ``agents[s]`` seats are on duty in slot ``s`` (slots repeat with period
``len(agents)``; slot 0 starts ``offset`` slots into the pattern).  Seats are stacked:
seat k works whenever k < agents[s].  A seat that finishes a call after its shift ended
goes off; a call queued when the centre closes waits for the next opening or abandons.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

INF = math.inf
NAN = math.nan


def serve_constant(arrive: np.ndarray, handle: np.ndarray, patience: np.ndarray | None,
                   agents: int) -> tuple[np.ndarray, np.ndarray]:
    """Fast path: ``agents`` agents always on, no redials/callbacks.

    Args:
        arrive: arrival times, non-decreasing.
        handle: handle times (same unit).
        patience: patience per call, or None (nobody abandons).
        agents: number of agents (>= 1).

    Returns:
        ``(wait, served)``: offered wait of every call (time to an agent had it stayed) and
        whether it was served (``wait <= patience``).
    """
    n = len(arrive)
    free = [0.0] * agents  # a heap whose entries are all equal is already a heap
    wait = [0.0] * n
    served = [True] * n
    pat = patience.tolist() if patience is not None else None
    replace = heapq.heapreplace
    for i, (a, h) in enumerate(zip(arrive.tolist(), handle.tolist(), strict=True)):
        f = free[0]
        if f > a:
            w = f - a
            wait[i] = w
            if pat is not None and w > pat[i]:
                served[i] = False
                continue
            replace(free, f + h)
        else:
            replace(free, a + h)
    return np.asarray(wait), np.asarray(served, dtype=bool)


def busy_per_bin(start: np.ndarray, end: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Total busy time of intervals [start, end) inside each bin [edges[k], edges[k+1]).

    Uses F(x) = sum_i clip(x - s_i, 0, e_i - s_i) = sum_{s_i<x}(x - s_i) - sum_{e_i<x}(x - e_i),
    evaluated at the edges with sorted cumulative sums (O(N log N), no per-bin loops).
    """
    s, e = np.sort(start), np.sort(end)
    cs = np.concatenate(([0.0], np.cumsum(s)))
    ce = np.concatenate(([0.0], np.cumsum(e)))
    ks = np.searchsorted(s, edges, side="left")
    ke = np.searchsorted(e, edges, side="left")
    f = (ks * edges - cs[ks]) - (ke * edges - ce[ke])
    return np.diff(f)


class Shifts:
    """Seats on duty per slot (a repeating pattern) and each seat's next on-duty time."""

    def __init__(self, agents: np.ndarray, slot: float, offset: int = 0) -> None:
        self.pattern = [int(x) for x in agents]
        self.period = len(self.pattern)
        self.slot = float(slot)
        self.offset = int(offset)
        self.seats = max(self.pattern) if self.pattern else 0

    def on_duty(self, t: float) -> int:
        """Seats on duty at time ``t``."""
        return self.pattern[(int(t // self.slot) + self.offset) % self.period]

    def next_on(self, seat: int, t: float) -> float:
        """Earliest time >= ``t`` at which ``seat`` is on duty (inf if never)."""
        s = int(t // self.slot)
        pat, off, per = self.pattern, self.offset, self.period
        if pat[(s + off) % per] > seat:
            return t
        for k in range(1, per + 1):
            if pat[(s + k + off) % per] > seat:
                return (s + k) * self.slot
        return INF


@dataclass
class Redials:
    """Abandoned callers call again: with probability ``prob`` after an exponential delay.

    ``draw(k)`` returns ``k`` rows of ``(u_redial, delay, handle, patience)`` for the
    redials themselves (drawn lazily, in order, from a dedicated stream).
    """

    prob: float
    max_redials: int
    draw: Callable[[int], np.ndarray]


@dataclass
class QueueOut:
    """Outcome per call in processing (= arrival) order; redials are appended calls."""

    arrive: np.ndarray     # time the call reached the queue
    start: np.ndarray      # answer time (NaN if not answered)
    wait: np.ndarray       # time in queue (until answer or hang-up; 0 for closed)
    handle: np.ndarray     # handle time (0 if not answered)
    answered: np.ndarray   # bool
    abandoned: np.ndarray  # bool
    callback: np.ndarray   # bool: served through a virtual-hold callback
    closed: np.ndarray     # bool: arrived while the centre was closed (heard a message)
    source: np.ndarray     # index of the fresh call this one descends from
    redial_of: np.ndarray  # processing index of the abandoned call redialled (-1 if fresh)
    seat: np.ndarray       # seat that answered (-1 if not answered)


def serve_shifts(arrive: np.ndarray, handle: np.ndarray, patience: np.ndarray, shifts: Shifts,
                 *, callback_after: float = INF, callback_u: np.ndarray | None = None,
                 callback_prob: float = 0.0, callback_extra: float = 0.0,
                 redials: Redials | None = None, message_when_closed: bool = True) -> QueueOut:
    """General path: shifts, virtual-hold callbacks and redials.

    A caller whose offered wait exceeds ``callback_after`` is offered a callback and takes it
    when ``callback_u < callback_prob``; they keep their place in line, cannot abandon and
    are called back when they reach the head (handle time + ``callback_extra``).
    """
    n = len(arrive)
    # Memoryviews of the inputs index like lists of floats without copying them (a list of
    # floats would take ~4x the memory of the array).
    def floats(x: np.ndarray) -> memoryview:
        return memoryview(np.ascontiguousarray(x, dtype=np.float64))

    arr, hnd, pat = floats(arrive), floats(handle), floats(patience)
    cbu = floats(callback_u) if callback_u is not None else floats(np.ones(n))
    heap = [(shifts.next_on(k, 0.0), k) for k in range(shifts.seats)] or [(INF, 0)]
    heapq.heapify(heap)
    pattern, per, off, slot = shifts.pattern, shifts.period, shifts.offset, shifts.slot
    next_on, replace = shifts.next_on, heapq.heapreplace
    pending: list[tuple[float, int, int, int]] = []  # (time, seq, parent, depth) redials
    pool, pool_i = np.empty((0, 4)), 0
    # Flat rows of doubles (arrive, start, wait, handle, code, source, redial_of, seat): an
    # array('d') holds a million calls in 64 MB where a list of floats needs ~4x that.
    rec = array("d")
    push = rec.extend
    i = 0
    while i < n or pending:
        if pending and (i >= n or pending[0][0] < arr[i]):
            a, seq, parent, depth = heapq.heappop(pending)
            if pool_i >= len(pool):
                pool, pool_i = redials.draw(max(1024, len(pool))), 0  # type: ignore[union-attr]
            u_r, d_r, h, p = pool[pool_i].tolist()
            pool_i += 1
            u_cb, src = 1.0, rec[parent * 8 + 5]
        else:
            a, h, p, u_cb, src, parent, depth = arr[i], hnd[i], pat[i], cbu[i], i, -1, 0
            u_r = d_r = None
            i += 1
        if message_when_closed and pattern[(int(a // slot) + off) % per] == 0:
            push((a, NAN, 0.0, 0.0, 3, src, parent, -1))
            continue
        while True:  # the seat that can answer first; re-key seats found off duty
            key, seat = heap[0]
            t0 = key if key > a else a
            if t0 == INF or pattern[(int(t0 // slot) + off) % per] > seat:
                break
            replace(heap, (next_on(seat, t0), seat))
        w = t0 - a
        if callback_after < w < INF and u_cb < callback_prob:
            h += callback_extra
            code = 2
        elif w > p:
            replace(heap, (t0, seat))
            push((a, NAN, p, 0.0, 1, src, parent, -1))
            if redials is not None and depth < redials.max_redials:
                if u_r is None:
                    if pool_i >= len(pool):
                        pool, pool_i = redials.draw(max(1024, len(pool))), 0
                    u_r, d_r = pool[pool_i, 0], pool[pool_i, 1]
                    pool_i += 1
                if u_r < redials.prob:
                    me = len(rec) // 8 - 1
                    heapq.heappush(pending, (a + p + d_r, me, me, depth + 1))
            continue
        else:
            code = 0
        e = t0 + h
        replace(heap, (e if pattern[(int(e // slot) + off) % per] > seat else next_on(seat, e), seat))
        push((a, t0, w, h, code, src, parent, seat))
    return _to_out(rec)


def _to_out(rec: array) -> QueueOut:
    m = np.frombuffer(rec, dtype=np.float64).reshape(-1, 8) if len(rec) else np.zeros((0, 8))
    code = m[:, 4].astype(np.int8)
    # Strided views, not copies: the record buffer is never written again.
    return QueueOut(m[:, 0], m[:, 1], m[:, 2], m[:, 3],
                    (code == 0) | (code == 2), code == 1, code == 2, code == 3,
                    m[:, 5].astype(np.int32), m[:, 6].astype(np.int32), m[:, 7].astype(np.int32))  # ids < 2**31
