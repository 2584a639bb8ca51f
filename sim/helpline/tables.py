"""Helpline KPIs: the hourly table and the summary dict."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sim.helpline.queue import busy_per_bin


def hourly_table(arrive_min: np.ndarray, start_min: np.ndarray, wait_s: np.ndarray,
                 handle_s: np.ndarray, answered: np.ndarray, abandoned: np.ndarray,
                 agents: np.ndarray, sl_seconds: float, extra: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per simulated hour; queue KPIs by the hour the call reached the queue.

    Args:
        arrive_min: queue arrival time of calls offered to agents [minutes].
        start_min: answer time [minutes] (NaN if not answered).
        wait_s: time in queue [s].
        handle_s: handle time [s].
        answered: bool per call.
        abandoned: bool per call.
        agents: agents on duty per hour (defines the number of rows).
        sl_seconds: service-level threshold [s].
        extra: further per-hour count columns (e.g. IVR-resolved calls), already binned.
    """
    hours = len(agents)
    hix = np.minimum((arrive_min // 60.0).astype(np.int64), hours - 1)
    offered = np.bincount(hix, minlength=hours)
    ans = np.bincount(hix, weights=answered, minlength=hours)
    within = np.bincount(hix, weights=answered & (wait_s <= sl_seconds), minlength=hours)
    wait_ans = np.bincount(hix, weights=np.where(answered, wait_s, 0.0), minlength=hours)
    ab = np.bincount(hix, weights=abandoned, minlength=hours)
    st = start_min[answered]
    busy = busy_per_bin(st, st + handle_s[answered] / 60.0, np.arange(hours + 1) * 60.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = pd.DataFrame({
            "hour_index": np.arange(hours, dtype=np.int64),
            "offered": offered.astype(np.int64),
            "answered": ans.astype(np.int64),
            "abandoned": ab.astype(np.int64),
            "service_level": np.where(offered > 0, within / offered, np.nan),
            "asa_s": np.where(ans > 0, wait_ans / ans, np.nan),
            "occupancy": np.where(agents > 0, busy / (agents * 60.0), np.nan),
            "agents": agents.astype(np.int64),
        })
    for k, v in extra.items():
        out[k] = v.astype(np.int64)
    return out


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
