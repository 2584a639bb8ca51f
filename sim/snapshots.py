"""Monthly snapshots of a run (``snapshots.csv``): the platform's stocks and cumulative flows.

One row per calendar month end inside the horizon, taken at the end of that day (midnight
after it), cumulative from the scenario's start.  Columns (a contract with the report,
issue 17): ``month_end, registered_workers, active_workers, bookings_cum, completed_cum,
calls_cum, wallet_credit_cum_paise``.  A pure function of the output tables.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

COLUMNS = ("month_end", "registered_workers", "active_workers", "bookings_cum", "completed_cum",
           "calls_cum", "wallet_credit_cum_paise")
MIN_PER_DAY = 1440.0


def month_ends(start: dt.date, horizon_days: float) -> list[dt.date]:
    """Last days of the calendar months whose end falls inside ``[start, start + horizon)``."""
    out = []
    y, m = start.year, start.month
    while True:
        nxt = dt.date(y + (m == 12), m % 12 + 1, 1)
        end = nxt - dt.timedelta(days=1)
        if (end - start).days + 1 > horizon_days:
            break
        out.append(end)
        y, m = nxt.year, nxt.month
    return out


def _cum_at(times: np.ndarray, at: np.ndarray) -> np.ndarray:
    """How many of ``times`` fall before each of ``at`` (NaN times never count)."""
    t = np.sort(times[~np.isnan(times)])
    return np.searchsorted(t, at, side="left").astype(np.int64)


def wallet_credits(ledger: pd.DataFrame) -> pd.DataFrame:
    """Money credited to workers' wallets: (``time_min``, ``amount_paise``) per credit.

    A credit is a positive wallet leg other than a failed payout coming back.
    """
    m = ledger["account"].str.startswith("wallet:") & (ledger["amount_paise"] > 0) \
        & (ledger["kind"] != "payout_failed")
    return ledger.loc[m, ["time_min", "amount_paise"]]


def snapshots(start: dt.date, horizon_days: float, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The ``snapshots.csv`` table of one run (see the module docstring)."""
    ends = month_ends(start, horizon_days)
    at = np.array([((e - start).days + 1) * MIN_PER_DAY for e in ends], dtype=np.float64)
    wk = tables["workers"]
    n_w = len(wk)
    if "registered_min" in wk:
        reg = wk["registered_min"].to_numpy(dtype=np.float64)
        until = wk["active_until_min"].to_numpy(dtype=np.float64)
        act = wk["active"].to_numpy(dtype=bool)
        registered = _cum_at(reg, at)
        active = np.array([int((act & (reg < a) & (a <= until)).sum()) for a in at], dtype=np.int64)
    else:
        registered = np.full(at.size, n_w, dtype=np.int64)
        active = np.full(at.size, int(wk["active"].sum()), dtype=np.int64)
    bk = tables["bookings"]
    calls = np.zeros(at.size, dtype=np.int64)
    if "helpline_hourly" in tables:
        hh = tables["helpline_hourly"]
        cum = np.concatenate([[0], np.cumsum(hh["calls"].to_numpy(dtype=np.int64))])
        calls = cum[np.minimum((at // 60.0).astype(np.int64), len(hh))]
    credit = np.zeros(at.size, dtype=np.int64)
    if "ledger" in tables:
        cr = wallet_credits(tables["ledger"])
        t = cr["time_min"].to_numpy(dtype=np.float64)
        order = np.argsort(t, kind="stable")
        cum = np.concatenate([[0], np.cumsum(cr["amount_paise"].to_numpy(dtype=np.int64)[order])])
        credit = cum[np.searchsorted(t[order], at, side="left")]
    return pd.DataFrame({
        "month_end": [e.isoformat() for e in ends],
        "registered_workers": registered,
        "active_workers": active,
        "bookings_cum": _cum_at(bk["created_min"].to_numpy(dtype=np.float64), at),
        "completed_cum": _cum_at(bk["completed_min"].to_numpy(dtype=np.float64), at),
        "calls_cum": calls,
        "wallet_credit_cum_paise": credit,
    }, columns=list(COLUMNS))


def value_at(snap: pd.DataFrame, quantity: str, date: dt.date) -> float:
    """A snapshot column at any date, linear between month ends (the anchors' dates)."""
    x = np.array([dt.date.fromisoformat(d).toordinal() for d in snap["month_end"]], dtype=np.float64)
    return float(np.interp(date.toordinal(), x, snap[quantity].to_numpy(dtype=np.float64)))
