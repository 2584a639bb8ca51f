"""The helpline over a scenario horizon: arrivals, IVR, the agent queue, redials, bookings.

Fresh calls are a non-homogeneous Poisson process, piecewise constant per hour:

    lambda(t) = calls_per_day/24 · hour(h) · weekday(w) · month(m) · surge(t)   [calls/hour]

with each profile normalised to mean 1.  Every per-call random quantity is drawn up front
from its own ``helpline_*`` stream and indexed by fresh-call number (common random
numbers: switching callbacks or redials on leaves arrivals, types and handle times of the
fresh calls unchanged).  Redials draw from ``helpline_redial`` as they happen.  Calls go
through the IVR (``ivr_s`` seconds; a type-dependent share ends there), then queue for the
agents of ``sim.helpline.queue``.  Redials skip the IVR (the caller already asked for an
agent).  An answered ``new_booking`` call creates a booking with probability
``booking_conversion`` at the end of the call.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from sim.calendar import Calendar
from sim.helpline.config import CALL_TYPES, HelplineConfig
from sim.helpline.queue import INF, QueueOut, Redials, Shifts, serve_shifts
from sim.helpline.tables import daily_table, hourly_table, queue_summary
from sim.seeds import Streams
from sim.spool import Spool, SpooledTable


@dataclass
class CallRecords:
    """Every kept call of a helpline run as the queue left it; the per-call table is built from it in slices.

    Rows of the records are IVR-ended calls (``< n_iv``), then queue records; ``rows`` lists the
    kept ones in call-id order (all calls, or the booking calls with ``calls="hourly"``).
    """

    rows: np.ndarray        # record rows of the table, call ids ascending
    n_iv: int               # IVR-ended records come first
    created: np.ndarray     # creation time of every record [minutes]
    call_id: np.ndarray     # call id of every record (-1 = after the horizon, not kept)
    types: np.ndarray       # type code of every record
    out: QueueOut           # the queue records
    redial_of: np.ndarray   # call id each queue record redials (-1 = fresh)

    def __len__(self) -> int:
        return int(self.rows.size)

    def take(self) -> CallRecords:
        """The records of the table's rows only (the same table, built from a copy of a few rows)."""
        is_q = self.rows >= self.n_iv
        iv, qr = self.rows[~is_q], self.rows[is_q] - self.n_iv
        rows = np.empty(self.rows.size, dtype=np.int64)
        rows[~is_q] = np.arange(iv.size)
        rows[is_q] = iv.size + np.arange(qr.size)
        both = np.concatenate([iv, qr + self.n_iv])
        out = QueueOut(*(getattr(self.out, f.name)[qr] for f in fields(QueueOut)))
        return CallRecords(rows, int(iv.size), self.created[both], self.call_id[both], self.types[both], out,
                           self.redial_of[qr])

    def frame(self, lo: int = 0, hi: int | None = None, bookings: tuple[np.ndarray, np.ndarray] | None = None
              ) -> pd.DataFrame:
        """Rows ``lo:hi`` of the per-call table.

        ``bookings`` = (call ids ascending, their booking ids) fills ``booking_id`` (else missing);
        every booking call in the slice's call-id range must be in the slice.
        """
        rows = self.rows[lo:hi]
        frame = _calls_frame(rows, self.n_iv, self.created, self.call_id, self.types, self.out, self.redial_of)
        if bookings is not None and rows.size:
            frame["booking_id"] = _booking_ids(frame["call_id"].to_numpy(), *bookings)
        return frame


@dataclass
class HelplineResult:
    """What one helpline run produces."""

    booking_times_min: np.ndarray   # sorted times booking-creating calls end [minutes]
    booking_call_ids: np.ndarray    # their call ids, in the same order
    records: CallRecords | None     # the per-call table's source; released once a model has its table
    hourly: pd.DataFrame            # helpline_hourly table
    summary: dict[str, Any] = field(default_factory=dict)
    booking_fresh: np.ndarray | None = None  # fresh-call number behind each booking (same order)

    @property
    def calls(self) -> pd.DataFrame:
        """The whole per-call table (only booking calls with ``calls="hourly"``; ``booking_id`` missing)."""
        if self.records is None:
            raise RuntimeError("the per-call records were released (the model's calls table has them)")
        return self.records.frame()

    @property
    def daily(self) -> pd.DataFrame:
        """Per-day KPIs (offered, answered, abandoned, service level, ASA, occupancy)."""
        return daily_table(self.hourly)


