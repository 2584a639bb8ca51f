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
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numba import njit

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
    return busy_sorted(np.sort(start), np.sort(end), edges)


def busy_sorted(s: np.ndarray, e: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``busy_per_bin`` for starts ``s`` and ends ``e`` already sorted; overwrites both (cumulative sums).

    Only the cumulative sums at the edges are kept, so the working memory is the two inputs.
    """
    ks = np.searchsorted(s, edges, side="left")
    ke = np.searchsorted(e, edges, side="left")
    np.cumsum(s, out=s)
    np.cumsum(e, out=e)
    cs = np.where(ks > 0, s[np.maximum(ks - 1, 0)], 0.0) if s.size else np.zeros(edges.size)
    ce = np.where(ke > 0, e[np.maximum(ke - 1, 0)], 0.0) if e.size else np.zeros(edges.size)
    f = (ks * edges - cs) - (ke * edges - ce)
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

    def on_duty_at(self, t: np.ndarray) -> np.ndarray:
        """Seats on duty at each of the times ``t`` (``on_duty`` over an array; int64)."""
        slots = np.floor_divide(np.asarray(t, dtype=np.float64), self.slot).astype(np.int64)
        return np.asarray(self.pattern, dtype=np.int64)[(slots + self.offset) % self.period]

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

    The loop is compiled (numba): it cannot call back into Python for redial draws, so it gets
    the redial rows drawn ahead in the same blocks, in the same order, as drawing them lazily
    would take; if they run out it is re-run with more (the answer does not change).
    """
    n = len(arrive)
    arr, hnd, pat = (np.ascontiguousarray(x, dtype=np.float64) for x in (arrive, handle, patience))
    cbu = np.ascontiguousarray(callback_u, dtype=np.float64) if callback_u is not None else np.ones(n)
    pattern = np.asarray(shifts.pattern, dtype=np.int64)
    pool, last = np.zeros((0, 4)), 0
    want = max(n // 8, 1)  # redial rows to draw ahead; re-estimated whenever they run out
    while True:
        blocks, rows = [pool], len(pool)
        while redials is not None and rows < want:
            blk = np.asarray(redials.draw(max(1024, last)), dtype=np.float64).reshape(-1, 4)
            blocks.append(blk)  # the lazy loop drew max(1024, previous block) rows each time
            rows, last = rows + len(blk), len(blk)
        pool = np.concatenate(blocks) if len(blocks) > 1 else pool
        del blocks
        out = _serve_kernel(arr, hnd, pat, cbu, pattern, shifts, callback_after, callback_prob, callback_extra,
                            redials, pool, message_when_closed)
        if isinstance(out, QueueOut):
            return out
        # ran out after ``out`` fresh calls: scale the draw to the whole run, with a margin
        want = max(2 * len(pool), int(len(pool) * 1.2 * n / max(out, 1)))


def _serve_kernel(arr: np.ndarray, hnd: np.ndarray, pat: np.ndarray, cbu: np.ndarray, pattern: np.ndarray,
                  shifts: Shifts, callback_after: float, callback_prob: float, callback_extra: float,
                  redials: Redials | None, pool: np.ndarray, message_when_closed: bool) -> QueueOut | int:
    """Run the compiled loop and wrap its columns; if the redial pool ran out, the fresh calls done."""
    cols = _serve_loop(arr, hnd, pat, cbu, pattern, float(shifts.slot), int(shifts.offset), int(shifts.seats),
                       float(callback_after), float(callback_prob), float(callback_extra),
                       float(redials.prob) if redials is not None else 0.0,
                       int(redials.max_redials) if redials is not None else -1, pool, bool(message_when_closed))
    k, arrive, start, wait, handle, code, source, parent, seat = cols
    if k < 0:
        return -1 - k
    # Views, not copies cut to size: a copy would double the peak for a few idle megabytes.
    code = code[:k]
    return QueueOut(arrive[:k], start[:k], wait[:k], handle[:k], (code == 0) | (code == 2), code == 1, code == 2,
                    code == 3, source[:k], parent[:k], seat[:k])


@njit(cache=True)
def _next_on(pattern, per, off, slot, seat, t):  # pragma: no cover - compiled
    s = int(t // slot)
    if pattern[(s + off) % per] > seat:
        return t
    for k in range(1, per + 1):
        if pattern[(s + k + off) % per] > seat:
            return (s + k) * slot
    return INF


@njit(cache=True)
def _serve_loop(arr, hnd, pat, cbu, pattern, slot, off, seats, callback_after, callback_prob,
                callback_extra, redial_prob, max_redials, pool, message_when_closed):  # pragma: no cover - compiled
    """The queue, call by call (see ``serve_shifts``).

    Returns ``(records, columns...)``; ``-1 - fresh calls done`` if the redial pool ran out.  Codes: 0 answered,
    1 abandoned, 2 callback, 3 closed.
    """
    n = arr.shape[0]
    per = pattern.shape[0]
    cap = n + pool.shape[0]
    o_arr = np.empty(cap)
    o_start = np.empty(cap)
    o_wait = np.empty(cap)
    o_hnd = np.empty(cap)
    o_code = np.empty(cap, dtype=np.int8)
    o_src = np.empty(cap, dtype=np.int32)
    o_par = np.empty(cap, dtype=np.int32)
    o_seat = np.empty(cap, dtype=np.int32)
    heap = [(_next_on(pattern, per, off, slot, k, 0.0), k) for k in range(seats)]
    if seats == 0:
        heap.append((INF, 0))
    heapq.heapify(heap)
    pending = [(0.0, 0, 0, 0)]  # (time, seq, parent, depth) of redials; typed by this dummy
    pending.pop()
    pool_i = 0
    npool = pool.shape[0]
    r = 0
    i = 0
    while i < n or len(pending) > 0:
        have_u = False
        u_r = 0.0
        d_r = 0.0
        if len(pending) > 0 and (i >= n or pending[0][0] < arr[i]):
            a, _, parent, depth = heapq.heappop(pending)
            if pool_i >= npool:
                return -1 - i, o_arr, o_start, o_wait, o_hnd, o_code, o_src, o_par, o_seat
            u_r, d_r, h, p = pool[pool_i, 0], pool[pool_i, 1], pool[pool_i, 2], pool[pool_i, 3]
            have_u = True
            pool_i += 1
            u_cb = 1.0
            src = o_src[parent]
        else:
            a, h, p, u_cb, src, parent, depth = arr[i], hnd[i], pat[i], cbu[i], i, -1, 0
            i += 1
        if message_when_closed and pattern[(int(a // slot) + off) % per] == 0:
            o_arr[r], o_start[r], o_wait[r], o_hnd[r] = a, NAN, 0.0, 0.0
            o_code[r], o_src[r], o_par[r], o_seat[r] = 3, src, parent, -1
            r += 1
            continue
        while True:  # the seat that can answer first; re-key seats found off duty
            key, seat = heap[0]
            t0 = key if key > a else a
            if t0 == INF or pattern[(int(t0 // slot) + off) % per] > seat:
                break
            heapq.heapreplace(heap, (_next_on(pattern, per, off, slot, seat, t0), seat))
        w = t0 - a
        if callback_after < w < INF and u_cb < callback_prob:
            h += callback_extra
            code = 2
        elif w > p:
            heapq.heapreplace(heap, (t0, seat))
            o_arr[r], o_start[r], o_wait[r], o_hnd[r] = a, NAN, p, 0.0
            o_code[r], o_src[r], o_par[r], o_seat[r] = 1, src, parent, -1
            r += 1
            if depth < max_redials:
                if not have_u:
                    if pool_i >= npool:
                        return -1 - i, o_arr, o_start, o_wait, o_hnd, o_code, o_src, o_par, o_seat
                    u_r, d_r = pool[pool_i, 0], pool[pool_i, 1]
                    pool_i += 1
                if u_r < redial_prob:
                    heapq.heappush(pending, (a + p + d_r, r - 1, r - 1, depth + 1))
            continue
        else:
            code = 0
        e = t0 + h
        nxt = e if pattern[(int(e // slot) + off) % per] > seat else _next_on(pattern, per, off, slot, seat, e)
        heapq.heapreplace(heap, (nxt, seat))
        o_arr[r], o_start[r], o_wait[r], o_hnd[r] = a, t0, w, h
        o_code[r], o_src[r], o_par[r], o_seat[r] = code, src, parent, seat
        r += 1
    return r, o_arr, o_start, o_wait, o_hnd, o_code, o_src, o_par, o_seat
