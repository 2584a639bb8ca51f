"""The expansion planner's search: an Erlang C start, bisection, then the boundary pair.

For one district the categories are independent queues (planning runs give workers a
single skill), so one simulation evaluates every category at once: each category keeps its
own bracket ``(lo, hi]`` and the brackets shrink together.  Every count is simulated on the
same replications (common random numbers: the same demand, behaviour draws and — workforce
cells are drawn in fixed blocks — the same first workers), and a count simulated again only
adds replications to the ones it has.

What the words mean (pass, fail, tie, one fewer) is ``sim.planner_decision``.

The answer is the smallest count that passes while one fewer does not (ties go to the
larger count), found in two steps:

1. *Bisection* from an Erlang C start (``analytic_start``): each probe gets a few
   replications, more while undecided (``Replications.first/step/most``); an undecided
   probe counts as not meeting the targets.
2. *Boundary*: the answer and one fewer get more replications, the same ones for both,
   until the answer passes and one fewer fails with confidence, or one fewer's undecided
   KPIs are known to within ``Replications.resolution`` (a CI half-width: a genuine
   statistical tie, so the larger count is the answer), or ``Replications.boundary``
   replications.  If the extra replications show that one fewer passes, the answer moves
   down; if the answer no longer passes, it moves up — so the answer does not depend on how
   few replications the bisection happened to give the counts near it.

A bracket may start from a floor (the answer at a lower demand): the answer is then the
smallest count *at or above the floor* that meets the targets.  One fewer than the floor is
never an answer, so an answer at the floor is confirmed as soon as it passes: one fewer only
gets the answer's replications, for the table, and if it passes on them the answer is
*held* at the floor (flagged): the two demand levels are a statistical tie and the larger
answer wins.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.config import Scenario
from sim.helpline.erlang import agents_for_sl
from sim.planner_decision import QUANTILE, RepKpis, decide, reps_to_resolve, stack
from sim.targets import Target


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
        if t.metric in QUANTILE:
            n = max(n, agents_for_sl(rate_per_min / 60.0, service_min * 60.0, QUANTILE[t.metric], t.value * 60.0))
    return max(n, 1)


@dataclass(frozen=True)
class Replications:
    """How many replications a decision gets.

    A bisection probe gets ``first``, then ``step`` more while undecided, up to ``most``.  The
    boundary pair (the answer and one fewer) then gets ``step`` more at a time, the same
    replications for both, until the answer meets the targets and one fewer misses one with
    confidence, or one fewer's undecided KPIs are known to within ``resolution`` (a CI
    half-width, see ``resolved``: a genuine statistical tie), or ``boundary`` replications.
    """

    first: int = 4
    step: int = 4
    most: int = 12
    boundary: int = 40
    resolution: float = 0.02


#: One replication's KPIs of one category (one entry of a ``rep_kpis`` result).
Row = dict[str, Any]


@dataclass
class Bracket:
    """The search state of one category.

    ``lo`` is the largest count known not to meet the targets (or the floor minus one:
    counts below the floor are never answers); ``hi`` the smallest known to meet them.
    ``seen`` keeps every simulated replication per count (count → replication → KPIs), so a
    count probed again, or extended at the boundary, adds replications to the ones it has.
    ``confirmed``: the boundary pair is decided (see ``Replications``); ``held``: one fewer
    than the answer meets the targets, but it is below the floor.  ``table``: the answer goes
    into the plan's table; when not (a demand level below the last, whose answer is only the
    next level's floor), one fewer than an answer at the floor is not simulated: it is never
    an answer, and only the table shows its KPIs and ``held``.  Once the boundary has
    moved the answer, probes get ``min_reps`` (the boundary's replications: a verdict on
    fewer is no evidence against it), and the bracket's open end is ``gallop`` counts away,
    doubling with each further move (a flat KPI curve may move the answer far).
    """

    start: int
    cap: int
    floor: int = 1
    lo: int = 0
    hi: int | None = None
    seen: dict[int, dict[int, Row]] = field(default_factory=dict)
    probes: int = 0
    last: str = ""
    confirmed: bool = False
    held: bool = False
    min_reps: int = 0
    gallop: int = 1
    table: bool = True

    def __post_init__(self) -> None:
        self.lo = max(self.lo, self.floor - 1)
        if self.start > 0:  # 0 = no demand: nobody needed
            self.start = min(max(self.start, self.floor), self.cap)

    @property
    def done(self) -> bool:
        """Bisection converged (``hi = lo + 1``), no demand (start 0), or nothing up to the cap meets the targets."""
        if self.start == 0:
            return True
        if self.hi is None:
            return self.lo >= self.cap
        return self.hi - self.lo <= 1

    @property
    def settled(self) -> bool:
        """Nothing left to simulate: bisection done and the boundary pair decided (or there is none)."""
        return self.done and (self.confirmed or self.start == 0 or self.hi is None)

    @property
    def answer(self) -> int:
        """Fewest workers meeting the targets (the cap when none does)."""
        if self.start == 0:
            return 0
        return self.hi if self.hi is not None else self.cap

    @property
    def fewer_simulated(self) -> bool:
        """Whether one fewer than the answer gets the boundary's replications (see ``table``)."""
        n = self.hi or 0
        return n > 1 and (self.table or n - 1 >= self.floor)

    def reps_at(self, n: int) -> int:
        """Replications simulated at ``n`` workers (the leading run without gaps)."""
        have = self.seen.get(n, {})
        r = 0
        while r in have:
            r += 1
        return r

    def kpis(self, n: int, reps: int | None = None) -> RepKpis:
        """Per-replication KPIs at ``n`` workers over replications ``0 .. reps-1`` (default: all)."""
        r = self.reps_at(n) if reps is None else min(reps, self.reps_at(n))
        return stack([self.seen[n][i] for i in range(r)]) if r else {}

    @property
    def at_hi(self) -> RepKpis:
        """KPIs at the answer (empty if none meets the targets)."""
        return self.kpis(self.hi) if self.hi is not None else {}

    @property
    def at_lo(self) -> RepKpis:
        """KPIs at one fewer than the answer (at the largest count tried, if none meets the targets)."""
        n = self.answer - 1 if self.hi is not None else self.lo
        return self.kpis(n) if n >= 1 else {}

    def next_probe(self) -> int:
        """The next worker count to simulate in the bisection."""
        if self.hi is None:
            if self.probes == 0:
                return self.start
            return min(self.cap, max(self.lo + 1, 2 * self.lo))
        return (self.lo + self.hi) // 2

    def record(self, n: int, verdict: str) -> None:
        """Update the bracket with the verdict (pass / fail / tie) on ``n`` workers."""
        self.probes += 1
        self.last = verdict
        if verdict == "pass":
            self.hi = n if self.hi is None else min(self.hi, n)
        elif verdict == "tie" and self.hi is None:  # undecided while doubling: a top the boundary verifies
            self.hi = n
        else:
            self.lo = max(self.lo, n)

    def judge_boundary(self, reps: int, targets: tuple[Target, ...], rr: Replications) -> None:
        """Decide the boundary pair (``hi - 1``, ``hi``) on its first ``reps`` replications.

        The answer no longer meeting the targets moves the bracket up (bisection resumes above
        it); one fewer meeting them moves it down, unless one fewer is below the floor: then
        there is nothing to decide about it, the answer is confirmed and, if one fewer passes
        on the same replications, held (a statistical tie with the lower demand's answer goes
        to the larger).  Otherwise the pair is confirmed once one fewer misses a target with
        confidence, its undecided targets are resolved (``reps_to_resolve``), or the
        replications reach ``boundary``.
        """
        assert self.hi is not None
        n = self.hi
        v_hi = decide(self.kpis(n, reps), targets)
        # nobody serves nothing; one fewer not simulated is below the floor (it is never judged)
        v_lo = decide(self.kpis(n - 1, reps), targets) if self.fewer_simulated else "fail"
        if v_hi == "tie" and reps < rr.boundary and reps_to_resolve(self.kpis(n, reps), targets, rr.resolution,
                                                                    rr.boundary) > reps:
            return  # the answer undecided: more replications first
        if v_hi != "pass":  # up: bisect (n, n + gallop], whose top the next boundary verifies
            self.min_reps, self.gallop = reps, 2 * self.gallop
            self.lo, self.last, self.hi = n, v_hi, min(self.cap, n + self.gallop)
            if self.hi <= n:
                self.hi = None
        elif n - 1 < self.floor:  # one fewer is below the floor, never an answer: nothing to decide about it
            self.confirmed, self.held = True, self.table and v_lo == "pass"
        elif v_lo == "pass":  # down: bisect (n - 1 - gallop, n - 1], whose bottom the next boundary verifies
            self.min_reps, self.gallop = reps, 2 * self.gallop
            self.hi, self.lo = n - 1, max(self.floor - 1, n - 1 - self.gallop)
        else:
            self.confirmed = (v_lo == "fail" or reps >= rr.boundary
                              or reps_to_resolve(self.kpis(n - 1, reps), targets, rr.resolution, rr.boundary) <= reps)


