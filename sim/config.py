"""The scenario: a frozen, validated description of one Sewa Mitra world.

A scenario file (YAML in ``scenarios/``) may ``extends:`` another; ``--set a.b=v``
overrides any field (the value is parsed as YAML).  Everything is validated once, here;
the model never reads files or raw dicts.  Units: minutes, km, km/h, paise.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from sim.catalog import CategoryConfig
from sim.errors import ScenarioError
from sim.geography import district_names
from sim.growth import GrowthConfig
from sim.helpline.config import HelplineConfig
from sim.money_config import MoneyConfig
from sim.scenario_yaml import check_values, load_file, load_text, short
from sim.schema import StrictModel
from sim.study_config import CalibrationConfig

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
#: Calendar dates a run may span (pandas timestamps end in 2262; keep well inside).
FIRST_DATE, LAST_DATE = dt.date(1900, 1, 1), dt.date(2200, 12, 31)
#: Longest run [days].
MAX_HORIZON_DAYS = 36500.0


class GeographyConfig(StrictModel):
    """Where the twin runs and how fast people move."""

    districts: Literal["all"] | tuple[str, ...] = "all"
    road_factor: float = Field(1.35, ge=1.0, le=3.0, description="road km per great-circle km")
    speed_kmh_urban: float = Field(18.0, gt=0, le=120)
    speed_kmh_rural: float = Field(30.0, gt=0, le=120)
    urban_sigma_km: float = Field(4.0, gt=0, le=50, description="spread of urban homes around the HQ [km]")
    urban_radius_km: float = Field(8.0, ge=0, le=50, description="jobs this close to the HQ travel at urban speed")

    @field_validator("districts")
    @classmethod
    def _some(cls, v: Literal["all"] | tuple[str, ...]) -> Literal["all"] | tuple[str, ...]:
        if not v:
            raise ValueError("no district given (list at least one, or write all)")
        return v

    def selected(self) -> list[str]:
        """The district names in play, sorted."""
        return district_names() if self.districts == "all" else sorted(self.districts)


class WorkforceConfig(StrictModel):
    """The registered workers."""

    registered: int = Field(52_349, ge=1, le=5_000_000)
    active_share: float = Field(0.3, gt=0, le=1)
    second_skill_share: float = Field(0.2, ge=0, le=1)
    accept_prob_mean: float = Field(0.75, gt=0, le=1)
    accept_prob_concentration: float = Field(8.0, gt=0, description="Beta a+b of acceptance probability")
    response_mean_min: float = Field(3.0, ge=0, le=120, description="mean time to answer an offer [minutes]")
    shift_start_h: tuple[int, int] = Field((7, 10), description="earliest and latest shift start [hour]")
    shift_hours: tuple[int, int] = Field((8, 12), description="shortest and longest shift [hours]")
    quality_mean: float = Field(4.3, ge=1, le=5, description="mean true service quality [stars]")
    quality_sd: float = Field(0.35, ge=0, le=2)
    rating_prior_weight: float = Field(3.0, ge=0, description="pseudo-ratings behind the initial rating")
    active_counts: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="planner override: active workers per district per main skill (replaces sampling there)",
    )

    @field_validator("shift_start_h", "shift_hours")
    @classmethod
    def _ordered_pair(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not (0 <= v[0] <= v[1] <= 24):
            raise ValueError("needs 0 <= first <= second <= 24")
        return v


class Surge(StrictModel):
    """A demand multiplier over a window of days (festivals, heat waves, campaigns)."""

    start_day: float = Field(ge=0)
    end_day: float = Field(gt=0)
    multiplier: float = Field(ge=0, le=100, description="0 = not bookable there (a launch plan's dates)")
    categories: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _window(self) -> Surge:
        if self.end_day <= self.start_day:
            raise ValueError("end_day must be after start_day")
        return self


class DemandConfig(StrictModel):
    """Booking demand: yearly volume and its shape in time and space."""

    bookings_per_year: float = Field(11_900, ge=0, le=1e9)
    scale: float = Field(1.0, ge=0, le=1000, description="multiplier on all demand (planning what-ifs)")
    hour_profile: tuple[float, ...] = Field((1.0,) * 24, min_length=24, max_length=24)
    weekday_profile: tuple[float, ...] = Field((1.0,) * 7, min_length=7, max_length=7)
    channel_shares: dict[Literal["app", "web", "helpline"], float] = Field(
        default_factory=lambda: {"app": 0.45, "web": 0.15, "helpline": 0.40})
    urban_uplift: float = Field(1.0, ge=0, le=20, description="per-capita demand factor is 1 + uplift × urban share")
    surges: tuple[Surge, ...] = ()

    @field_validator("hour_profile", "weekday_profile")
    @classmethod
    def _non_negative(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if min(v) < 0 or sum(v) <= 0:
            raise ValueError("values must be >= 0 and not all zero")
        return v

    @field_validator("channel_shares")
    @classmethod
    def _shares(cls, v: dict[str, float]) -> dict[str, float]:
        if any(x < 0 for x in v.values()) or abs(sum(v.values()) - 1) > 1e-6:
            raise ValueError("shares must be >= 0 and sum to 1")
        return v


class LifecycleConfig(StrictModel):
    """Booking lifecycle rules and behaviours."""

    accept_timeout_min: float = Field(10.0, gt=0, le=1440)
    max_offers: int = Field(6, ge=1, le=50, description="offers before a booking ends unfulfilled")
    max_search_min: float = Field(1440.0, gt=0, description="platform gives up after this long [minutes]")
    retry_interval_min: float = Field(30.0, gt=0, le=1440)
    patience_mean_min: float = Field(360.0, gt=0, description="mean citizen patience before cancelling [minutes]")
    cancel_after_assign_prob: float = Field(0.04, ge=0, le=1)
    rating_prob: float = Field(0.6, ge=0, le=1, description="share of completed jobs the citizen rates")
    price_cv: float = Field(0.25, ge=0, le=3)
    drain_days: float = Field(
        30.0, ge=0, le=365, description="after the horizon, run on without new arrivals until every booking ends")


class DispatchConfig(StrictModel):
    """Which policy assigns workers, with its parameters."""

    policy: str = "nearest"
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known(self) -> DispatchConfig:
        from sim.policies import make_policy

        make_policy(self.policy, self.params)  # raises ScenarioError naming the field
        return self


class OutputConfig(StrictModel):
    """What a run keeps of its record streams."""

    calls: Literal["full", "hourly"] = Field(
        "hourly", description="helpline calls: every call (full) or the hourly table plus the booking calls "
        "(hourly, default: memory stays flat at scale)")


class Scenario(StrictModel):
    """A complete, frozen scenario."""

    name: str = "unnamed"
    description: str = ""
    seed: int = Field(20250630, ge=0, le=2**63 - 1)
    start_date: dt.date = dt.date(2025, 7, 1)
    #: [days]; up to a century, which only the planner's runs of services booked a few times a
    #: year need (``sim.sizing`` refuses runs too big for memory whatever the horizon)
    horizon_days: float = Field(365.0, gt=0, le=MAX_HORIZON_DAYS)
    warmup_days: float = Field(0.0, ge=0)
    geography: GeographyConfig = GeographyConfig()
    catalog: dict[str, CategoryConfig] = Field(min_length=1)
    workforce: WorkforceConfig = WorkforceConfig()
    demand: DemandConfig = DemandConfig()
    lifecycle: LifecycleConfig = LifecycleConfig()
    dispatch: DispatchConfig = DispatchConfig()
    helpline: HelplineConfig = HelplineConfig()
    money: MoneyConfig = MoneyConfig()
    growth: GrowthConfig | None = None
    calibration: CalibrationConfig | None = None
    output: OutputConfig = OutputConfig()

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        known = set(district_names())
        cats = set(self.catalog)
        enabled = {k for k, c in self.catalog.items() if c.enabled}
        if self.geography.districts != "all":
            for d in self.geography.districts:
                if d not in known:
                    raise ScenarioError(f"geography.districts: unknown district {d!r}")
        for d, per_cat in self.workforce.active_counts.items():
            if d not in known:
                raise ScenarioError(f"workforce.active_counts: unknown district {d!r}")
            for c, n in per_cat.items():
                if c not in cats:
                    raise ScenarioError(f"workforce.active_counts.{d}: unknown category {c!r}")
                if n < 0:
                    raise ScenarioError(f"workforce.active_counts.{d}.{c}: must be >= 0")
        for i, s in enumerate(self.demand.surges):
            for c in s.categories:
                if c not in cats:
                    raise ScenarioError(f"demand.surges.{i}.categories: unknown category {c!r}")
            for d in s.districts:
                if d not in known:
                    raise ScenarioError(f"demand.surges.{i}.districts: unknown district {d!r}")
        if not enabled:
            raise ScenarioError("catalog: no enabled category")
        if self.growth is not None:
            for err in self.growth.check_names(cats, known):
                raise ScenarioError(err)
        for field in ("demand_weight", "worker_share"):
            if sum(getattr(self.catalog[k], field) for k in enabled) <= 0:
                raise ScenarioError(f"catalog: {field} is zero for every enabled category")
        for k in enabled:
            if sum(self.catalog[k].seasonal) <= 0 or min(self.catalog[k].seasonal) < 0:
                raise ScenarioError(f"catalog.{k}.seasonal: values must be >= 0 and not all zero")
        if self.start_date < FIRST_DATE:
            raise ScenarioError(f"start_date: must be on or after {FIRST_DATE}")
        span = dt.timedelta(days=math.ceil(self.horizon_days + self.lifecycle.drain_days) + 1)
        if (LAST_DATE - self.start_date) < span:
            raise ScenarioError(f"start_date: the run (with its drain) would end after {LAST_DATE}; "
                                f"start on or before {LAST_DATE - span}")
        self.money.check_categories(cats)
        if self.warmup_days >= self.horizon_days:
            raise ScenarioError("warmup_days: must be shorter than horizon_days")
        return self

    @property
    def horizon_min(self) -> float:
        """Run length [minutes]."""
        return self.horizon_days * 1440.0

    @property
    def warmup_min(self) -> float:
        """Warm-up excluded from KPIs [minutes]."""
        return self.warmup_days * 1440.0

    def to_yaml(self) -> str:
        """The resolved scenario as YAML (what a run folder stores)."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


