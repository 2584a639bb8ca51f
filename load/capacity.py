"""Headroom: how many times today's busiest hour a deployment holds before a service level breaks.

Each step of the search replays a window of the scenario's busiest hour at ``multiple`` times
its real request rate, an open model: the window's rows are sent ``speedup`` times faster
than simulated time, and when compression alone would need more than the whole hour the
window is replayed as ``copies`` side by side (disjoint workers, citizens and bookings, as
if ``copies`` cities like this one shared the deployment), so ``multiple = copies ×
speedup``.  Every step uses fresh ids (``REF_STRIDE`` apart) so steps do not meet each
other's bookings.  The step's trace starts with every worker on shift at the hour's start
going on duty, and keeps only bookings created inside the window (their later steps
within it too), so nothing is sent for a booking the deployment never saw.

Pure table work and the plot; ``cli/capacity.py`` runs Locust for each step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from load.slo import Limits
from sim.errors import InputError
from sim.trace import PRELOAD_ACTIONS

REF_STRIDE = 10_000_000  # refs of copy i of step s are offset by (s·copies_max + i)·REF_STRIDE
MIN_PER_HOUR = 60.0
LEAD_MARK = 1.0  # hour_rows marks the on-duty rows of the lead-in as 1 minute before the window


@dataclass(frozen=True)
class Step:
    """One load level: ``copies`` side-by-side windows of ``window_min`` sent ``speedup``× fast."""

    multiple: float
    copies: int
    speedup: float
    window_min: float

    @property
    def wall_s(self) -> float:
        """Wall time the step's schedule lasts [s]."""
        return self.window_min * 60.0 / self.speedup


def plan_step(multiple: float, step_s: float) -> Step:
    """The step offering ``multiple``× the real request rate for ``step_s`` wall seconds.

    The window is ``multiple × step_s`` simulated seconds of the busiest hour; past one hour
    it is ``copies = ⌈multiple·step_s/3600⌉`` side-by-side copies of a window of
    ``multiple × step_s / copies`` seconds (at most the hour).
    """
    if not multiple > 0 or not step_s > 0:
        raise InputError("capacity: multiples and step time must be positive")
    copies = max(1, math.ceil(multiple * step_s / 3600.0 - 1e-9))
    speedup = multiple / copies
    return Step(multiple, copies, speedup, min(MIN_PER_HOUR, speedup * step_s / 60.0))


def busiest_hour(trace: pd.DataFrame) -> float:
    """Start of the simulated hour with the most bookings created [minutes]."""
    cr = trace.loc[trace["action"] == "create_booking", "t_min"]
    if cr.empty:
        raise InputError("capacity: the scenario's run created no bookings (raise --days or demand)")
    hours = np.floor(cr.to_numpy() / MIN_PER_HOUR).astype(np.int64)
    counts = np.bincount(hours)
    return float(np.argmax(counts) * MIN_PER_HOUR)


def hour_rows(trace: pd.DataFrame, h0: float, window_min: float) -> pd.DataFrame:
    """The rows a window ``[h0, h0 + window_min)`` sends, timed from 0, with its workers' registrations."""
    t = trace["t_min"]
    end = h0 + window_min
    created = trace.loc[trace["action"] == "create_booking", ["booking_ref", "t_min"]]
    inside = created.loc[(created["t_min"] >= h0) & (created["t_min"] < end), "booking_ref"]
    is_status = trace["action"] == "status"
    booking_rows = trace["booking_ref"].isin(inside) & (t < end)
    window = trace[booking_rows | (is_status & (t >= h0) & (t < end))]
    # Everyone on shift at h0 goes on duty at the window's start (their last status before it).
    before = trace[is_status & (t < h0)].drop_duplicates("worker_ref", keep="last")
    on = before[before["available"].fillna(False).astype(bool)].assign(t_min=h0 - LEAD_MARK)
    workers = set(pd.concat([on, window]).loc[lambda d: d["action"] == "status", "worker_ref"].astype(np.int64))
    payouts = trace[(trace["action"] == "payout") & (t >= h0) & (t < end) & trace["worker_ref"].isin(workers)]
    rows = pd.concat([on, window, payouts], ignore_index=True).sort_values(["t_min", "seq"], kind="stable")
    reg = trace[trace["action"].isin(PRELOAD_ACTIONS) & trace["worker_ref"].isin(workers)]
    out = pd.concat([reg, rows], ignore_index=True)
    out["t_min"] = np.where(out["action"].isin(PRELOAD_ACTIONS), 0.0, out["t_min"].to_numpy() - h0)
    return out