#: ``evaluate(counts, replications, categories) -> [{category: Row}]``, one dict per replication,
#: with the KPIs of ``categories`` (all categories of ``counts`` are simulated).
Evaluate = Callable[[dict[str, int], range, list[str]], list[dict[str, Row]]]


def simulate(brackets: dict[str, Bracket], counts: dict[str, int], want: dict[str, int], evaluate: Evaluate) -> int:
    """Simulate ``counts`` until each category of ``want`` has that many replications at its count.

    One joint run per replication evaluates every category (independent queues); only the
    categories of ``want`` keep what it gives.  Returns the replications run.
    """
    need = {c: (brackets[c].reps_at(counts[c]), r) for c, r in want.items() if brackets[c].reps_at(counts[c]) < r}
    if not need:
        return 0
    first, last = min(a for a, _ in need.values()), max(b for _, b in need.values())
    for i, row in zip(range(first, last), evaluate(counts, range(first, last), sorted(need)), strict=True):
        for c, (a, b) in need.items():
            if a <= i < b:
                brackets[c].seen.setdefault(counts[c], {})[i] = row[c]
    return last - first


def _bisect(brackets: dict[str, Bracket], targets: tuple[Target, ...], evaluate: Evaluate,
            rr: Replications) -> None:
    """One bisection probe of every unconverged bracket, replications added while undecided."""
    counts = {c: (b.answer if b.done else b.next_probe()) for c, b in sorted(brackets.items())}
    want = {c: max(rr.first, b.min_reps, b.reps_at(counts[c])) for c, b in brackets.items() if not b.done}
    verdict: dict[str, str] = {}
    while want:
        simulate(brackets, counts, want, evaluate)
        for c, r in want.items():
            verdict[c] = decide(brackets[c].kpis(counts[c], r), targets)
        want = {c: min(rr.most, r + rr.step) for c, r in want.items() if verdict[c] == "tie" and r < rr.most}
    for c, v in verdict.items():
        brackets[c].record(counts[c], v)


