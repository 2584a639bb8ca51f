"""The report's figures: pure functions of a ``RunData`` returning matplotlib Figures.

A function returns ``None`` when the run lacks the table it needs (e.g. no helpline), so
the report simply leaves that section out.  Figures use the object API (never pyplot), so
nothing depends on global figure state; sizes are fixed for byte-stable PNGs.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from reports.load import RunData
from reports.units import count_axis, rupee_axis, rupees
from sim.calendar import Calendar

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: Width of a full-row figure [inches] (at the report's 100 dpi: 1,000 px).
WIDE = 10.0


def _counts(values: np.ndarray, n: int, start: int = 0) -> np.ndarray:
    return np.bincount(np.asarray(values, dtype=np.int64) - start, minlength=n)[:n]


def _per_day(values: np.ndarray, days_values: np.ndarray, n: int, start: int = 0) -> np.ndarray:
    """Bookings per calendar day in each class (hour/weekday/month), over the days observed."""
    days = np.maximum(_counts(days_values, n, start), 1)
    return _counts(values, n, start) / days


def demand_figure(run: RunData) -> Figure:
    """Mean bookings per day by hour of day, weekday and calendar month [bookings/day]."""
    t = run.measured_bookings()["created_min"].to_numpy(dtype=np.float64)
    cal = Calendar(run.start_date)
    # One time point per measured day tells how many days of each weekday/month were observed.
    day0 = np.ceil(run.warmup_min / 1440.0)
    days = (np.arange(day0, day0 + max(int(np.ceil(run.measured_days)), 1)) + 0.5) * 1440.0
    n_days = max(run.measured_days, 1e-9)
    fig = Figure(figsize=(WIDE, 3.0), layout="constrained")
    ax_h, ax_w, ax_m = fig.subplots(1, 3, width_ratios=(2.2, 1, 1.6))
    ax_h.bar(np.arange(24), _counts(cal.hour_of(t), 24) / n_days, color="#3b75af")
    ax_h.set(xlabel="hour of day (IST)", ylabel="bookings per day", xticks=range(0, 24, 3), title="By hour")
    ax_w.bar(np.arange(7), _per_day(cal.weekday_of(t), cal.weekday_of(days), 7), color="#3b75af")
    ax_w.set(xticks=range(7), ylabel="bookings per day", title="By weekday")
    ax_w.set_xticklabels([w[:2] for w in WEEKDAYS])
    seen = _counts(cal.month_of(days), 12, start=1) > 0
    ax_m.bar(np.arange(12), _per_day(cal.month_of(t), cal.month_of(days), 12, start=1), color="#3b75af")
    for m in np.flatnonzero(~seen):
        ax_m.axvspan(m - 0.5, m + 0.5, color="#eeeeee", zorder=0)
    ax_m.set(xticks=range(12), ylabel="bookings per day", title="By month (grey: not simulated)")
    ax_m.set_xticklabels([m[0] for m in MONTHS])
    return fig


def waits(run: RunData) -> np.ndarray:
    """Waits from booking to assignment of measured, assigned bookings [minutes], sorted."""
    bk = run.measured_bookings()
    w = (bk["assigned_min"] - bk["created_min"]).dropna().to_numpy(dtype=np.float64)
    return np.sort(w)


def note(ax, text: str) -> None:
    """Replace an empty or uninformative plot by a sentence saying what there is (and why no plot)."""
    ax.text(0.5, 0.5, textwrap.fill(text, 42), ha="center", va="center", fontsize=9, color="#444444",
            transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for side in ax.spines.values():
        side.set_visible(False)


#: Fewest values worth a histogram; below this the plot is replaced by a sentence.
MIN_HIST = 10


def wait_figure(run: RunData) -> Figure:
    """Distribution of the wait to assignment: histogram (log bins) and ECDF with p50/p90.

    The ECDF's axis is logarithmic when the waits span more than two orders of magnitude
    (typical: most bookings are taken in minutes, a few wait for the next morning).
    """
    w = waits(run)
    fig = Figure(figsize=(WIDE, 3.0), layout="constrained")
    ax_h, ax_e = fig.subplots(1, 2)
    ax_h.set_title("Histogram")
    ax_e.set_title("Cumulative distribution")
    if not w.size:
        for ax in (ax_h, ax_e):
            note(ax, "No booking was assigned to a worker in the measured period.")
        return fig
    floor = 0.1  # minutes: waits below six seconds are drawn at 0.1 on log axes
    wl = np.maximum(w, floor)
    bins = np.geomspace(wl.min(), max(wl.max(), floor * 10) * 1.01, 30)
    ax_h.hist(wl, bins=bins, color="#3b75af")
    ax_h.set_xscale("log")
    log = wl.max() / wl.min() > 100
    ax_e.step(wl if log else w, np.arange(1, w.size + 1) / w.size, where="post", color="#3b75af")
    for q, ls in ((0.5, ":"), (0.9, "--")):
        v = float(np.quantile(w, q))
        ax_e.axvline(max(v, floor) if log else v, color="#c0392b", ls=ls, lw=1,
                     label=f"p{int(q * 100)} = {v:,.1f} min")
    ax_e.legend(loc="lower right", fontsize=8)
    if log:
        ax_e.set_xscale("log")
    ax_h.set(xlabel="wait to assignment [minutes, log scale]", ylabel="assigned bookings")
    ax_e.set(xlabel=f"wait to assignment [minutes{', log scale' if log else ''}]",
             ylabel="share of assigned bookings", ylim=(0, 1.02))
    for ax in (ax_h, ax_e):
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.1f}" if v < 1 else f"{v:,.0f}"))
    return fig


def worker_frame(run: RunData) -> pd.DataFrame:
    """Active workers with utilisation (busy / on-shift time) and monthly earnings [Rs]."""
    wk = run.workers[run.workers["active"]].copy()
    shift_min = (wk["shift_end_h"] - wk["shift_start_h"]).clip(lower=1) * 60.0 * run.measured_days
    wk["utilisation"] = wk["busy_min"] / shift_min
    wk["earned_rs_month"] = wk["gross_paise"] / 100.0 * 30.0 / run.measured_days
    return wk


def lorenz(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lorenz curve points (population share, cumulative share of the total)."""
    x = np.sort(np.asarray(x, dtype=np.float64))
    cum = np.concatenate([[0.0], np.cumsum(x)])
    total = cum[-1] if cum[-1] > 0 else 1.0
    return np.linspace(0.0, 1.0, x.size + 1), cum / total