def step_trace(rows: pd.DataFrame, copies: int, first_copy: int, lead_min: float, gap_min: float = 0.0) -> pd.DataFrame:
    """``copies`` copies of ``rows`` with disjoint refs (copy ``first_copy + i`` offset by ``REF_STRIDE``).

    The on-duty rows go out evenly over a lead-in of ``lead_min`` simulated minutes before the
    window (not all at once: that burst would be the measured load), the window ``gap_min``
    after the lead-in (time for its answers to come back before measuring).
    """
    parts = []
    for i in range(copies):
        off = (first_copy + i) * REF_STRIDE
        c = rows.copy()
        for col in ("booking_ref", "worker_ref", "citizen_ref"):
            c[col] = c[col] + off
        parts.append(c)
    out = pd.concat(parts, ignore_index=True)
    t = out["t_min"].to_numpy(np.float64)
    lead = t == -LEAD_MARK
    t = np.where(out["action"].isin(PRELOAD_ACTIONS), 0.0, t + lead_min + gap_min)
    t[lead] = np.linspace(0.0, lead_min, int(lead.sum()), endpoint=False)
    out["t_min"] = t
    out = out.sort_values("t_min", kind="stable").reset_index(drop=True)
    out["seq"] = np.arange(len(out), dtype=np.int64)
    return out


def window_requests(rows: pd.DataFrame) -> int:
    """Requests of the window itself (neither preloaded nor the lead-in)."""
    return int((~rows["action"].isin(PRELOAD_ACTIONS) & (rows["t_min"] >= 0)).sum())


def base_rate(rows: pd.DataFrame, window_min: float) -> float:
    """Requests per wall second the window sends at real time (multiple 1) [1/s]."""
    return window_requests(rows) / (window_min * 60.0)


def parse_slo(text: str) -> Limits:
    """``p99_ms=2000,fail_ratio=0.01,lag_p99_ms=1000`` (any subset) over Locust's defaults."""
    vals = {"fail_ratio": 0.01, "p99_ms": 2000.0, "lag_p99_ms": 1000.0}
    for item in filter(None, (x.strip() for x in text.split(","))):
        k, _, v = item.partition("=")
        if k not in vals:
            raise InputError(f"--slo: unknown limit {k!r} (known: {', '.join(vals)})")
        try:
            vals[k] = float(v)
        except ValueError:
            raise InputError(f"--slo: {k}: {v!r} is not a number") from None
    return Limits(vals["fail_ratio"], vals["p99_ms"], vals["lag_p99_ms"])


def parse_multiples(text: str) -> list[float]:
    """Rising load multiples from ``1,2,5,10``."""
    try:
        ms = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"--multiples: {text!r}: expected numbers like 1,2,5,10") from None
    if not ms or any(not m > 0 for m in ms) or ms != sorted(ms):
        raise InputError(f"--multiples: {text!r}: expected positive rising numbers")
    return ms


def read_step(csv_prefix: str) -> dict[str, float]:
    """A step's measured throughput, p50/p99 response time, failure ratio and p99 lag (Locust CSV + summary)."""
    import json

    st = pd.read_csv(f"{csv_prefix}_stats.csv")
    agg = st[st["Name"] == "Aggregated"].iloc[0]
    n = float(agg["Request Count"])
    summ = Path(f"{csv_prefix}_replay_summary.json")
    lag = json.loads(summ.read_text())["lag"] if summ.exists() else {}
    return {"requests": n, "rps": float(agg["Requests/s"]), "p50_ms": float(agg["50%"]),
            "p99_ms": float(agg["99%"]), "fail_ratio": float(agg["Failure Count"]) / n if n else 0.0,
            "lag_p99_ms": float(lag.get("p99_ms", float("nan")))}


def plot(table: pd.DataFrame, holds: float | None, path: Path) -> None:
    """Response time (p50, p99) and throughput against the load multiple."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    a.plot(table["multiple"], table["p50_ms"], "o-", label="p50")
    a.plot(table["multiple"], table["p99_ms"], "o-", label="p99")
    a.plot(table["multiple"], table["lag_p99_ms"], "x--", label="schedule lag p99")
    a.set_xscale("log")
    a.set_xlabel("load [× today's busiest hour]")
    a.set_ylabel("ms")
    a.set_title("latency")
    a.legend()
    b.plot(table["multiple"], table["offered_rps"], "--", color="grey", label="offered")
    b.plot(table["multiple"], table["rps"], "o-", label="served")
    b.set_xscale("log")
    b.set_yscale("log")
    b.set_xlabel("load [× today's busiest hour]")
    b.set_ylabel("requests/s")
    b.set_title("throughput")
    b.legend()
    for ax in (a, b):
        if holds:
            ax.axvline(holds, color="green", lw=1)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
