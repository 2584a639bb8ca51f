"""The expansion planner's search: targets, analytic starting points, simulated bisection.

For one district the categories are independent queues (planning runs give workers a
single skill), so one simulation evaluates every category at once: each category keeps its
own bracket ``(lo, hi]`` — ``lo`` fails, ``hi`` meets the targets — and the brackets
shrink together.  The search starts at an analytic bound (Erlang C at the peak hour) and
ends when ``hi - 1`` is known to fail, so the answer is the fewest workers that met the
targets over the planner's replications (common random numbers: the same seeds at every
probe).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.config import Scenario
from sim.errors import ScenarioError
from sim.helpline.erlang import agents_for_sl
from sim.metrics import booking_kpis

#: Target names → summary keys of ``sim.metrics.booking_kpis``.
METRICS = {
    "fulfilment": "fulfilment_rate",
    "p50_wait_min": "wait_assign_p50_min",
    "p90_wait_min": "wait_assign_p90_min",
    "mean_wait_min": "wait_assign_mean_min",
}
_OPS = {">=": operator.ge, "<=": operator.le}
#: Wait quantile implied by each wait target (for the Erlang C starting point).
_QUANTILE = {"p50_wait_min": 0.5, "p90_wait_min": 0.9, "mean_wait_min": 0.5}


@dataclass(frozen=True)
class Target:
    """One service target, e.g. ``fulfilment >= 0.95`` or ``p90_wait_min <= 60`` [minutes]."""

    metric: str
    op: str
    value: float

    def met(self, kpis: dict[str, float]) -> bool:
        """True if the KPI is known and on the right side of the target (NaN fails)."""
        v = kpis.get(METRICS[self.metric], float("nan"))
        return bool(np.isfinite(v) and _OPS[self.op](v, self.value))

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}"


def parse_targets(text: str) -> tuple[Target, ...]:
    """``"fulfilment>=0.95,p90_wait_min<=60"`` → targets; bad text is a ``ScenarioError``."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        m = re.fullmatch(r"([a-z0-9_]+)\s*(>=|<=)\s*([0-9.eE+-]+)", part)
        if not m:
            raise ScenarioError(f"--target: cannot read {part!r} (expected e.g. fulfilment>=0.95)")
        name, op, num = m.groups()
        if name not in METRICS:
            raise ScenarioError(f"--target: unknown metric {name!r} (known: {', '.join(sorted(METRICS))})")
        want = "<=" if name != "fulfilment" else ">="
        if op != want:
            raise ScenarioError(f"--target: {name} needs {want} (a bound in the useful direction)")
        try:
            value = float(num)
        except ValueError:
            raise ScenarioError(f"--target: {part!r}: not a number") from None
        if name == "fulfilment" and not 0 < value <= 1:
            raise ScenarioError("--target: fulfilment must be in (0, 1]")
        if name != "fulfilment" and value <= 0:
            raise ScenarioError(f"--target: {name} must be > 0 minutes")
        out.append(Target(name, op, value))
    return tuple(out)


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


def category_kpis(bookings: pd.DataFrame, categories: list[str]) -> dict[str, dict[str, float]]:
    """Pooled KPIs per category of measured bookings (``booking_kpis``)."""
    groups = dict(tuple(bookings.groupby("category", sort=True)))
    empty = bookings.iloc[0:0]
    return {c: booking_kpis(groups.get(c, empty)) for c in categories}


@dataclass
class Bracket:
    """The search state of one category: ``lo`` fails (0 = no worker), ``hi`` meets targets."""

    start: int
    cap: int
    lo: int = 0
    hi: int | None = None
    at_hi: dict[str, float] = field(default_factory=dict)
    at_lo: dict[str, float] = field(default_factory=dict)
    probes: int = 0

    @property
    def done(self) -> bool:
        """Converged (``hi = lo + 1``), or no passing count up to the cap."""
        if self.start == 0:
            return True
        if self.hi is None:
            return self.lo >= self.cap
        return self.hi - self.lo <= 1

    def next_probe(self) -> int:
        """The next worker count to simulate."""
        if self.hi is None:
            if self.probes == 0:
                return self.start
            return min(self.cap, max(1, 2 * self.lo))
        if self.probes == 1 and self.hi == self.start:
            return self.hi - 1  # the bound passed at once: is one fewer enough too?
        return (self.lo + self.hi) // 2

    def record(self, n: int, ok: bool, kpis: dict[str, float]) -> None:
        """Update the bracket with the outcome of ``n`` workers."""
        self.probes += 1
        if ok:
            self.hi, self.at_hi = n, kpis
        else:
            self.lo, self.at_lo = max(self.lo, n), kpis


def meets(kpis: dict[str, float], targets: tuple[Target, ...]) -> bool:
    """All targets met; a category without bookings in the runs has nothing to miss."""
    return kpis.get("bookings", 0) == 0 or all(t.met(kpis) for t in targets)


Evaluate = Callable[[dict[str, int]], dict[str, dict[str, float]]]


def search(brackets: dict[str, Bracket], targets: tuple[Target, ...], evaluate: Evaluate,
           max_rounds: int = 60) -> int:
    """Shrink every bracket; ``evaluate(counts)`` returns pooled KPIs per category.

    Converged categories stay at their answer while the others move.  Returns the number
    of evaluations made.
    """
    rounds = 0
    while rounds < max_rounds and not all(b.done for b in brackets.values()):
        counts = {c: (b.next_probe() if not b.done else (b.hi if b.hi is not None else b.lo))
                  for c, b in sorted(brackets.items())}
        kpis = evaluate(counts)
        for c, b in sorted(brackets.items()):
            if not b.done:
                b.record(counts[c], meets(kpis[c], targets), kpis[c])
        rounds += 1
    return rounds