def workers_figure(run: RunData) -> Figure:
    """Utilisation and earnings of active workers, with the earnings Lorenz curve."""
    wk = worker_frame(run)
    fig = Figure(figsize=(WIDE, 3.0), layout="constrained")
    ax_u, ax_e, ax_l = fig.subplots(1, 3)
    working = wk["jobs"] > 0
    u = wk.loc[working, "utilisation"].clip(0, 1)
    ax_u.set_title(f"Utilisation of the {int(working.sum()):,} workers with a job")
    if len(u) < MIN_HIST or float(u.max() - u.min()) < 1e-9:
        note(ax_u, f"{len(u):,} active workers had a job"
                   + (f", all at {float(u.mean()):.1%} utilisation." if len(u) else "."))
    else:
        top = min(1.0, max(0.01, float(u.quantile(0.99)) * 1.05))  # zoom on where workers are
        ax_u.hist(u.clip(upper=top), bins=np.linspace(0, top, 21), color="#3b75af")
        ax_u.set(xlabel="utilisation (busy / on-shift time)", ylabel="workers with ≥1 job")
        ax_u.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.0%}" if top >= 0.1 else f"{v:.1%}"))
        count_axis(ax_u.yaxis)
    paid = wk.loc[wk["jobs"] > 0, "earned_rs_month"]
    share_idle = float((wk["jobs"] == 0).mean()) if len(wk) else float("nan")
    ax_e.set_title(f"Earnings ({share_idle:.0%} of active had no job)")
    if len(paid) < MIN_HIST:
        note(ax_e, f"Only {len(paid):,} workers had a job"
                   + (f"; median earnings {rupees(float(paid.median()))} per 30 days." if len(paid) else "."))
    else:
        ax_e.hist(paid, bins=20, color="#3b75af")
        ax_e.set(xlabel="earnings [₹ per 30 days]", ylabel="workers with ≥1 job")
        rupee_axis(ax_e.xaxis)
        count_axis(ax_e.yaxis)
    p, c = lorenz(wk["gross_paise"].to_numpy())
    ax_l.plot(p, c, color="#3b75af")
    ax_l.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax_l.set(xlabel="share of active workers", ylabel="share of earnings", title="Lorenz curve",
             xlim=(0, 1), ylim=(0, 1))
    return fig


def helpline_by_hour(run: RunData) -> pd.DataFrame | None:
    """Helpline offered/answered/abandoned, service level and agents by hour of day (or None)."""
    hh = run.table("helpline_hourly")
    if hh is None or hh.empty:
        return None
    h = hh.assign(hour=(hh["hour_index"].astype(np.int64) % 24),
                  sl_x_offered=hh["service_level"].fillna(0) * hh["offered"])
    g = h.groupby("hour", sort=True).agg(offered=("offered", "sum"), answered=("answered", "sum"),
                                         abandoned=("abandoned", "sum"), sl_x=("sl_x_offered", "sum"),
                                         agents=("agents", "mean"))
    g = g.reindex(range(24), fill_value=0)
    off = g["offered"].replace(0, np.nan)
    g["service_level"] = g["sl_x"] / off
    g["abandonment"] = g["abandoned"] / off
    return g.drop(columns="sl_x")


