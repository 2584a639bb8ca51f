"""The measured window [warm-up, horizon): every worker KPI is taken over the same span.

Busy minutes are clipped to the window (a job straddling the warm-up end counts only its
measured part), jobs and earnings count jobs completed inside it, and the on-shift time a
worker could have been busy is counted inside it too — and, on a growing platform, only
while the worker was registered and not yet dormant.  So a warm-up deletes the warm-up's
busy time and its available time alike, and utilisation does not depend on it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MIN_PER_DAY = 1440.0


def measured_workers(workers: pd.DataFrame, bookings: pd.DataFrame, start_min: float,
                     end_min: float) -> pd.DataFrame:
    """``workers`` with ``busy_min``, ``jobs`` and ``earned_paise`` over ``[start_min, end_min)``."""
    w = bookings["worker_id"].to_numpy(dtype=np.float64, na_value=np.nan)
    has = ~np.isnan(w)
    a = bookings["assigned_min"].to_numpy(dtype=np.float64)[has]
    done = bookings["completed_min"].to_numpy(dtype=np.float64)[has]
    end = np.where(np.isnan(done), bookings["ended_min"].to_numpy(dtype=np.float64)[has], done)
    wid = w[has].astype(np.int64)
    n = len(workers)
    busy = np.clip(np.minimum(end, end_min) - np.maximum(a, start_min), 0.0, None)
    inside = (done >= start_min) & (done < end_min)
    price = bookings["price_paise"].to_numpy(dtype=np.float64, na_value=0.0)[has]
    out = workers.copy()
    out["busy_min"] = np.bincount(wid, weights=np.nan_to_num(busy), minlength=n)[:n]
    out["jobs"] = np.bincount(wid, weights=inside, minlength=n)[:n].astype(np.int64)
    out["earned_paise"] = np.bincount(wid, weights=np.where(inside, price, 0.0), minlength=n)[:n].astype(np.int64)
    return out


def available_min(workers: pd.DataFrame, start_min: float, end_min: float) -> float:
    """Mean on-shift minutes per active worker inside ``[start_min, end_min)`` [minutes]."""
    act = workers["active"].to_numpy(dtype=bool)
    if not act.any():
        return 0.0
    shift = (workers["shift_end_h"].to_numpy(dtype=np.float64) - workers["shift_start_h"].to_numpy(
        dtype=np.float64))[act] * 60.0
    days = np.full(act.sum(), (end_min - start_min) / MIN_PER_DAY)
    if "registered_min" in workers:
        lo = np.maximum(workers["registered_min"].to_numpy(dtype=np.float64)[act], start_min)
        hi = np.minimum(workers["active_until_min"].to_numpy(dtype=np.float64)[act], end_min)
        days = np.clip(hi - lo, 0.0, None) / MIN_PER_DAY
    return float(np.mean(shift * days))


def helpline_window(hourly: pd.DataFrame, start_min: float, end_min: float) -> dict[str, float | int | None]:
    """Queue KPIs of the hours inside ``[start_min, end_min)`` (rates re-weighted by their denominators)."""
    h = hourly[(hourly["hour_index"] * 60.0 >= start_min) & (hourly["hour_index"] * 60.0 < end_min)]
    off, ans = int(h["offered"].sum()), int(h["answered"].sum())
    staffed = float(h["agents"].sum())
    return {
        "calls": int(h["calls"].sum()) if "calls" in h else None,
        "offered": off, "answered": ans, "abandoned": int(h["abandoned"].sum()),
        "service_level": float((h["service_level"].fillna(0) * h["offered"]).sum() / off) if off else None,
        "asa_s": float((h["asa_s"].fillna(0) * h["answered"]).sum() / ans) if ans else None,
        "abandon_rate": float(h["abandoned"].sum() / off) if off else None,
        "occupancy": float((h["occupancy"].fillna(0) * h["agents"]).sum() / staffed) if staffed else None,
    }


def wallet_window(ledger: pd.DataFrame, start_min: float, end_min: float) -> int:
    """Money credited to wallets inside ``[start_min, end_min)`` [paise]."""
    from sim.snapshots import wallet_credits

    cr = wallet_credits(ledger)
    t = cr["time_min"].to_numpy(dtype=np.float64)
    return int(cr["amount_paise"].to_numpy()[(t >= start_min) & (t < end_min)].sum())
