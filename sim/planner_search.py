"""The expansion planner's search: targets, decisions on confidence intervals, bisection.

For one district the categories are independent queues (planning runs give workers a
single skill), so one simulation evaluates every category at once: each category keeps its
own bracket ``(lo, hi]`` — ``lo`` is not known to meet the targets, ``hi`` meets them with
95% confidence — and the brackets shrink together.  A count *meets* the targets when the
95% confidence interval over replications of every KPI lies on the right side of its
target (fulfilment's lower bound above, the p90 wait's upper bound below); replications are
added in batches until each probed count is decided or ``max_reps`` is reached, and a count
still undecided (a statistical tie) counts as not meeting them, so ties give the larger
answer.  Every probe uses the same replications (common random numbers: the same demand,
behaviour draws and — workforce cells are drawn in fixed blocks — the same first workers).

A bracket may start from a floor (the answer at a lower demand): the answer is then the
smallest count *at or above the floor* that meets the targets, which makes answers along a
ladder of demand levels non-decreasing by construction.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.config import Scenario
from sim.errors import InputError
from sim.experiments.stats import Interval, mean_ci
from sim.helpline.erlang import agents_for_sl
from sim.metrics import booking_kpis
from sim.targets import Target
from sim.targets import parse_targets as parse_target_text

#: The planner's target vocabulary → keys of ``sim.metrics.booking_kpis``.
METRICS = {
    "fulfilment": "fulfilment_rate",
    "p50_wait_min": "wait_assign_p50_min",
    "p90_wait_min": "wait_assign_p90_min",
    "mean_wait_min": "wait_assign_mean_min",
}
#: Wait quantile implied by each wait target (for the Erlang C starting point).
_QUANTILE = {"p50_wait_min": 0.5, "p90_wait_min": 0.9, "mean_wait_min": 0.5}
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


def peak_rate_per_min(sc: Scenario, district_weight_share: float, category: str) -> float:
    """Booking rate of one category in one district at the busiest hour, weekday and month.

    Args:
        sc: the planning scenario (its demand block and enabled catalog).
        district_weight_share: the district's share of statewide demand weight (0-1).
        category: category key.

    Returns:
        Peak arrivals [bookings per minute].
    """
    dm = sc.demand
    enabled = {k: c for k, c in sc.catalog.items() if c.enabled}
    share = enabled[category].demand_weight / sum(c.demand_weight for c in enabled.values())
    seas = np.asarray(enabled[category].seasonal, dtype=float)
    hour = np.asarray(dm.hour_profile, dtype=float)
    wday = np.asarray(dm.weekday_profile, dtype=float)
    peak = (hour.max() / hour.mean()) * (wday.max() / wday.mean()) * (seas.max() / seas.mean())
    return dm.bookings_per_year * dm.scale / (365.0 * 1440.0) * district_weight_share * share * peak


def analytic_start(rate_per_min: float, service_min: float, targets: tuple[Target, ...]) -> int:
    """Erlang C starting point: fewest servers meeting the wait targets at a steady peak.

    Travel time is left out (it only adds load), so the start tends to be low; the search
    walks up from it, and down when it already passes.  With demand, at least one worker.
    """
    if rate_per_min <= 0:
        return 0
    load = rate_per_min * service_min
    n = math.floor(load) + 1
    for t in targets:
        if t.metric in _QUANTILE:
            n = max(n, agents_for_sl(rate_per_min / 60.0, service_min * 60.0, _QUANTILE[t.metric], t.value * 60.0))
    return max(n, 1)


#: Per-replication KPIs of one category: metric name → one value per replication, and
#: ``"waits"`` → one array of waits to assignment [minutes] per replication.
RepKpis = dict[str, Any]


def rep_kpis(bookings: pd.DataFrame, categories: list[str]) -> dict[str, dict[str, Any]]:
    """KPIs per category of one replication's measured bookings, keyed by target metric name."""
    groups = dict(tuple(bookings.groupby("category", sort=True)))
    empty = bookings.iloc[0:0]
    out = {}
    for c in categories:
        g = groups.get(c, empty)
        k = booking_kpis(g)
        out[c] = {"bookings": float(k["bookings"]), **{m: float(k[key]) for m, key in METRICS.items()},
                  "waits": (g["assigned_min"] - g["created_min"]).dropna().to_numpy(dtype=np.float64)}
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


