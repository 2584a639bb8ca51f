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


def _q(x: pd.Series, q: float) -> float:
    return float(np.nanquantile(x.to_numpy(dtype=np.float64), q)) if x.notna().any() else float("nan")


def booking_kpis(bk: pd.DataFrame) -> dict[str, float]:
    """Fulfilment, waits to assignment [minutes], travel [km per job], rating of a set of bookings."""
    n = len(bk)
    done = bk["status"] == "completed"
    wait = (bk["assigned_min"] - bk["created_min"]).dropna()
    return {
        "bookings": int(n),
        "completed": int(done.sum()),
        "cancelled": int((bk["status"] == "cancelled").sum()),
        "unfulfilled": int((bk["status"] == "unfulfilled").sum()),
        "fulfilment_rate": float(done.mean()) if n else float("nan"),
        "wait_assign_mean_min": float(wait.mean()) if len(wait) else float("nan"),
        "wait_assign_p50_min": _q(wait, 0.5),
        "wait_assign_p90_min": _q(wait, 0.9),
        "travel_km_per_job": float(bk.loc[done, "travel_km"].mean()) if done.any() else float("nan"),
        "avg_rating": float(bk["rating"].mean()) if bk["rating"].notna().any() else float("nan"),
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
    by_b = dict(tuple(bk.groupby("district", sort=True)))
    by_w = dict(tuple(wk.groupby("district", sort=True)))
    for d, pop in zip(districts["district"], districts["population_2011"], strict=True):
        b = by_b.get(d, bk.iloc[0:0])
        w = by_w.get(d, wk.iloc[0:0])
        k = booking_kpis(b)
        act = w[w["active"]] if len(w) else w
        rows.append({
            "district": d, "population_2011": int(pop), "workers": int(len(w)), "active_workers": int(len(act)),
            "bookings": k["bookings"], "completed": k["completed"], "cancelled": k["cancelled"],
            "unfulfilled": k["unfulfilled"], "fulfilment_rate": k["fulfilment_rate"],
            "wait_assign_p50_min": k["wait_assign_p50_min"], "wait_assign_p90_min": k["wait_assign_p90_min"],
            "utilisation": float(act["busy_min"].sum() / (len(act) * available_min))
            if len(act) and available_min > 0 else 0.0,
        })
    return pd.DataFrame(rows)
