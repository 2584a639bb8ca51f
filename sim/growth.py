"""A platform that grows: registrations, worker activity by registration age, rollouts, adoption.

All of it is optional (``Scenario.growth``); without it a scenario is the steady state it
always was.  Times are minutes since the scenario's ``start_date`` midnight; dates in the
configuration are calendar dates.

- **Registrations** follow a curve through dated stocks (``registrations``), log-linear
  between points (constant-rate exponential growth, the shape the two published stocks
  imply) and extrapolated at the last segment's rate.  Worker ``k`` registers when the curve
  reaches ``k + u`` (``u`` uniform): a dated arrival process whose count at every point is
  the curve's value to within one worker.
- **Activity:** a worker ever takes jobs with probability
  ``late + (early - late)·exp(-(registration - launch)/adopter_days)`` (early adopters
  work; many later registrants never do), and an active worker goes dormant after an
  exponential time with mean ``mean_active_days``.
- **Rollouts:** a category or district named in a rollout is off before its date.
- **Adoption:** bookings and information calls scale with a logistic curve
  ``A(t) = 1/(1+exp(-(t - midpoint)/width))`` normalised to 1 at ``reference`` (so
  ``demand.bookings_per_year`` is the yearly rate on that date).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field, model_validator

from sim.schema import StrictModel

if TYPE_CHECKING:
    from sim.workforce import Workforce

MIN_PER_DAY = 1440.0


class RegistrationPoint(StrictModel):
    """A dated stock of registered workers."""

    date: dt.date
    registered: int = Field(ge=1, le=5_000_000)
    source: str = ""


class ActivityConfig(StrictModel):
    """Which registered workers take jobs, by registration date, and for how long."""

    early_active_prob: float = Field(0.5, ge=0, le=1, description="P(ever works) registering at launch")
    late_active_prob: float = Field(0.1, ge=0, le=1, description="P(ever works) registering long after launch")
    adopter_days: float = Field(365.0, gt=0, le=36_500, description="e-folding time from early to late [days]")
    mean_active_days: float = Field(720.0, gt=0, le=36_500, description="mean time before dormancy [days]")


class Rollout(StrictModel):
    """Categories and/or districts switched on at a date."""

    date: dt.date
    categories: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()
    source: str = ""


class AdoptionConfig(StrictModel):
    """Logistic adoption of the platform by citizens (multiplies bookings and information calls)."""

    midpoint_days: float = Field(900.0, ge=-36_500, le=36_500, description="inflection, days after launch")
    width_days: float = Field(300.0, gt=0, le=36_500, description="logistic scale [days]")
    reference: dt.date = Field(dt.date(2025, 6, 30), description="date on which the factor is 1")


class GrowthConfig(StrictModel):
    """The dated platform of a history scenario."""

    launch: dt.date
    registrations: tuple[RegistrationPoint, ...] = Field(min_length=1)
    activity: ActivityConfig = ActivityConfig()
    rollouts: tuple[Rollout, ...] = ()
    adoption: AdoptionConfig = AdoptionConfig()

    @model_validator(mode="after")
    def _ordered(self) -> GrowthConfig:
        pts = self.registrations
        for a, b in zip(pts, pts[1:], strict=False):
            if b.date <= a.date:
                raise ValueError("registrations: dates must increase")
            if b.registered < a.registered:
                raise ValueError("registrations: stocks must not decrease")
        return self

    def check_names(self, categories: set[str], districts: set[str]) -> list[str]:
        """Errors ``field: problem`` for rollouts naming unknown categories or districts."""
        errs = []
        for i, r in enumerate(self.rollouts):
            errs += [f"growth.rollouts.{i}.categories: unknown category {c!r}" for c in r.categories
                     if c not in categories]
            errs += [f"growth.rollouts.{i}.districts: unknown district {d!r}" for d in r.districts
                     if d not in districts]
        return errs


class Growth:
    """The growth curves of one scenario, in simulation minutes."""

    def __init__(self, cfg: GrowthConfig, start: dt.date) -> None:
        self.cfg = cfg
        self.start = start
        self._t = np.array([self.minutes(p.date) for p in cfg.registrations])
        self._logn = np.log(np.array([p.registered for p in cfg.registrations], dtype=np.float64))
        if len(self._t) > 1:
            self._tail_rate = (self._logn[-1] - self._logn[-2]) / (self._t[-1] - self._t[-2])
        else:
            self._tail_rate = 0.0
        self.launch_min = self.minutes(cfg.launch)

    def minutes(self, d: dt.date) -> float:
        """Minutes from the scenario start to midnight of ``d``."""
        return (d - self.start).days * MIN_PER_DAY

    # -- registrations ------------------------------------------------------------------
    def registered_at(self, t_min: np.ndarray | float) -> np.ndarray:
        """Registered workers at times ``t_min`` (the curve; constant before its first point)."""
        t = np.asarray(t_min, dtype=np.float64)
        logn = np.interp(t, self._t, self._logn)
        logn = np.where(t > self._t[-1], self._logn[-1] + self._tail_rate * (t - self._t[-1]), logn)
        return np.exp(logn)

    def time_of(self, n: np.ndarray) -> np.ndarray:
        """When the curve reaches ``n`` workers [minutes] (``n`` below the first point: its date)."""
        logn = np.log(np.maximum(np.asarray(n, dtype=np.float64), 1e-9))
        t = np.interp(logn, self._logn, self._t)  # the curve is non-decreasing
        if self._tail_rate > 0:
            t = np.where(logn > self._logn[-1], self._t[-1] + (logn - self._logn[-1]) / self._tail_rate, t)
        return t

    def registered_total(self, end_min: float) -> int:
        """Workers registered by ``end_min`` (the workforce a run builds)."""
        return int(round(float(self.registered_at(end_min))))

    def registration_times(self, n: int, rng: np.random.Generator, total: int | None = None) -> np.ndarray:
        """Registration time of each of ``n`` workers in a random order [minutes].

        Worker ranks are a random permutation, so registration dates are independent of the
        (district, skill) blocks the workforce is drawn in.  A sub-state run's ``n`` workers
        stand for ``total`` statewide ones: each is one ``total/n``-th of the curve.
        """
        rank = rng.permutation(n)
        scale = (total or n) / max(n, 1)
        return self.time_of((rank + rng.random(n)) * scale)

    def registrations_per_min(self, t_min: np.ndarray) -> np.ndarray:
        """New registrations per minute at ``t_min`` (derivative of the curve)."""
        t = np.asarray(t_min, dtype=np.float64)
        seg = np.clip(np.searchsorted(self._t, t, side="right") - 1, 0, max(len(self._t) - 2, 0))
        if len(self._t) > 1:
            rate = (self._logn[seg + 1] - self._logn[seg]) / (self._t[seg + 1] - self._t[seg])
        else:
            rate = np.zeros_like(t)
        rate = np.where(t < self._t[0], 0.0, np.where(t > self._t[-1], self._tail_rate, rate))
        return rate * self.registered_at(t)

    # -- activity -----------------------------------------------------------------------
    def activity(self, reg_min: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(ever active: bool, dormant from [minutes]) for workers registered at ``reg_min``."""
        a = self.cfg.activity
        age_at_launch = np.maximum(reg_min - self.launch_min, 0.0) / MIN_PER_DAY
        p = a.late_active_prob + (a.early_active_prob - a.late_active_prob) * np.exp(-age_at_launch / a.adopter_days)
        ever = rng.random(reg_min.size) < p
        until = reg_min + rng.exponential(a.mean_active_days, reg_min.size) * MIN_PER_DAY
        return ever, until

    # -- rollouts and adoption ------------------------------------------------------------
    def switched_on(self, names: list[str] | tuple[str, ...], kind: str, t_min: np.ndarray) -> np.ndarray:
        """Mask (len(t), len(names)): is each category/district (``kind``) on at each time."""
        t = np.asarray(t_min, dtype=np.float64)
        on_from = np.full(len(names), np.inf)
        pos = {n: i for i, n in enumerate(names)}
        for r in self.cfg.rollouts:  # a name in several rollouts is on from the earliest
            for n in getattr(r, kind):
                if n in pos:
                    on_from[pos[n]] = min(on_from[pos[n]], self.minutes(r.date))
        on_from[np.isinf(on_from)] = -np.inf  # never rolled out: on from the start
        return t[:, None] >= on_from[None, :]

    def adoption(self, t_min: np.ndarray) -> np.ndarray:
        """Demand adoption factor at ``t_min`` (1 on the reference date)."""
        ad = self.cfg.adoption
        mid = self.launch_min + ad.midpoint_days * MIN_PER_DAY
        w = ad.width_days * MIN_PER_DAY

        def logistic(x: np.ndarray) -> np.ndarray:
            return 0.5 * (1.0 + np.tanh((x - mid) / (2.0 * w)))

        ref = logistic(np.asarray(self.minutes(ad.reference)))
        return logistic(np.asarray(t_min, dtype=np.float64)) / max(float(ref), 1e-300)