def _boundary(brackets: dict[str, Bracket], targets: tuple[Target, ...], evaluate: Evaluate,
              rr: Replications) -> None:
    """One step of every unconfirmed boundary pair: ``step`` more replications at both counts, then judge."""
    pending = {c: b for c, b in brackets.items() if not b.settled}
    want = {}
    for c, b in pending.items():
        n = b.hi or 0
        pair = (n - 1, n) if b.fewer_simulated else (n,)
        have = min(b.reps_at(m) for m in pair)
        level = max(rr.first, b.min_reps, *(b.reps_at(m) for m in pair))
        if have < level:  # first give both counts the same replications
            want[c] = min(rr.boundary, level)
        else:  # then jump to what the pair's undecided KPIs need (at their current spread), at least a step
            decided = (n,) if n - 1 < b.floor else pair  # one fewer below the floor: only the answer is judged
            need = max(reps_to_resolve(b.kpis(m, have), targets, rr.resolution, rr.boundary) for m in decided)
            want[c] = min(rr.boundary, max(have + rr.step, need))
    for shift in (0, 1):
        fewer = {c for c in pending if shift and brackets[c].fewer_simulated}
        counts = {c: (b.hi - shift if c in fewer else b.hi if c in pending else b.answer)
                  for c, b in sorted(brackets.items())}
        simulate(brackets, counts, {c: r for c, r in want.items() if c in fewer or not shift}, evaluate)
    for c, b in pending.items():
        b.judge_boundary(want[c], targets, rr)


def search(brackets: dict[str, Bracket], targets: tuple[Target, ...], evaluate: Evaluate,
           reps: Replications = Replications(), max_rounds: int = 200) -> int:
    """Settle every bracket: bisect, then confirm the boundary pair (both under common random numbers).

    Converged categories sit at their answer while others move.  A tie after ``reps.most``
    replications counts as not meeting the targets in the bisection; the boundary step then
    adds replications to the answer and one fewer, and moves the answer down or up when more
    replications decide otherwise.  Returns the number of rounds (joint probes or boundary steps).
    """
    rounds = 0
    while rounds < max_rounds and not all(b.settled for b in brackets.values()):
        if all(b.done for b in brackets.values()):
            _boundary(brackets, targets, evaluate, reps)
        else:
            _bisect(brackets, targets, evaluate, reps)
        rounds += 1
    return rounds
