"""KPIs from the output tables (pure functions of DataFrames: reports and experiments reuse them)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def gini(x: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 = equal, →1 = one holds all); NaN if empty."""
    x = np.sort(np.asarray(x, dtype=np.float64))
    n = x.size
    if n == 0:
        return float("nan")
    total = x.sum()
    if total <= 0:
        return 0.0
    ranks = np.arange(1, n + 1)
    return float((2 * (ranks * x).sum()) / (n * total) - (n + 1) / n)


def _mean(x: np.ndarray) -> float:
    """Mean skipping NaN, as pandas computes it (NaN read as 0 in the sum, divided by the count)."""
    nan = np.isnan(x)
    count = x.size - int(nan.sum())
    if count == 0:
        return float("nan")
    return float((np.where(nan, 0.0, x) if nan.any() else x).sum() / count)


def booking_kpis(bk: pd.DataFrame) -> dict[str, float]:
    """Fulfilment, waits to assignment [minutes], travel [km per job], rating of a set of bookings."""
    return kpis_of(bk["status"].to_numpy(), bk["created_min"].to_numpy(np.float64),
                 bk["assigned_min"].to_numpy(np.float64), bk["travel_km"].to_numpy(np.float64),
                 bk["rating"].to_numpy(np.float64))


def kpis_of(status: np.ndarray, created: np.ndarray, assigned: np.ndarray, travel: np.ndarray,
          rating: np.ndarray) -> dict[str, float]:
    """``booking_kpis`` on the columns as arrays (a district's slice costs no DataFrame work)."""
    n = status.size
    done = status == "completed"
    wait = assigned - created
    wait = wait[~np.isnan(wait)]
    has_wait = wait.size > 0
    return {
        "bookings": int(n),
        "completed": int(done.sum()),
        "cancelled": int((status == "cancelled").sum()),
        "unfulfilled": int((status == "unfulfilled").sum()),
        "fulfilment_rate": float(done.mean()) if n else float("nan"),
        "wait_assign_mean_min": float(wait.mean()) if has_wait else float("nan"),
        "wait_assign_p50_min": float(np.nanquantile(wait, 0.5)) if has_wait else float("nan"),
        "wait_assign_p90_min": float(np.nanquantile(wait, 0.9)) if has_wait else float("nan"),
        "travel_km_per_job": _mean(travel[done]) if done.any() else float("nan"),
        "avg_rating": _mean(rating),
    }


def worker_kpis(wk: pd.DataFrame, available_min: float) -> dict[str, float]:
    """Utilisation and earnings inequality over active workers.

    Utilisation = busy minutes / (active workers × ``available_min``), where
    ``available_min`` is the on-shift time per worker over the measured period [minutes].
    """
    act = wk[wk["active"]]
    n = len(act)
    return {
        "workers_registered": int(len(wk)),
        "workers_active": int(n),
        "utilisation": float(act["busy_min"].sum() / (n * available_min)) if n and available_min > 0 else 0.0,
        "gini_earnings": gini(act["gross_paise"].to_numpy()) if n else float("nan"),
        "share_workers_no_job": float((act["jobs"] == 0).mean()) if n else float("nan"),
    }


def district_table(bk: pd.DataFrame, wk: pd.DataFrame, districts: pd.DataFrame, available_min: float) -> pd.DataFrame:
    """KPIs per district (``districts`` has ``district, population_2011``), sorted by name."""
    rows = []
    # Row positions per district (in table order), then array slices: no per-district DataFrames.
    at_b = bk.groupby("district", sort=True).indices if len(bk) else {}
    at_w = wk.groupby("district", sort=True).indices if len(wk) else {}
    cols = [bk[c].to_numpy() if c == "status" else bk[c].to_numpy(np.float64)
            for c in ("status", "created_min", "assigned_min", "travel_km", "rating")]
    active, busy = wk["active"].to_numpy(bool), wk["busy_min"].to_numpy(np.float64)
    none = np.zeros(0, dtype=np.int64)
    for d, pop in zip(districts["district"], districts["population_2011"], strict=True):
        ib, iw = at_b.get(d, none), at_w.get(d, none)
        k = kpis_of(*(c[ib] for c in cols))
        act = iw[active[iw]]
        rows.append({
            "district": d, "population_2011": int(pop), "workers": int(iw.size), "active_workers": int(act.size),
            "bookings": k["bookings"], "completed": k["completed"], "cancelled": k["cancelled"],
            "unfulfilled": k["unfulfilled"], "fulfilment_rate": k["fulfilment_rate"],
            "wait_assign_p50_min": k["wait_assign_p50_min"], "wait_assign_p90_min": k["wait_assign_p90_min"],
            "utilisation": float(busy[act].sum() / (act.size * available_min))
            if act.size and available_min > 0 else 0.0,
        })
    return pd.DataFrame(rows)
