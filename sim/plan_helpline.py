"""Helpline agents for a launch plan: from the calls the plan's changes cause, per hour of day.

Added calls come from causes, never from a global multiplier:

* booking-caused calls (``new_booking``, ``booking_status``, ``complaint``) grow with the
  bookings the plan adds — each planned cell's expected bookings a year minus today's;
* worker-caused calls (``worker_registration``) grow with the registered workers the plan
  recruits (``registered_equivalent`` of the worker table);
* information calls (``other``) stay as they are.

:func:`caused_calls_per_day` is the one place that turns a demand change into calls.  With
the call-cause model of the history work (``helpline.arrivals: causes``,
``sim.helpline.causes.expected_calls_per_hour``) it uses that model's rates per booking,
per registration and per registered worker; with fixed arrivals (``calls_per_day`` and
``type_shares``) it falls back to today's calls of each cause spread evenly over today's
bookings and registered workers.  Recruits are assumed to register over one year.

Agents per hour are sized for the busiest day of the horizon:
Erlang A gives a start and ``sim.helpline.staffing.simulated_agents`` corrects it by
simulation; hours when the helpline is closed today stay closed (calls then hear a
message) unless the plan adds agents there or after-hours calls queue.
"""

from __future__ import annotations

import math

import pandas as pd

from sim.config import Scenario
from sim.helpline.erlang import agents_for_sl
from sim.plan_file import ResolvedPlan

BOOKING_CAUSED = ("new_booking", "booking_status", "complaint")
WORKER_CAUSED = ("worker_registration",)


def caused_calls_per_day(today: Scenario, extra_bookings_per_year: float, extra_registered: float) -> dict[str, float]:
    """Fresh calls a day added by more bookings and more registered workers, by cause [calls/day]."""
    hl = today.helpline
    if getattr(hl, "arrivals", "fixed") == "causes":  # the call-cause model (issue 12)
        from sim.helpline.causes import expected_calls_per_hour

        per_h = expected_calls_per_hour(hl.causes, extra_bookings_per_year / 8760.0,
                                        today.demand.channel_shares.get("helpline", 0.0),
                                        extra_registered / 8760.0, extra_registered, adoption=0.0)
        return {"booking_caused": 24.0 * sum(per_h[t] for t in BOOKING_CAUSED),
                "worker_caused": 24.0 * sum(per_h[t] for t in (*WORKER_CAUSED, "other")), "information": 0.0}
    return fixed_mix_calls_per_day(today, extra_bookings_per_year, extra_registered)


def fixed_mix_calls_per_day(today: Scenario, extra_bookings_per_year: float,
                            extra_registered: float) -> dict[str, float]:
    """The fallback for fixed call arrivals: today's calls of each cause per booking / registered worker.

    Today's booking-type calls are spread evenly over today's bookings and registration
    calls over today's registered workers; the added calls are those rates times the additions.
    """
    hl = today.helpline
    per_type = {t: hl.calls_per_day * hl.type_shares.get(t, 0.0) for t in hl.type_shares}
    bookings_per_day = today.demand.bookings_per_year * today.demand.scale / 365.0
    per_booking = sum(per_type.get(t, 0.0) for t in BOOKING_CAUSED) / bookings_per_day if bookings_per_day else 0.0
    per_worker = sum(per_type.get(t, 0.0) for t in WORKER_CAUSED) / today.workforce.registered
    return {"booking_caused": per_booking * extra_bookings_per_year / 365.0,
            "worker_caused": per_worker * extra_registered,
            "information": 0.0}


def extra_bookings_per_year(rp: ResolvedPlan, workers: pd.DataFrame) -> float:
    """Bookings a year the plan adds: planned cells' expected bookings minus today's."""
    from sim.plan_rates import rate_per_year

    today = sum(rate_per_year(rp.today, c.district, c.category) for c in rp.cells)
    return float(workers["expected_bookings_per_year"].sum()) - today


def plan_calls_per_day(rp: ResolvedPlan, workers: pd.DataFrame) -> dict[str, float]:
    """Fresh calls a day the plan adds, by cause (its bookings and its recruits; cells not planned add none)."""
    ok = workers["feasible"].astype(bool)
    return caused_calls_per_day(rp.today, extra_bookings_per_year(rp, workers),
                                float(workers.loc[ok, "registered_equivalent"].sum()))


def helpline_plan(today: Scenario, agents_added: tuple[int, ...], added_calls_per_day: float, reps: int = 2,
                  seed: int = 1) -> pd.DataFrame | None:
    """Agents per hour of the busiest day: today, in the plan, and needed for today's calls plus the added."""
    from sim.helpline.staffing import offered_share, peak_day, simulated_agents

    hl = today.helpline
    if not hl.enabled or hl.calls_per_day <= 0:
        return None
    cfg = hl.model_copy(update={"calls_per_day": hl.calls_per_day + added_calls_per_day})
    share = offered_share(cfg)
    days = max(1, math.ceil(today.horizon_days))
    day, fresh_now = peak_day(hl, today.start_date, days)
    _, fresh = peak_day(cfg, today.start_date, days)
    def needed(lam_h: float, open_h: bool, h: int) -> tuple[int, int, float]:
        """(Erlang A start, simulated fewest agents, simulated service level) for one hour."""
        n0 = agents_for_sl(lam_h / 3600.0, cfg.aht_s, cfg.sl_target, cfg.sl_seconds, cfg.patience_mean_s) \
            if open_h and lam_h > 0 else 0
        if not n0:
            return 0, 0, float("nan")
        n, sl = simulated_agents(cfg, lam_h, n0, cfg.sl_target, cfg.sl_seconds, reps, 24.0, seed + h)[:2]
        return n0, n, sl

    rows = []
    for h in range(24):
        planned = hl.agents_by_hour[h] + agents_added[h]
        open_h = planned > 0 or hl.after_hours == "queue"
        n0, n, sl = needed(float(fresh[h]) * share, open_h, h)
        n_now = needed(float(fresh_now[h]) * share, open_h, h)[1] if added_calls_per_day else n
        rows.append({"hour": h, "calls_per_hour_today": float(fresh_now[h]), "calls_per_hour": float(fresh[h]),
                     "agents_today": hl.agents_by_hour[h], "agents_in_plan": planned,
                     "agents_needed_today": n_now, "agents_needed": n, "extra_agents": max(0, n - planned),
                     "agents_analytic": n0, "sim_service_level": sl, "open": open_h, "peak_day": day})
    return pd.DataFrame(rows)