def date_workforce(wf: Workforce, growth: Growth, rng: np.random.Generator, total: int | None = None) -> None:
    """Give every worker a registration date and an activity window (in place).

    ``wf.active`` becomes "ever takes jobs" (the activity lifecycle replaces
    ``workforce.active_share``); availability at a time is ``wf.available``.
    """
    reg = growth.registration_times(len(wf), rng, total)
    ever, until = growth.activity(reg, rng)
    wf.registered_min = reg
    wf.active_until = until
    wf.active[:] = ever


def hold_unavailable(wf: Workforce, busy: np.ndarray, now_min: float = 0.0) -> None:
    """Mark workers not registered yet, or dormant, as reserved (dispatch skips reserved workers)."""
    if wf.registered_min is not None:
        busy |= (wf.registered_min > now_min) | (wf.active_until <= now_min)


def availability(env, wf: Workforce, busy: np.ndarray):
    """SimPy process: free each active worker at registration, reserve them at dormancy.

    A worker on a job when they go dormant is reserved again when the job ends
    (``Model._release`` checks ``wf.active_until``).
    """
    act = np.flatnonzero(wf.active)
    t = np.concatenate([wf.registered_min[act], wf.active_until[act]])
    w = np.concatenate([act, act])
    kind = np.concatenate([np.zeros(act.size, bool), np.ones(act.size, bool)])  # False = registers
    keep = t > env.now
    order = np.lexsort((w[keep], t[keep]))
    for ti, wi, dormant in zip(t[keep][order].tolist(), w[keep][order].tolist(), kind[keep][order].tolist(),
                               strict=True):
        if ti > env.now:
            yield env.timeout(ti - env.now)
        if dormant:
            if not busy[wi]:  # on a job: the job's end reserves them
                busy[wi] = True
        elif env.now < wf.active_until[wi]:
            busy[wi] = False