def target_verdict(t: Target, kpis: RepKpis) -> str:
    """Verdict on one target.

    A wait quantile target ``pQ_wait_min <= T`` is met when the share
    of waits above ``T`` is at most ``1 - Q`` (equivalent for the pooled quantile), judged on
    that share's CI over replications: a per-replication p90 of a few dozen bookings is too
    heavy-tailed (one night's backlog) for a t interval.
    """
    if t.metric in ("p50_wait_min", "p90_wait_min"):
        share = Target("share_above_limit", "<=", 1.0 - _QUANTILE[t.metric])
        return judge(share, mean_ci(exceedance(kpis.get("waits", []), t.value)))
    return judge(t, mean_ci(kpis.get(t.metric, np.zeros(0))))


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


@dataclass
class Bracket:
    """The search state of one category.

    ``lo`` is the largest count known not to meet the targets (or the floor minus one:
    counts below the floor are never answers); ``hi`` the smallest known to meet them.
    ``at_hi``/``at_lo`` hold the per-replication KPIs there (empty if not simulated).
    """

    start: int
    cap: int
    floor: int = 1
    lo: int = 0
    hi: int | None = None
    at_hi: RepKpis = field(default_factory=dict)
    at_lo: RepKpis = field(default_factory=dict)
    probes: int = 0
    last: str = ""

    def __post_init__(self) -> None:
        self.lo = max(self.lo, self.floor - 1)
        if self.start > 0:  # 0 = no demand: nobody needed
            self.start = min(max(self.start, self.floor), self.cap)

    @property
    def done(self) -> bool:
        """Converged (``hi = lo + 1``), no demand (start 0), or nothing up to the cap meets the targets."""
        if self.start == 0:
            return True
        if self.hi is None:
            return self.lo >= self.cap
        return self.hi - self.lo <= 1

    @property
    def answer(self) -> int:
        """Fewest workers meeting the targets (the cap when none does)."""
        if self.start == 0:
            return 0
        return self.hi if self.hi is not None else self.cap

    def next_probe(self) -> int:
        """The next worker count to simulate."""
        if self.hi is None:
            if self.probes == 0:
                return self.start
            return min(self.cap, max(self.lo + 1, 2 * self.lo))
        return (self.lo + self.hi) // 2

    def record(self, n: int, verdict: str, kpis: RepKpis) -> None:
        """Update the bracket with the verdict (pass / fail / tie) on ``n`` workers."""
        self.probes += 1
        self.last = verdict
        if verdict == "pass":
            self.hi, self.at_hi = n, kpis
        else:
            self.lo, self.at_lo = max(self.lo, n), kpis


#: ``evaluate(counts, replications) -> {category: {metric: value}}`` for each replication.
Evaluate = Callable[[dict[str, int], range], list[dict[str, dict[str, float]]]]


@dataclass(frozen=True)
class Replications:
    """How many replications a probe gets: ``first``, then ``step`` more while undecided, up to ``most``."""

    first: int = 4
    step: int = 4
    most: int = 20


def stack(rows: list[dict[str, Any]]) -> RepKpis:
    """Per-replication dicts → one ``RepKpis`` (scalars as arrays, waits as a list of arrays)."""
    return {m: [r[m] for r in rows] if m == "waits" else np.array([r[m] for r in rows]) for m in rows[0]}


def probe(counts: dict[str, int], probing: list[str], targets: tuple[Target, ...], evaluate: Evaluate,
          reps: Replications) -> tuple[dict[str, RepKpis], dict[str, str]]:
    """Simulate ``counts`` with replications added until every probed category is decided."""
    rows: list[dict[str, dict[str, float]]] = []
    n = 0
    verdict: dict[str, str] = {}
    while True:
        k = reps.first if n == 0 else min(reps.step, reps.most - n)
        rows += evaluate(counts, range(n, n + k))
        n += k
        kpis = {c: stack([r[c] for r in rows]) for c in counts}
        verdict = {c: decide(kpis[c], targets) for c in probing}
        if n >= reps.most or all(v != "tie" for v in verdict.values()):
            return kpis, verdict


def search(brackets: dict[str, Bracket], targets: tuple[Target, ...], evaluate: Evaluate,
           reps: Replications = Replications(), max_rounds: int = 60) -> int:
    """Shrink every bracket; converged categories stay at their answer while others move.

    A tie after ``reps.most`` replications counts as not meeting the targets.  Returns the
    number of probes (joint evaluations) made.
    """
    rounds = 0
    while rounds < max_rounds and not all(b.done for b in brackets.values()):
        probing = sorted(c for c, b in brackets.items() if not b.done)
        counts = {c: (b.next_probe() if not b.done else b.answer) for c, b in sorted(brackets.items())}
        kpis, verdict = probe(counts, probing, targets, evaluate, reps)
        for c in probing:
            brackets[c].record(counts[c], verdict[c], kpis[c])
        rounds += 1
    return rounds