# ---------------------------------------------------------------- loading


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _deep_merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


def resolve_path(name_or_path: str | Path) -> Path:
    """A scenario name (``baseline``) or a path → an existing file."""
    p = Path(name_or_path)
    if p.suffix in {".yaml", ".yml"} or p.exists():
        cand = p
    else:
        cand = SCENARIO_DIR / f"{name_or_path}.yaml"
    if not cand.is_file():
        raise ScenarioError(f"scenario: cannot read {str(name_or_path)!r} (no such file)")
    return cand


def shown_path(path: Path) -> str:
    """How messages name a file: relative to the working folder when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def parent_path(parent: object, child: Path) -> Path:
    """Resolve an ``extends:`` value written in file ``child``.

    A path (with a folder or a .yaml suffix) is relative to the file that contains it; a bare
    name is a sibling ``<name>.yaml`` if there is one, else a scenario in ``scenarios/``.
    """
    if not isinstance(parent, str) or not parent.strip():
        raise ScenarioError(f"extends: in {shown_path(child)}: must be one scenario name or path (a string), "
                            f"got {short(parent)}")
    p = Path(parent.strip())
    if p.is_absolute():
        cand = p
    elif "/" in parent or p.suffix in {".yaml", ".yml"}:
        cand = child.parent / p
    else:
        sibling = child.parent / f"{p}.yaml"
        cand = sibling if sibling.is_file() else SCENARIO_DIR / f"{p}.yaml"
    if not cand.is_file():
        raise ScenarioError(f"extends: in {shown_path(child)}: no scenario {parent!r} (looked for {shown_path(cand)})")
    return cand


def _read_raw(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        raise ScenarioError(f"extends: cycle through {path.name}")
    if path.is_dir():
        raise ScenarioError(f"scenario: {shown_path(path)} is a folder, not a YAML file")
    raw = load_file(path, shown_path(path)) or {}
    if not isinstance(raw, dict):
        raise ScenarioError(f"scenario: {shown_path(path)} must be a mapping (key: value lines) at the top level")
    if "extends" not in raw:
        return raw
    parent = raw.pop("extends")
    return _deep_merge(_read_raw(parent_path(parent, path), (*seen, path)), raw)


def value_at(raw: Any, key: str) -> Any:
    """The value at dotted ``key`` ("a.b.c") of nested mappings; None where there is none."""
    for k in key.split("."):
        raw = raw.get(k) if isinstance(raw, dict) else None
    return raw


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"a.b.c=value"`` → (["a","b","c"], YAML-parsed value)."""
    if "=" not in item:
        raise ScenarioError(f"--set {item!r}: expected key=value")
    key, _, text = item.partition("=")
    keys = [k for k in key.strip().split(".")]
    if not all(keys):
        raise ScenarioError(f"--set {item!r}: empty key")
    if not text.strip():
        return keys, ""
    try:
        yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):  # not YAML at all (e.g. "a: b: c"): keep the text
        return keys, text
    # YAML, read strictly: 2025-02-30, !!int abc and duplicate keys are errors.
    return keys, load_text(text, f"--set {key.strip()}")


