"""Fewest agents per hour for a service-level target: analytic first, then simulated.

For each hour of a typical week (hour x weekday profile, average month) and of the peak
day of the scenario's horizon, the offered rate is the fresh-call rate times the share of
calls that get past the IVR [calls/hour].  Erlang A (or C without patience) gives the
fewest agents; each hour is then simulated as a stationary interval with the scenario's
own handle-time distribution (e.g. lognormal, which Erlang does not assume) and the count
is corrected: raised while the simulated service level (and, optionally, the abandonment
cap) misses the target, lowered while one agent fewer still meets it.  Redials are not fed back into the offered rate.
Hours when the helpline is closed today (no agent on duty) stay closed: their callers hear
the opening-hours message, so no agent is needed there — unless after-hours calls queue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd

from sim.calendar import Calendar
from sim.errors import ScenarioError
from sim.helpline.config import HelplineConfig
from sim.helpline.engine import handle_times_s, hourly_rate
from sim.helpline.erlang import agents_for_sl
from sim.helpline.stationary import Stationary, run_stationary

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_STEPS = 30
MIN_CALLS = 5_000  # per replication: quiet hours are simulated longer so their SL is as precise


def parse_sl(text: str) -> tuple[float, float]:
    """``"80/20"`` → (0.80 target, 20 s threshold)."""
    try:
        pct, sec = (float(x) for x in text.split("/"))
    except ValueError:
        raise ScenarioError(f"sl: expected PERCENT/SECONDS such as 80/20 (got {text!r})") from None
    if not 0 < pct < 100 or sec < 0:
        raise ScenarioError(f"sl: percent must be in (0, 100) and seconds >= 0 (got {text!r})")
    return pct / 100.0, sec


def offered_share(cfg: HelplineConfig) -> float:
    """Share of fresh calls that reach the agent queue (not ended in the IVR)."""
    return float(np.dot(cfg.type_probs(), 1.0 - np.asarray(cfg.ivr_probs())))


def week_rates(cfg: HelplineConfig) -> np.ndarray:
    """Fresh calls per hour for each hour of a typical week (Monday 00:00 first)."""
    hp = np.asarray(cfg.hour_profile) / np.mean(cfg.hour_profile)
    wp = np.asarray(cfg.weekday_profile) / np.mean(cfg.weekday_profile)
    return cfg.calls_per_day / 24.0 * (wp[:, None] * hp[None, :]).ravel()


def peak_day(cfg: HelplineConfig, start: dt.date, days: int) -> tuple[int, np.ndarray]:
    """Index of the busiest day of the horizon and its 24 hourly fresh-call rates."""
    rate = hourly_rate(cfg, Calendar(start), max(1, days) * 24).reshape(-1, 24)
    d = int(np.argmax(rate.sum(axis=1)))
    return d, rate[d]


def simulated_agents(cfg: HelplineConfig, lam_h: float, n0: int, target: float, t_s: float,
                     reps: int, hours: float, seed: int, min_calls: int = MIN_CALLS,
                     max_abandon: float | None = None) -> tuple[int, float, float]:
    """Correct the analytic count ``n0`` by simulation; returns (agents, simulated SL, abandon rate).

    Every count is simulated with the same seed (common random numbers), so neighbouring
    counts differ by the staffing, not by the noise.
    """
    if lam_h <= 0:
        return 0, float("nan"), float("nan")
    hours = max(hours, min_calls / lam_h)

    def check(n: int) -> tuple[bool, float, float]:
        p = Stationary(lam_h, cfg.aht_s, n, cfg.patience_mean_s, t_s, hours=hours)
        r = run_stationary(p, reps, seed, handle=lambda g, k: handle_times_s(cfg, g, k))
        ok = r["service_level"] >= target and (max_abandon is None or r["abandon_rate"] <= max_abandon)
        return ok, r["service_level"], r["abandon_rate"]

    n = n0
    ok, s, ab = check(n)
    steps = 0
    while not ok and steps < MAX_STEPS:
        n, steps = n + 1, steps + 1
        ok, s, ab = check(n)
    if steps:
        return n, s, ab
    while n > 1 and steps < MAX_STEPS:
        ok_less, s_less, ab_less = check(n - 1)
        if not ok_less:
            break
        n, s, ab, steps = n - 1, s_less, ab_less, steps + 1
    return n, s, ab


def staffing_table(cfg: HelplineConfig, start: dt.date, horizon_days: int, target: float, t_s: float,
                   reps: int = 5, hours: float = 24.0, seed: int = 1, min_calls: int = MIN_CALLS,
                   max_abandon: float | None = None,
                   progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """One row per hour of the typical week (168) and of the peak day (24); ``progress(done, total)``."""
    share = offered_share(cfg)
    pd_idx, pd_rates = peak_day(cfg, start, horizon_days)
    pd_date = start + dt.timedelta(days=pd_idx)
    week_now = np.asarray(cfg.week_agents())
    rows = [("typical_week", DAYS[k // 24], k % 24, r, int(week_now[k])) for k, r in enumerate(week_rates(cfg))]
    rows += [("peak_day", pd_date.isoformat(), h, r, int(week_now[pd_date.weekday() * 24 + h]))
             for h, r in enumerate(pd_rates)]
    out = []
    for i in range(len(rows)):
        period, day, hour, fresh, now = rows[i]
        lam_h = fresh * share if now > 0 or cfg.after_hours == "queue" else 0.0  # closed hours stay closed
        n_an = agents_for_sl(lam_h / 3600.0, cfg.aht_s, target, t_s, cfg.patience_mean_s,
                             max_abandon=max_abandon) if lam_h > 0 else 0
        n_sim, sl_sim, ab_sim = simulated_agents(cfg, lam_h, n_an, target, t_s, reps, hours, seed + i,
                                                 min_calls, max_abandon)
        out.append({"period": period, "day": day, "hour": hour, "calls_per_hour": fresh,
                    "offered_per_hour": lam_h, "erlangs": lam_h * cfg.aht_s / 3600.0,
                    "agents_analytic": n_an, "agents_simulated": n_sim, "sim_service_level": sl_sim,
                    "sim_abandon_rate": ab_sim,
                    "agents_now": now})
        if progress is not None:
            progress(i + 1, len(rows))
    return pd.DataFrame(out)
