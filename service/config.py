"""Start-up settings of the reference deployment.

They travel from ``python -m service`` to each uvicorn worker process through environment
variables (``SEWAMITRA_*``).
"""

from __future__ import annotations

import json
import os
import secrets
from typing import Any

from pydantic import Field, ValidationError

from sim.errors import InputError
from sim.schema import StrictModel

ENV_PREFIX = "SEWAMITRA_"
ADMIN_TOKEN_ENV = "SEWAMITRA_ADMIN_TOKEN"


class ServiceConfig(StrictModel):
    """Everything a server process needs to know; validated once at start-up.

    Attributes:
        db: SQLAlchemy URL; ``sqlite:///file.db`` (WAL) or ``postgresql+psycopg://…``.
        admin_token: bearer token of the admin (from ``SEWAMITRA_ADMIN_TOKEN``).
        policy, policy_params: dispatch policy, built with ``sim.policies.make_policy``
            (``None``: the scenario's ``dispatch``).
        scenario: scenario whose catalog gives categories and prices.
        seed: root seed of the policy's "choices" stream (``None``: the scenario's).
        allow_reset: enables ``POST /v1/admin/reset`` (tests and load replays only).
        rate_per_s, rate_burst: per-caller token bucket [requests/s], [requests]; 0 = off.
        max_body_bytes: largest request body [bytes] (bulk admin loads get ``bulk_body_bytes``).
        commission_bp: platform commission on completed jobs [basis points].
        offer_timeout_min, max_offers, retry_interval_min, max_search_min: the live clocks'
            rules (``None``: the scenario's ``lifecycle``) [minutes of deployment time].
        settlement_delay_days: payout settlement after T+n (``None``: the scenario's ``money``) [days].
        time_scale: deployment minutes per wall-clock minute (1 = real time; a replay at
            ``--speedup 2880`` runs its server at 2880 so the clocks match the trace's).
    """

    db: str = "sqlite:///sewamitra.db"
    admin_token: str = ""
    policy: str | None = None
    policy_params: dict[str, Any] | None = None
    scenario: str = "baseline"
    seed: int | None = Field(None, ge=0)
    allow_reset: bool = False
    rate_per_s: float = Field(200.0, ge=0)
    rate_burst: float = Field(400.0, ge=0)
    max_body_bytes: int = Field(16_384, ge=256)
    bulk_body_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    commission_bp: int = Field(1000, ge=0, le=10_000)
    offer_timeout_min: float | None = Field(None, gt=0, le=1440)
    max_offers: int | None = Field(None, ge=1, le=50)
    retry_interval_min: float | None = Field(None, gt=0, le=1440)
    max_search_min: float | None = Field(None, gt=0, le=525_600)
    settlement_delay_days: float | None = Field(None, ge=0, le=30)
    time_scale: float = Field(1.0, gt=0, le=100_000)

    def public(self) -> dict[str, Any]:
        """What ``GET /v1/admin/config`` shows: the rules this deployment runs by (no secrets)."""
        from sim.policies import make_policy

        return {"policy": self.policy, "policy_params": self.policy_params,
                "radius_km": make_policy(self.policy, self.policy_params).radius_km,
                "offer_timeout_min": self.offer_timeout_min, "max_offers": self.max_offers,
                "retry_interval_min": self.retry_interval_min, "max_search_min": self.max_search_min,
                "settlement_delay_days": self.settlement_delay_days, "time_scale": self.time_scale,
                "scenario": self.scenario, "seed": self.seed, "commission_bp": self.commission_bp}

    def to_env(self) -> dict[str, str]:
        """The settings as environment variables (JSON values)."""
        out = {ENV_PREFIX + k.upper(): json.dumps(v) for k, v in self.model_dump().items()}
        out[ADMIN_TOKEN_ENV] = self.admin_token
        return out

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ServiceConfig:
        """Read the settings back from ``SEWAMITRA_*`` variables (missing ones take defaults)."""
        env = dict(os.environ if env is None else env)
        raw: dict[str, Any] = {}
        for name in cls.model_fields:
            val = env.get(ENV_PREFIX + name.upper())
            if val is not None and name != "admin_token":
                try:
                    raw[name] = json.loads(val)
                except json.JSONDecodeError:
                    raw[name] = val
        raw["admin_token"] = env.get(ADMIN_TOKEN_ENV, "")
        return build(raw)


def build(raw: dict[str, Any]) -> ServiceConfig:
    """Validate settings; bad values raise ``InputError`` naming the field."""
    try:
        cfg = ServiceConfig(**raw)
    except ValidationError as e:
        err = e.errors()[0]
        raise InputError(f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}") from None
    if not cfg.admin_token:
        cfg = cfg.model_copy(update={"admin_token": secrets.token_urlsafe(24)})
    elif len(cfg.admin_token) < 16:
        raise InputError(f"{ADMIN_TOKEN_ENV}: needs at least 16 characters")
    from sim.policies import make_policy

    cfg = _with_scenario_rules(cfg)
    make_policy(cfg.policy, cfg.policy_params)  # raises InputError naming the field
    return cfg


def _with_scenario_rules(cfg: ServiceConfig) -> ServiceConfig:
    """Fill the clocks' rules left unset from the scenario (the twin's own values)."""
    from sim.config import load_scenario

    sc = load_scenario(cfg.scenario)
    lc = sc.lifecycle
    rules = {"policy": sc.dispatch.policy, "seed": sc.seed,
             "offer_timeout_min": lc.accept_timeout_min, "max_offers": lc.max_offers,
             "retry_interval_min": lc.retry_interval_min, "max_search_min": lc.max_search_min,
             "settlement_delay_days": float(sc.money.settlement_delay_days)}
    if cfg.policy_params is None:
        rules["policy_params"] = dict(sc.dispatch.params) if cfg.policy in (None, sc.dispatch.policy) else {}
    return cfg.model_copy(update={k: v for k, v in rules.items() if getattr(cfg, k) is None})