def apply_overrides(raw: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply ``--set`` items to a raw scenario mapping (returns a new mapping)."""
    out = raw
    for item in overrides:
        keys, value = parse_override(item)
        patch: Any = value
        for k in reversed(keys):
            patch = {k: patch}
        out = _deep_merge(out, patch)
    return out


def validate(raw: Mapping[str, Any]) -> Scenario:
    """Validate a raw mapping into a ``Scenario``; errors name the field."""
    try:
        check_values(raw)
        return Scenario.model_validate(raw)
    except RecursionError:
        raise ScenarioError("scenario: nested too deeply") from None
    except ValidationError as e:
        err = e.errors()[0]
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, ScenarioError):  # raised by a cross-check: already names its field
            raise ScenarioError(str(cause)) from None
        loc = ".".join(str(x) for x in err["loc"]) or "scenario"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        inp = err.get("input")
        shown = "" if isinstance(inp, dict | list) or err["type"] == "extra_forbidden" else f" (got {short(inp)})"
        raise ScenarioError(f"{loc}: {msg}{shown}") from None


def load_scenario(name_or_path: str | Path = "baseline", overrides: Iterable[str] = ()) -> Scenario:
    """Load, merge (``extends``), override and validate a scenario."""
    path = resolve_path(name_or_path)
    raw = _read_raw(path)
    raw.setdefault("name", path.stem)
    return validate(apply_overrides(raw, overrides))