def call_table(res: HelplineResult, booking_call_id: np.ndarray, spool: Spool | None) -> pd.DataFrame | SpooledTable:
    """The run's per-call table with booking ids; releases ``res.records``.

    ``booking_call_id``: the call id of each booking (-1 if not by phone).  With ``spool`` the
    table is written through it a row group at a time (``output.calls: full`` at scale), else
    built in memory.
    """
    rec = res.records
    if rec is None:
        raise RuntimeError("the per-call records were already released")
    hl = np.flatnonzero(booking_call_id >= 0)
    by_call = np.argsort(booking_call_id[hl], kind="stable")
    bookings = (booking_call_id[hl][by_call], hl[by_call])
    matched = 0

    def part(lo: int, hi: int) -> pd.DataFrame:
        nonlocal matched
        frame = rec.frame(lo, hi, bookings)
        matched += int(frame["booking_id"].notna().sum())
        return frame

    table = part(0, len(rec)) if spool is None else spool.write("calls", len(rec), part)
    if matched != hl.size:
        raise RuntimeError("a helpline booking's call is missing from the calls table")
    res.records = None  # the queue records go before the lifecycle runs
    return table


def _booking_ids(cid: np.ndarray, calls: np.ndarray, ids: np.ndarray) -> pd.arrays.IntegerArray:
    """``booking_id`` for the calls ``cid`` (ascending): ``ids`` of bookings made by ``calls`` (ascending)."""
    j0, j1 = int(np.searchsorted(calls, cid[0], "left")), int(np.searchsorted(calls, cid[-1], "right"))
    want = calls[j0:j1]
    pos = np.searchsorted(cid, want)
    if not np.array_equal(cid[np.minimum(pos, cid.size - 1)], want):
        raise RuntimeError("a helpline booking's call is missing from the calls table")
    out, missing = np.zeros(cid.size, dtype=np.int64), np.ones(cid.size, dtype=bool)
    out[pos], missing[pos] = ids[j0:j1], False
    return pd.arrays.IntegerArray(out, missing)


def handle_times_s(cfg: HelplineConfig, rng: np.random.Generator, n: int) -> np.ndarray:
    """Handle times = talk (exponential or lognormal with ``talk_cv``) + wrap-up [s]."""
    if cfg.handle_dist == "exponential":
        talk = rng.exponential(cfg.talk_mean_s, n)
    else:
        s2 = math.log1p(cfg.talk_cv**2)
        talk = cfg.talk_mean_s * np.exp(math.sqrt(s2) * rng.standard_normal(n) - s2 / 2)
    return talk + cfg.wrap_s


def hourly_rate(cfg: HelplineConfig, calendar: Calendar, hours: int) -> np.ndarray:
    """Expected fresh calls in each hour 0..hours-1 (before surges)."""
    t = np.arange(hours) * 60.0
    hp = np.asarray(cfg.hour_profile) / np.mean(cfg.hour_profile)
    wp = np.asarray(cfg.weekday_profile) / np.mean(cfg.weekday_profile)
    mp = np.asarray(cfg.month_profile) / np.mean(cfg.month_profile)
    return (cfg.calls_per_day / 24.0) * hp[calendar.hour_of(t)] * wp[calendar.weekday_of(t)] \
        * mp[calendar.month_of(t) - 1]


def shifts_for(cfg: HelplineConfig, calendar: Calendar) -> Shifts:
    """The weekly agent pattern aligned to the calendar (slot 0 = start-date midnight)."""
    return Shifts(np.asarray(cfg.week_agents()), 60.0, offset=calendar.start.weekday() * 24)


