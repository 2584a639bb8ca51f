"""History runs: simulated month-end snapshots against published anchors.

``snapshots.csv`` (one row per calendar month end inside the horizon) and ``anchors.yaml``
follow the contract in ``OWNERS.md``::

    month_end,registered_workers,active_workers,bookings_cum,completed_cum,calls_cum,wallet_credit_cum_paise
    anchors: [{date: 2025-06-30, quantity: registered_workers, value: 52349, source: "D1", tolerance: 0.02}]

The anchors are read from the run folder's ``anchors.yaml`` if it has one, else from
``scenarios/anchors.yaml``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from matplotlib.figure import Figure

from reports.units import count_axis, rupee_axis

#: Plain names of the snapshot columns (paise columns are drawn in rupees).
QUANTITIES = {
    "registered_workers": "registered workers",
    "active_workers": "active workers",
    "bookings_cum": "bookings since the start",
    "completed_cum": "completed jobs since the start",
    "calls_cum": "helpline calls since the start",
    "wallet_credit_cum_paise": "credited to wallets since the start [₹]",
}


def read_snapshots(path: Path) -> pd.DataFrame | None:
    """``snapshots.csv`` with ``month_end`` as dates, or None when the run has none."""
    if not path.is_file():
        return None
    df = pd.read_csv(path)
    if "month_end" not in df.columns or df.empty:
        return None
    df["month_end"] = pd.to_datetime(df["month_end"], errors="coerce")
    return df.dropna(subset=["month_end"]).reset_index(drop=True)


def read_anchors(run_dir: Path, fallback: Path) -> list[dict[str, Any]]:
    """Anchors from ``RUN_DIR/anchors.yaml`` or ``fallback``; malformed entries are skipped."""
    for p in (run_dir / "anchors.yaml", fallback):
        if p.is_file():
            try:
                raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
            except (yaml.YAMLError, ValueError):
                return []
            items = raw.get("anchors", []) if isinstance(raw, dict) else []
            return [a for a in items if isinstance(a, dict) and {"date", "quantity", "value"} <= set(a)]
    return []


def anchor_checks(snap: pd.DataFrame, anchors: list[dict[str, Any]]) -> pd.DataFrame:
    """Per anchor inside the run: the simulated value at its date and whether it is within tolerance."""
    rows = []
    for a in anchors:
        q = str(a["quantity"])
        if q not in snap.columns:
            continue
        when = pd.Timestamp(a["date"] if isinstance(a["date"], dt.date) else str(a["date"]))
        hit = snap.loc[snap["month_end"] <= when]
        if hit.empty or when > snap["month_end"].max():
            continue
        sim = float(hit[q].iloc[-1])
        value, tol = float(a["value"]), float(a.get("tolerance", 0.0) or 0.0)
        rows.append({"date": when, "quantity": q, "value": value, "tolerance": tol, "simulated": sim,
                     "source": str(a.get("source", "")), "within": abs(sim - value) <= tol * abs(value)})
    return pd.DataFrame(rows, columns=["date", "quantity", "value", "tolerance", "simulated", "source", "within"])


def figure(snap: pd.DataFrame, anchors: list[dict[str, Any]]) -> Figure:
    """One small panel per snapshot quantity: simulated line, anchors as points with tolerance bars."""
    cols = [c for c in QUANTITIES if c in snap.columns]
    checks = anchor_checks(snap, anchors)
    n = max(len(cols), 1)
    ncols = min(3, n)
    nrows = int(np.ceil(n / ncols))
    fig = Figure(figsize=(10.0, 2.6 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax, col in zip(axes, cols, strict=False):
        scale = 100.0 if col.endswith("_paise") else 1.0
        ax.plot(snap["month_end"], snap[col] / scale, color="#3b75af", lw=1.5, label="simulated")
        mine = checks[checks["quantity"] == col]
        for ok, colour, label in ((True, "#1a7f37", "anchor, within tolerance"),
                                  (False, "#cf222e", "anchor, outside tolerance")):
            sel = mine[mine["within"] == ok]
            if len(sel):
                ax.errorbar(sel["date"], sel["value"] / scale, yerr=sel["tolerance"] * sel["value"].abs() / scale,
                            fmt="o", ms=4, capsize=3, color=colour, label=label)
        ax.set_title(QUANTITIES[col], fontsize=9)
        (rupee_axis if scale != 1.0 else count_axis)(ax.yaxis)
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
        if len(mine):
            ax.legend(fontsize=7)
    for ax in axes[len(cols):]:
        ax.set_axis_off()
    return fig