def helpline_figure(run: RunData) -> Figure | None:
    """Helpline service level and abandonment by hour of day, with agents on duty."""
    g = helpline_by_hour(run)
    if g is None:
        return None
    fig = Figure(figsize=(WIDE, 3.0), layout="constrained")
    ax_s, ax_v = fig.subplots(1, 2)
    hours = np.arange(24)
    ax_s.plot(hours, g["service_level"], marker="o", ms=3, label="service level")
    ax_s.plot(hours, g["abandonment"], marker="s", ms=3, color="#c0392b", label="abandonment")
    ax_s.set(xlabel="hour of day (IST)", ylabel="share of offered calls", ylim=(0, 1.02),
             xticks=range(0, 24, 3), title="Service level and abandonment")
    ax_s.legend(fontsize=8)
    ax_v.bar(hours, g["offered"], color="#9ecae1", label="offered calls")
    ax_v.set(xlabel="hour of day (IST)", ylabel="calls", xticks=range(0, 24, 3), title="Calls and agents")
    ax_a = ax_v.twinx()
    ax_a.step(hours, g["agents"], where="mid", color="#08519c", label="agents (mean)")
    ax_a.set_ylabel("agents on duty")
    ax_v.legend(loc="upper left", fontsize=8)
    ax_a.legend(loc="upper right", fontsize=8)
    return fig


#: Plain words for the ledger's transaction kinds.
KIND_LABELS = {
    "payment_online": "citizens paid online (UPI)",
    "payment_cash": "citizens paid cash",
    "completion": "credited to workers' wallets",
    "payout": "payouts started to workers' banks",
    "payout_settled": "payouts settled by the bank",
    "payout_failed": "payouts returned (failed)",
    "refund": "refunded to citizens",
    "cancellation_fee": "cancellation fees",
    "penalty": "worker cancellation penalties",
}


def wallet_flows(run: RunData) -> pd.Series | None:
    """Total money moved per ledger ``kind`` [paise] (positive legs), or None."""
    led = run.table("ledger")
    if led is None or led.empty:
        return None
    pos = led[led["amount_paise"] > 0]
    return pos.groupby("kind", sort=True)["amount_paise"].sum().astype(np.int64)


def wallet_figure(run: RunData) -> Figure | None:
    """Money moved by kind of transaction [₹] and worker wallet balances at the end [₹]."""
    flows = wallet_flows(run)
    wal = run.table("wallets")
    if flows is None and wal is None:
        return None
    fig = Figure(figsize=(WIDE, 3.2), layout="constrained")
    ax_f, ax_b = fig.subplots(1, 2, width_ratios=(1.2, 1))
    ax_f.set_title("Money moved, by kind of transaction")
    if flows is not None and len(flows):
        labels = [KIND_LABELS.get(str(k), str(k).replace("_", " ")) for k in flows.index]
        bars = ax_f.barh(labels, flows.to_numpy() / 100.0, color="#3b75af")
        ax_f.bar_label(bars, labels=[rupees(v, paise=True) for v in flows.to_numpy()], fontsize=7, padding=2)
        ax_f.set_xlabel("total over the run [₹]")
        ax_f.margins(x=0.3)
        rupee_axis(ax_f.xaxis)
        ax_f.invert_yaxis()
    else:
        note(ax_f, "No money moved through the ledger.")
    ax_b.set_title("Wallet balances at the end")
    if wal is not None and len(wal):
        bal = wal["balance_paise"].to_numpy(dtype=np.float64) / 100.0
        held = np.sort(bal[bal != 0])
        if held.size < 2 * MIN_HIST:
            shown = ": " + ", ".join(rupees(v) for v in held[:5]) if held.size else ""
            note(ax_b, f"Only {held.size:,} of {bal.size:,} workers hold money at the end{shown}"
                       + (", …" if held.size > 5 else "."))
        else:
            ax_b.hist(held, bins=20, color="#3b75af")
            ax_b.set(xlabel="wallet balance at the end [₹]",
                     ylabel=f"workers ({held.size:,} of {bal.size:,} hold money)")
            rupee_axis(ax_b.xaxis)
            count_axis(ax_b.yaxis)
            ax_b.tick_params(axis="x", labelrotation=20)
    else:
        note(ax_b, "No wallet table in this run.")
    return fig


def snapshots_figure(run: RunData) -> Figure | None:
    """Month-end snapshots against published anchors (history runs only), else None."""
    snap = run.table("snapshots")
    if snap is None:
        return None
    from reports.snapshots import figure

    return figure(snap, run.anchors)
