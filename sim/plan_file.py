"""Launch plans as files (``plans/*.yaml``): dated changes on top of a scenario.

A plan names its scenario, optional scenario overrides (``set``: dotted keys; list-valued
fields such as ``demand.surges`` are *appended* to the scenario's own unless the key is in
``replace``) and a list of dated changes, each doing exactly one thing::

    name: east10
    scenario: baseline
    target: "fulfilment>=0.8,p90_wait_min<=60"
    changes:
      - {date: 2026-01-01, enable: [caregiver, babysitter], districts: [Ballia, Mau]}
      - {date: 2026-04-01, demand_growth: 2.0, districts: [Lucknow]}          # every service
      - {date: 2026-04-01, recruit: 10, districts: [Ballia], services: [caregiver]}
      - {date: 2026-04-01, add_agents: 5, hours: [8, 20]}

``resolve_plan`` turns a plan into (1) the setting the planner sizes — the scenario with
``set`` applied and the enabled services bookable, plus one :class:`Cell` per planned
district × service with its demand multiple after every change — and (2) the planned
scenario that ``run --plan`` simulates, where dates become demand surges: a service is
held at zero demand (a surge with multiplier 0) in a district until it is enabled there,
and growth is a surge from its date to the horizon.  Recruits become active workers of
their cell from day 0 and added agents are on duty from day 0 (the model has no dated
workforce or rota yet).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from sim.config import Scenario, _deep_merge, load_scenario, validate, value_at
from sim.errors import InputError, ScenarioError
from sim.geography import district_names, load_districts
from sim.schema import StrictModel

PLAN_DIR = Path(__file__).resolve().parent.parent / "plans"
ACTIONS = ("enable", "demand_growth", "recruit", "add_agents")


class Change(StrictModel):
    """One dated change; exactly one of ``enable``, ``demand_growth``, ``recruit``, ``add_agents``.

    Attributes:
        date: when it takes effect (before the scenario start = from day 0).
        enable: services made bookable in ``districts`` (all districts when empty).
        demand_growth: multiple of demand in ``districts`` × ``services`` (empty = all).
        recruit: active workers added per district × service of the change.
        add_agents: helpline agents added in each hour of ``hours``.
        hours: ``[from, to)`` hours of day for ``add_agents``.
    """

    date: dt.date
    enable: tuple[str, ...] = ()
    demand_growth: float | None = Field(None, gt=0, le=100)
    recruit: int | None = Field(None, ge=1, le=100_000)
    add_agents: int | None = Field(None, ge=1, le=10_000)
    districts: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    hours: tuple[int, int] = (0, 24)

    @model_validator(mode="after")
    def _one_action(self) -> Change:
        done = [a for a in ACTIONS if getattr(self, a) not in (None, ())]
        if len(done) != 1:
            raise ValueError(f"needs exactly one of {', '.join(ACTIONS)} (got {', '.join(done) or 'none'})")
        if not 0 <= self.hours[0] < self.hours[1] <= 24:
            raise ValueError("hours: needs 0 <= from < to <= 24")
        if self.recruit is not None and not self.services:
            raise ValueError("recruit: name the services the recruits work in")
        return self


class PlanFile(StrictModel):
    """A launch plan: a scenario, overrides and dated changes (see the module doc)."""

    name: str
    description: str = ""
    scenario: str = "baseline"
    target: str | None = None
    set: dict[str, Any] = Field(default_factory=dict)
    replace: tuple[str, ...] = ()
    changes: tuple[Change, ...] = Field(min_length=1)
    plan_districts: tuple[str, ...] = ()
    plan_services: tuple[str, ...] = ()

    @field_validator("replace")
    @classmethod
    def _replace_known(cls, v: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        for k in v:
            if k not in info.data.get("set", {}):
                raise ValueError(f"{k!r} is not a key of set")
        return v


@dataclass(frozen=True)
class Cell:
    """One planned district × service.

    Attributes:
        growth: demand multiple after every change of the plan (1 = the scenario's).
        recruited: active workers the plan recruits in the cell.
        enabled_day: day the service becomes bookable there (0 = from the start).
    """

    district: str
    category: str
    growth: float = 1.0
    recruited: int = 0
    enabled_day: float = 0.0


@dataclass(frozen=True)
class ResolvedPlan:
    """A plan applied to its scenario: ``today`` (with ``set``), ``setting`` (services bookable), ``planned``."""

    plan: PlanFile
    today: Scenario
    setting: Scenario
    planned: Scenario
    cells: tuple[Cell, ...]
    agents_added: tuple[int, ...]


def _error(e: ValidationError, prefix: str) -> InputError:
    err = e.errors()[0]
    cause = (err.get("ctx") or {}).get("error")
    loc = ".".join(str(x) for x in (prefix, *err["loc"]) if x != "")
    if isinstance(cause, ScenarioError):
        return InputError(f"{prefix}: {cause}")
    msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
    return InputError(f"{loc}: {msg}")


def parse_plan(raw: Any) -> PlanFile:
    """Validate a raw mapping into a ``PlanFile``; errors name the field (``plan.changes.0.date``)."""
    if not isinstance(raw, dict):
        raise InputError("plan: must be a mapping at the top level")
    try:
        return PlanFile(**raw)
    except ValidationError as e:
        raise _error(e, "plan") from None


def load_plan(path: str | Path) -> PlanFile:
    """Read and validate a plan file (a path, or a name in ``plans/``)."""
    p = Path(path)
    if not p.is_file() and (PLAN_DIR / f"{path}.yaml").is_file():
        p = PLAN_DIR / f"{path}.yaml"
    if not p.is_file():
        raise InputError(f"plan: cannot read {str(path)!r} (no such file)")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise InputError(f"plan: {p.name} is not valid YAML: {str(e).splitlines()[0]}") from None
    return parse_plan(raw)


def _apply_set(raw: dict[str, Any], plan: PlanFile) -> dict[str, Any]:
    """``set`` overrides; list values are appended to the scenario's unless in ``replace``."""
    out = raw
    for key, value in plan.set.items():
        cur = value_at(out, key)
        if isinstance(value, list) and isinstance(cur, list | tuple) and key not in plan.replace:
            value = [*cur, *value]
        patch: Any = value
        for k in reversed(key.split(".")):
            patch = {k: patch}
        out = _deep_merge(out, patch)
    return out


def _check_names(plan: PlanFile, sc: Scenario) -> None:
    known = set(district_names())
    for i, ch in enumerate(plan.changes):
        for d in ch.districts:
            if d not in known:
                raise InputError(f"plan.changes.{i}.districts: unknown district {d!r}")
        for field in ("enable", "services"):
            for s in getattr(ch, field):
                if s not in sc.catalog:
                    raise InputError(f"plan.changes.{i}.{field}: unknown service {s!r}")
    for d in plan.plan_districts:
        if d not in known:
            raise InputError(f"plan.plan_districts: unknown district {d!r}")
    for s in plan.plan_services:
        if s not in sc.catalog:
            raise InputError(f"plan.plan_services: unknown service {s!r}")


def expected_active(sc: Scenario, district: str, category: str) -> float:
    """Active workers of a main skill in a district today (expected value of the sampling)."""
    given = sc.workforce.active_counts.get(district, {})
    if category in given:
        return float(given[category])
    enabled = {k: c for k, c in sc.catalog.items() if c.enabled}
    if category not in enabled:
        return 0.0
    pop = {d.name: d.population for d in load_districts()}
    share = pop[district] / sum(pop.values()) * enabled[category].worker_share / sum(
        c.worker_share for c in enabled.values())
    return sc.workforce.registered * share * sc.workforce.active_share


def resolve_plan(plan: PlanFile, overrides: tuple[str, ...] = (), extra_growth: float = 1.0) -> ResolvedPlan:
    """Apply ``plan`` to its scenario; ``extra_growth`` multiplies the demand of every planned cell."""
    base = load_scenario(plan.scenario, overrides)
    _check_names(plan, base)
    raw = base.model_dump(mode="json")
    try:
        raw = _apply_set(raw, plan)
    except AttributeError:
        raise InputError("plan.set: a dotted key goes through a non-mapping field") from None
    try:
        sc_set = validate(raw)
    except ScenarioError as e:
        raise InputError(f"plan.set: {e}") from None
    start = sc_set.start_date
    day = {i: max(0.0, float((ch.date - start).days)) for i, ch in enumerate(plan.changes)}
    everywhere = tuple(district_names())
    enabled_day: dict[tuple[str, str], float] = {}
    for i, ch in enumerate(plan.changes):
        for s in ch.enable:
            for d in ch.districts or everywhere:
                enabled_day[d, s] = min(enabled_day.get((d, s), math.inf), day[i])
    newly = sorted({s for _, s in enabled_day} - {k for k, c in sc_set.catalog.items() if c.enabled})
    for s in newly:
        raw["catalog"][s]["enabled"] = True
    setting = validate(raw)
    bookable = [k for k, c in setting.catalog.items() if c.enabled]
    growth: dict[tuple[str, str], float] = {}
    recruits: dict[tuple[str, str], int] = {}
    agents = [0] * 24
    for ch in plan.changes:
        if ch.demand_growth is not None:
            for d in ch.districts or everywhere:
                for s in ch.services or bookable:
                    growth[d, s] = growth.get((d, s), 1.0) * ch.demand_growth
        if ch.recruit is not None:
            for d in ch.districts or everywhere:
                for s in ch.services:
                    recruits[d, s] = recruits.get((d, s), 0) + ch.recruit
        if ch.add_agents is not None:
            for h in range(*ch.hours):
                agents[h] += ch.add_agents
    touched = set(enabled_day) | set(growth) | set(recruits)
    cells = tuple(
        Cell(d, s, growth.get((d, s), 1.0) * extra_growth, recruits.get((d, s), 0), enabled_day.get((d, s), 0.0))
        for d, s in sorted(touched)
        if (not plan.plan_districts or d in plan.plan_districts)
        and (not plan.plan_services or s in plan.plan_services)
        and (s in bookable) and ((s not in newly) or (d, s) in enabled_day)
    )
    if not cells:
        raise InputError("plan.changes: no district × service to plan (nothing enabled, grown or recruited)")
    planned = _planned_scenario(raw, setting, newly, enabled_day, recruits, agents, day, plan)
    return ResolvedPlan(plan, sc_set, setting, planned, cells, tuple(agents))


def _planned_scenario(raw: dict[str, Any], setting: Scenario, newly: list[str],
                      enabled_day: dict[tuple[str, str], float], recruits: dict[tuple[str, str], int],
                      agents: list[int], day: dict[int, float], plan: PlanFile) -> Scenario:
    """The scenario ``run --plan`` simulates: dated changes as surges, recruits, agents."""
    horizon = setting.horizon_days
    surges = list(raw["demand"]["surges"])
    for s in newly:  # zero demand in a district until the service is enabled there
        by_day: dict[float, list[str]] = {}
        for d in district_names():
            by_day.setdefault(enabled_day.get((d, s), math.inf), []).append(d)
        for first, ds in sorted(by_day.items()):
            if first > 0:
                surges.append({"start_day": 0.0, "end_day": min(first, horizon), "multiplier": 0.0,
                               "categories": [s], "districts": ds})
    for i, ch in enumerate(plan.changes):
        if ch.demand_growth is not None and day[i] < horizon:
            surges.append({"start_day": day[i], "end_day": horizon, "multiplier": ch.demand_growth,
                           "categories": list(ch.services), "districts": list(ch.districts)})
    raw = dict(raw)
    raw["demand"] = {**raw["demand"], "surges": surges}
    counts = {d: dict(v) for d, v in raw["workforce"]["active_counts"].items()}
    for (d, s), k in sorted(recruits.items()):
        counts.setdefault(d, {})[s] = round(expected_active(setting, d, s)) + k
    raw["workforce"] = {**raw["workforce"], "active_counts": counts}
    hl = raw["helpline"]
    raw["helpline"] = {**hl, "agents_by_hour": [a + b for a, b in zip(hl["agents_by_hour"], agents, strict=True)]}
    return validate(raw)


def load_planned_scenario(path: str | Path, overrides: tuple[str, ...] = ()) -> Scenario:
    """The scenario ``run --plan PATH`` simulates: the plan's dated changes applied to its scenario."""
    return resolve_plan(load_plan(path), tuple(overrides)).planned
