"""What the planner's answers are judged on: targets, KPIs per replication, verdicts on 95% CIs.

The words (``decide``):

* A count **meets the targets with 95% confidence** ("pass") when, for every target, the
  two-sided 95% t interval over replications of the KPI it is judged on lies wholly on the
  target's side (fulfilment's lower bound at or above it; for a wait quantile, the share of
  waits above the limit at or below ``1 - q``, see ``judged``).
* It **misses them with confidence** ("fail") when some target's interval lies wholly on
  the wrong side; otherwise it is a **tie** (an interval straddles a target).
* **One fewer does not meet them with confidence**: one fewer worker than the answer is not
  "pass" (a tie or a fail) on the same replications as the answer.

The search that uses these verdicts is ``sim.planner_search``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sim.errors import InputError
from sim.experiments.stats import Interval, mean_ci, reps_needed
from sim.metrics import kpis_of
from sim.targets import Target
from sim.targets import parse_targets as parse_target_text

#: The planner's target vocabulary → keys of ``sim.metrics.booking_kpis``.
METRICS = {
    "fulfilment": "fulfilment_rate",
    "p50_wait_min": "wait_assign_p50_min",
    "p90_wait_min": "wait_assign_p90_min",
    "mean_wait_min": "wait_assign_mean_min",
}
#: Wait quantile implied by each wait target.
QUANTILE = {"p50_wait_min": 0.5, "p90_wait_min": 0.9, "mean_wait_min": 0.5}
_VERDICT = {"met": "pass", "missed": "fail", "unsure": "tie"}


def judge(t: Target, ci: Interval) -> str:
    """``"pass"`` if all of ``ci`` meets ``t``, ``"fail"`` if none of it does, else ``"tie"``."""
    return _VERDICT[t.verdict(ci.lo, ci.hi)]


def parse_targets(text: str) -> tuple[Target, ...]:
    """``"fulfilment>=0.8,p90_wait_min<=60"`` → targets (the one grammar of ``sim.targets``).

    The planner also wants each bound in its useful direction and range.
    """
    out = tuple(parse_target_text(text, METRICS))
    if not out:
        raise InputError("--target: no target given")
    for t in out:
        want = "<=" if t.metric != "fulfilment" else ">="
        if t.op != want:
            raise InputError(f"--target: {t.metric} needs {want} (a bound in the useful direction)")
        if t.metric == "fulfilment" and not 0 < t.value <= 1:
            raise InputError("--target: fulfilment must be in (0, 1]")
        if t.metric != "fulfilment" and t.value <= 0:
            raise InputError(f"--target: {t.metric} must be > 0 minutes")
    return out


#: Per-replication KPIs of one category: metric name → one value per replication, and
#: ``"waits"`` → one array of waits to assignment [minutes] per replication.
RepKpis = dict[str, Any]


def rep_kpis(bookings: Mapping[str, Any], categories: list[str], since_min: float = 0.0) -> dict[str, dict[str, Any]]:
    """KPIs per category of one replication's bookings created at or after ``since_min``, keyed by target metric name.

    ``bookings``: the bookings table, or its columns as arrays (``sim.runner.booking_columns``).
    """
    cols = {c: np.asarray(bookings[c], dtype=None if c in ("category", "status") else np.float64)
            for c in ("category", "status", "created_min", "assigned_min", "travel_km", "rating")}
    keep = np.flatnonzero(cols["created_min"] >= since_min)
    cat = cols["category"][keep]
    out = {}
    for c in categories:
        at = keep[cat == c]
        k = kpis_of(*(cols[n][at] for n in ("status", "created_min", "assigned_min", "travel_km", "rating")))
        wait = cols["assigned_min"][at] - cols["created_min"][at]
        out[c] = {"bookings": float(k["bookings"]), **{m: float(k[key]) for m, key in METRICS.items()},
                  "waits": wait[~np.isnan(wait)]}
    return out


def exceedance(waits: list[np.ndarray], limit_min: float) -> np.ndarray:
    """Per replication, the share of assigned bookings that waited longer than ``limit_min`` (NaN if none)."""
    return np.array([float(np.mean(w > limit_min)) if len(w) else np.nan for w in waits])


def pooled_quantile(kpis: RepKpis, q: float) -> tuple[float, float]:
    """The ``q`` quantile of all replications' waits pooled, and its upper 95% bound [minutes].

    The bound is the pooled quantile at ``q + h``, where ``h`` is the half-width of the 95%
    CI over replications of the share of waits above the pooled quantile.
    """
    waits = kpis.get("waits", [])
    allw = np.concatenate(waits) if len(waits) else np.zeros(0)
    if allw.size == 0:
        return float("nan"), float("nan")
    x = float(np.quantile(allw, q))
    h = mean_ci(exceedance(waits, x)).half_width
    return x, float(np.quantile(allw, min(1.0, q + h))) if np.isfinite(h) else float("nan")


def judged(t: Target, kpis: RepKpis) -> tuple[Target, np.ndarray]:
    """The bound a target is judged on, and the per-replication values whose 95% CI judges it.

    A wait quantile target ``pQ_wait_min <= T`` is met when the share of waits above ``T``
    is at most ``1 - Q`` (equivalent for the pooled quantile), judged on that share's CI over
    replications: a per-replication p90 of a few dozen bookings is too heavy-tailed (one
    night's backlog) for a t interval.  Other targets are judged on their own KPI.
    """
    if t.metric in ("p50_wait_min", "p90_wait_min"):
        share = Target("share_above_limit", "<=", 1.0 - QUANTILE[t.metric])
        return share, exceedance(kpis.get("waits", []), t.value)
    return t, np.asarray(kpis.get(t.metric, np.zeros(0)), dtype=np.float64)


def target_verdict(t: Target, kpis: RepKpis) -> str:
    """Verdict on one target: ``"pass"``, ``"fail"`` or ``"tie"`` (see ``judged``)."""
    bound, values = judged(t, kpis)
    return judge(bound, mean_ci(values))


def resolution_width(t: Target, resolution: float) -> float:
    """The CI half-width at which an undecided verdict on ``t`` is a genuine tie.

    ``resolution`` is in share units for the shares (fulfilment, the share of waits above a
    quantile's limit) and a fraction of the bound for the mean wait [minutes].
    """
    return resolution * t.value if t.metric == "mean_wait_min" else resolution


def reps_to_resolve(kpis: RepKpis, targets: tuple[Target, ...], resolution: float, most: int) -> int:
    """Replications after which every undecided target's CI would be ``resolution`` wide (at most ``most``).

    The sequential rule of ``sim.experiments.stats.reps_needed`` on each undecided target's
    per-replication values (at their current spread); decided targets need nothing more.
    """
    n = 0
    for t in targets:
        bound, values = judged(t, kpis)
        if judge(bound, mean_ci(values)) == "tie":
            n = max(n, reps_needed(values, resolution_width(t, resolution), max_reps=most))
    return n


def decide(kpis: RepKpis, targets: tuple[Target, ...]) -> str:
    """``"pass"`` (every target met with 95% confidence), ``"fail"`` (one missed with confidence) or ``"tie"``.

    A category without bookings in any replication has nothing to miss (``"pass"``).
    """
    if float(np.sum(kpis.get("bookings", 0.0))) == 0:
        return "pass"
    verdicts = [target_verdict(t, kpis) for t in targets]
    if all(v == "pass" for v in verdicts):
        return "pass"
    return "fail" if "fail" in verdicts else "tie"


def stack(rows: list[dict[str, Any]]) -> RepKpis:
    """Per-replication dicts → one ``RepKpis`` (scalars as arrays, waits as a list of arrays)."""
    return {m: [r[m] for r in rows] if m == "waits" else np.array([r[m] for r in rows]) for m in rows[0]}
