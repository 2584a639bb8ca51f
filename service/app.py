"""The application: the route tables behind the limits, error mapping (never a 500 for bad input), clocks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from service import clocks, routes, routes_admin, web
from service.config import ServiceConfig
from service.context import Context
from service.limits import LimitsMiddleware
from service.schemas import strict_openapi
from sim.errors import InputError
from sim.ledger import LedgerError

#: Database, encoding and rule failures mapped to a fixed answer (never a 500); ``None``: the error's message.
web.ERROR_ANSWERS.update({
    IntegrityError: (409, "conflict with a concurrent change; retry", {"Retry-After": "1"}),
    DataError: (422, "a value is out of range for the database", None),
    OperationalError: (503, "database busy or unavailable; retry", {"Retry-After": "1"}),
    UnicodeError: (422, "text is not valid Unicode", None),
    InputError: (422, None, None),
    LedgerError: (422, None, None),
})

ops = web.Routes(tags=["ops"])


@ops.add("GET", "/healthz")
async def healthz() -> dict:
    """Liveness: the process answers."""
    return {"ok": True}


def create_app(cfg: ServiceConfig | None = None) -> Any:
    """The ASGI app for ``cfg`` (default: from ``SEWAMITRA_*`` environment variables)."""
    cfg = cfg if cfg is not None else ServiceConfig.from_env()
    ctx = Context.build(cfg)

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        try:
            async with clocks.running(ctx):
                yield
        finally:
            ctx.db.dispose()

    api = web.Api(ctx, [routes.router, routes_admin.router, ops], title="Sewa Mitra reference deployment",
                  version="1.0.0", lifespan=lifespan,
                  description="Reference backend of the Sewa Mitra twin (API v1). Money in integer paise.",
                  schema_hook=lambda doc: strict_openapi(doc, sorted(ctx.ref.districts), sorted(ctx.ref.prices)))
    return LimitsMiddleware(api, admin_token=cfg.admin_token, rate_per_s=cfg.rate_per_s, rate_burst=cfg.rate_burst,
                            max_body_bytes=cfg.max_body_bytes, bulk_body_bytes=cfg.bulk_body_bytes)
