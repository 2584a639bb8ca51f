"""Helpline KPIs: the hourly table and the summary dict."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numba import njit

from sim.helpline.queue import busy_sorted


def hourly_table(arrive_min: np.ndarray, start_min: np.ndarray, wait_min: np.ndarray,
                 handle_min: np.ndarray, answered: np.ndarray, abandoned: np.ndarray, offered: np.ndarray,
                 agents: np.ndarray, sl_seconds: float, extra: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per simulated hour; queue KPIs by the hour the call reached the queue.

    The columns are the queue's records read through the ``offered`` mask (no copies of them:
    at 10x Uttar Pradesh they are millions of calls).

    Args:
        arrive_min: queue arrival time [minutes].
        start_min: answer time [minutes] (NaN if not answered).
        wait_min: time in queue [minutes].
        handle_min: handle time [minutes].
        answered: bool per call.
        abandoned: bool per call.
        offered: bool per call: offered to agents (counted here).
        agents: agents on duty per hour (defines the number of rows).
        sl_seconds: service-level threshold [s].
        extra: further per-hour count columns (e.g. IVR-resolved calls), already binned.
    """
    hours = len(agents)
    sums = _hour_sums(arrive_min, wait_min, answered, abandoned, offered, hours, float(sl_seconds))
    offered_n, ans, within, wait_ans, ab = sums
    m = offered & answered
    st = start_min[m]
    en = st + (handle_min[m] * 60.0) / 60.0  # as [s] and back: the arithmetic the table always used
    st.sort()
    en.sort()
    busy = busy_sorted(st, en, np.arange(hours + 1) * 60.0)
    del st, en
    with np.errstate(invalid="ignore", divide="ignore"):
        out = pd.DataFrame({
            "hour_index": np.arange(hours, dtype=np.int64),
            "offered": offered_n.astype(np.int64),
            "answered": ans.astype(np.int64),
            "abandoned": ab.astype(np.int64),
            "service_level": np.where(offered_n > 0, within / offered_n, np.nan),
            "asa_s": np.where(ans > 0, wait_ans / ans, np.nan),
            "occupancy": np.where(agents > 0, busy / (agents * 60.0), np.nan),
            "agents": agents.astype(np.int64),
        })
    for k, v in extra.items():
        out[k] = v.astype(np.int64)
    return out


@njit(cache=True)
def _hour_sums(arrive_min, wait_min, answered, abandoned, offered, hours, sl_seconds):  # pragma: no cover - compiled
    """Per hour of queue arrival: offered, answered, answered within the SL, wait [s], abandoned.

    One pass in record order: the sums ``np.bincount`` would give, bit for bit.
    """
    n_off = np.zeros(hours)
    n_ans = np.zeros(hours)
    within = np.zeros(hours)
    wait_ans = np.zeros(hours)
    n_ab = np.zeros(hours)
    for i in range(arrive_min.shape[0]):
        if not offered[i]:
            continue
        h = min(int(arrive_min[i] // 60.0), hours - 1)
        w = wait_min[i] * 60.0
        n_off[h] += 1.0
        if answered[i]:
            n_ans[h] += 1.0
            wait_ans[h] += w
            if w <= sl_seconds:
                within[h] += 1.0
        if abandoned[i]:
            n_ab[h] += 1.0
    return n_off, n_ans, within, wait_ans, n_ab


def queue_summary(wait_s: np.ndarray, answered: np.ndarray, abandoned: np.ndarray,
                  sl_seconds: float) -> dict[str, Any]:
    """Totals and rates of calls offered to agents (all offered calls in denominators)."""
    n = int(wait_s.size)
    na = int(answered.sum())
    return {
        "offered": n,
        "answered": na,
        "abandoned": int(abandoned.sum()),
        "service_level": float((answered & (wait_s <= sl_seconds)).sum() / n) if n else None,
        "asa_s": float(wait_s[answered].mean()) if na else None,
        "mean_wait_s": float(wait_s.mean()) if n else None,
        "p_wait": float((wait_s > 0).mean()) if n else None,
        "abandon_rate": float(abandoned.sum() / n) if n else None,
    }


def daily_table(hourly: pd.DataFrame) -> pd.DataFrame:
    """Per-day KPIs from the hourly table (rates re-weighted by their denominators)."""
    h = hourly.assign(day=hourly["hour_index"] // 24,
                      within=hourly["service_level"].fillna(0) * hourly["offered"],
                      wait=hourly["asa_s"].fillna(0) * hourly["answered"],
                      busy=hourly["occupancy"].fillna(0) * hourly["agents"])
    g = h.groupby("day", sort=True)
    s = g[["offered", "answered", "abandoned", "within", "wait", "busy", "agents"]].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({
            "day": s.index.to_numpy(dtype=np.int64),
            "offered": s["offered"].to_numpy(), "answered": s["answered"].to_numpy(),
            "abandoned": s["abandoned"].to_numpy(),
            "service_level": np.where(s["offered"] > 0, s["within"] / s["offered"], np.nan),
            "asa_s": np.where(s["answered"] > 0, s["wait"] / s["answered"], np.nan),
            "abandon_rate": np.where(s["offered"] > 0, s["abandoned"] / s["offered"], np.nan),
            "occupancy": np.where(s["agents"] > 0, s["busy"] / s["agents"], np.nan),
            "agent_hours": s["agents"].to_numpy(),
        })