def _arrivals(rate: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    counts = rng.poisson(rate)
    starts = np.repeat(np.arange(rate.size) * 60.0, counts)
    return np.sort(starts + 60.0 * rng.random(starts.size))


def _redials(cfg: HelplineConfig, rng: np.random.Generator) -> Redials:
    def draw(k: int) -> np.ndarray:
        return np.column_stack([rng.random(k), rng.exponential(cfg.redial_delay_mean_min, k),
                                handle_times_s(cfg, rng, k) / 60.0,
                                rng.exponential(cfg.patience_mean_s / 60.0, k)])
    return Redials(cfg.redial_prob, cfg.max_redials, draw)


def simulate_helpline(cfg: HelplineConfig, streams: Streams, horizon_min: float, calendar: Calendar,
                      surge: Callable[[np.ndarray], np.ndarray] | None = None,
                      calls: str = "full", fresh: tuple[np.ndarray, np.ndarray] | None = None) -> HelplineResult:
    """Simulate the helpline over ``[0, horizon_min)`` [minutes].

    ``calls="hourly"`` keeps only the booking calls in the per-call table (``output.calls``).
    ``fresh`` = (sorted times [minutes], type codes) of fresh calls made from their causes
    (``sim.helpline.causes``); it replaces the Poisson arrivals and the type mix.
    """
    hours = max(1, math.ceil(horizon_min / 60.0))
    if fresh is None:
        rate = hourly_rate(cfg, calendar, hours)
        if surge is not None:
            rate = rate * np.asarray(surge(np.arange(hours) * 60.0 + 30.0), dtype=np.float64)
        t = _arrivals(rate, streams["helpline_arrivals"])
        t = t[t < horizon_min]
        ty = streams["helpline_types"].choice(len(CALL_TYPES), size=t.size,
                                              p=np.asarray(cfg.type_probs())).astype(np.int8)
    else:
        t, ty = fresh
    n = t.size
    converts = streams["helpline_types"].random(n) < cfg.booking_conversion  # an answered booking call books
    ivr = streams["helpline_ivr"].random(n) < np.asarray(cfg.ivr_probs())[ty]
    q = np.flatnonzero(~ivr).astype(np.int32)  # fresh-call numbers of the queued calls (< 2**31)
    # Drawn for every fresh call (common random numbers), kept only for the queued ones.
    handle = (handle_times_s(cfg, streams["helpline_service"], n) / 60.0)[q]
    prng = streams["helpline_patience"]
    patience = prng.exponential(cfg.patience_mean_s / 60.0, n)[q]
    cb_u = prng.random(n)[q]
    cb = cfg.callback
    out = serve_shifts(t[q] + cfg.ivr_s / 60.0, handle, patience, shifts_for(cfg, calendar),
                       callback_after=cb.offer_after_s / 60.0 if cb.enabled else INF,
                       callback_u=cb_u, callback_prob=cb.accept_prob, callback_extra=cb.extra_s / 60.0,
                       redials=_redials(cfg, streams["helpline_redial"]) if cfg.redial_prob > 0 else None,
                       message_when_closed=cfg.after_hours == "message")
    del handle, patience, cb_u  # gone before the tables are built
    return _assemble(cfg, calendar, hours, horizon_min, t, ty, converts, ivr, q, out, calls)


def _assemble(cfg: HelplineConfig, calendar: Calendar, hours: int, horizon_min: float, t: np.ndarray,
              ty: np.ndarray, converts: np.ndarray, ivr: np.ndarray, q: np.ndarray,
              out: QueueOut, calls: str) -> HelplineResult:
    """Merge IVR-ended and queued calls into the tables; call ids follow creation time.

    Rows are numbered IVR-ended calls first, then queue records; the per-call table is not
    built here: its records say which rows it keeps (all of them, or the booking calls with
    ``calls="hourly"``) and build it in slices (``call_table``), so no run holds it whole
    unless asked to.
    """
    keep = out.arrive < horizon_min  # redials after the horizon are not simulated
    fresh_of = q[out.source]  # fresh-call number behind each queue record
    is_redial = out.redial_of >= 0
    created = np.where(is_redial, out.arrive, t[fresh_of])
    iv = np.flatnonzero(ivr)
    n_q, n_iv = len(out.arrive), iv.size
    created_all = np.concatenate([t[iv], created])
    del created  # the large temporaries go as soon as they are used: this is the run's memory peak
    kept = np.concatenate([np.ones(n_iv, bool), keep])
    offered = keep & ~out.closed
    sh = shifts_for(cfg, calendar)
    agents = sh.on_duty_at(np.arange(hours) * 60.0)
    extra = {
        "calls": np.bincount((created_all[kept] // 60).astype(np.int64), minlength=hours)[:hours],
        "ivr_resolved": np.bincount((t[iv] // 60).astype(np.int64), minlength=hours)[:hours],
        "after_hours": np.bincount((out.arrive[keep & out.closed] // 60).astype(np.int64),
                                   minlength=hours)[:hours],
    }
    # The hourly table before the call ids: its working arrays and theirs are never held together.
    hourly = hourly_table(out.arrive, out.start, out.wait, out.handle, out.answered, out.abandoned, offered,
                          agents, cfg.sl_seconds, extra)
    order = np.argsort(created_all, kind="stable").astype(np.int32)  # creation time, then row: stable ties
    order = order[kept[order]]
    del kept
    call_id = np.full(n_iv + n_q, -1, dtype=np.int32)
    call_id[order] = np.arange(order.size, dtype=np.int32)
    qid = call_id[n_iv:]
    books = out.answered & keep & (ty[fresh_of] == 0) & converts[fresh_of]
    b_end = (out.start + out.handle)[books]
    b_ord = np.lexsort((qid[books], b_end))
    booking_ids = qid[books][b_ord]
    counts = {"calls": int(order.size), "ivr_resolved": int(n_iv), "redials": int((is_redial & keep).sum()),
              "callbacks": int((out.callback & keep).sum())}
    rows = order if calls == "full" else None
    del order  # hourly output: the order of every call goes before the peak below
    wait_s = out.wait[offered]
    wait_s *= 60.0  # [minutes] -> [s] in place: one copy at the run's memory peak
    summary = _summary(cfg, counts, hourly, wait_s, out, offered, b_end.size)
    del wait_s
    if rows is None:
        rows = np.flatnonzero(books)[np.argsort(qid[books])] + n_iv  # the booking calls, ascending call id
    records = CallRecords(rows, n_iv, created_all, call_id, np.concatenate([ty[iv], ty[fresh_of]]), out,
                          np.where(is_redial, qid[np.maximum(out.redial_of, 0)], -1))
    # hourly output keeps the booking calls' records only: the queue's go with this function
    return HelplineResult(b_end[b_ord], booking_ids, records if calls == "full" else records.take(), hourly, summary,
                          fresh_of[books][b_ord])


def _calls_frame(rows: np.ndarray, n_iv: int, created_all: np.ndarray, call_id: np.ndarray, types: np.ndarray,
                 out: QueueOut, redial_of: np.ndarray) -> pd.DataFrame:
    """The per-call table for ``rows`` (IVR-ended rows < ``n_iv``, then queue records), in that order."""
    is_q = rows >= n_iv
    qr = np.where(is_q, rows - n_iv, 0)

    def queued(col: np.ndarray, ivr_value: float | bool | int) -> np.ndarray:
        return np.where(is_q, col[qr], ivr_value)

    red = queued(redial_of, -1)
    return pd.DataFrame({
        "call_id": call_id[rows].astype(np.int64),
        "created_min": created_all[rows],
        "type": pd.Categorical.from_codes(types[rows], categories=list(CALL_TYPES)),
        "ivr_resolved": ~is_q,
        "answered": queued(out.answered, False),
        "wait_s": queued(out.wait, 0.0) * 60.0,  # [minutes] -> [s] for the kept rows only
        "handle_s": queued(out.handle, 0.0) * 60.0,
        "abandoned": queued(out.abandoned, False),
        "redial_of": pd.arrays.IntegerArray(red.astype(np.int64), red < 0),
        "callback": queued(out.callback, False),
        "booking_id": pd.array(np.full(rows.size, pd.NA), dtype="Int64"),
    })


def _summary(cfg: HelplineConfig, counts: dict[str, int], hourly: pd.DataFrame, wait_s: np.ndarray,
             out: QueueOut, offered: np.ndarray, bookings: int) -> dict[str, Any]:
    n_calls = counts["calls"]
    s: dict[str, Any] = {"calls": n_calls, "calls_per_day_mean": None}
    s.update(queue_summary(wait_s, out.answered[offered], out.abandoned[offered], cfg.sl_seconds))
    busy = float(out.handle[offered & out.answered].sum())
    staffed = float(hourly["agents"].sum() * 60.0)
    open_h = hourly[hourly["offered"] > 0]
    s.update({
        "ivr_resolved": counts["ivr_resolved"],
        "after_hours": int(hourly["after_hours"].sum()),
        "redials": counts["redials"],
        "callbacks": counts["callbacks"],
        "occupancy": busy / staffed if staffed > 0 else None,
        "hours_meeting_sl": float((open_h["service_level"] >= cfg.sl_target).mean()) if len(open_h) else None,
        "sl_seconds": cfg.sl_seconds, "sl_target": cfg.sl_target,
        "bookings": bookings,
        "calls_per_booking": n_calls / bookings if bookings else None,
    })
    days = len(hourly) / 24.0
    s["calls_per_day_mean"] = n_calls / days if days > 0 else None
    return s
