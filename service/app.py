"""The FastAPI application: routes, error mapping (never a 500 for bad input), limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from service import clocks, routes, routes_admin
from service.config import ServiceConfig
from service.context import Context
from service.errors import ApiError
from service.limits import LimitsMiddleware
from service.schemas import strict_openapi
from sim.errors import InputError
from sim.ledger import LedgerError


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _validation_reason(exc: RequestValidationError) -> str:
    errs = exc.errors()
    if not errs:
        return "invalid request"
    e = errs[0]
    loc = ".".join(str(x) for x in e.get("loc", ()))
    return f"{loc}: {e.get('msg', 'invalid')}"


#: Database and encoding failures mapped to a fixed answer (never a 500).
FIXED_ANSWERS: dict[type[Exception], tuple[int, str, dict[str, str] | None]] = {
    IntegrityError: (409, "conflict with a concurrent change; retry", {"Retry-After": "1"}),
    DataError: (422, "a value is out of range for the database", None),
    OperationalError: (503, "database busy or unavailable; retry", {"Retry-After": "1"}),
    UnicodeError: (422, "text is not valid Unicode", None),
}


def install_handlers(app: FastAPI) -> None:
    """Map every expected failure to a 4xx/503 with a one-line reason."""
    @app.exception_handler(ApiError)
    async def _api(_r: Request, e: ApiError) -> JSONResponse:
        return _problem(e.status, e.detail, e.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_r: Request, e: RequestValidationError) -> JSONResponse:
        return _problem(422, _validation_reason(e))

    @app.exception_handler(InputError)
    @app.exception_handler(LedgerError)
    async def _rules(_r: Request, e: Exception) -> JSONResponse:
        return _problem(422, str(e))

    for exc, (status, detail, headers) in FIXED_ANSWERS.items():
        app.add_exception_handler(exc, _fixed(status, detail, headers))


def _fixed(status: int, detail: str, headers: dict[str, str] | None):  # noqa: ANN202
    async def handler(_r: Request, _e: Exception) -> JSONResponse:
        return _problem(status, detail, headers)

    return handler


def create_app(cfg: ServiceConfig | None = None) -> FastAPI:
    """Build the app for ``cfg`` (default: from ``SEWAMITRA_*`` environment variables)."""
    cfg = cfg if cfg is not None else ServiceConfig.from_env()
    ctx = Context.build(cfg)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with clocks.running(ctx):
            yield
        ctx.db.dispose()

    app = FastAPI(title="Sewa Mitra reference deployment", version="1.0.0", lifespan=lifespan,
                  description="Reference backend of the Sewa Mitra twin (API v1). Money in integer paise.")
    app.state.ctx = ctx
    app.include_router(routes.router)
    app.include_router(routes_admin.router)
    install_handlers(app)

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = strict_openapi(FastAPI.openapi(app), sorted(ctx.ref.districts),
                                                sorted(ctx.ref.prices))
        return app.openapi_schema

    app.openapi = openapi

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict:
        """Liveness: the process answers."""
        return {"ok": True}

    app.add_middleware(LimitsMiddleware, admin_token=cfg.admin_token, rate_per_s=cfg.rate_per_s,
                       rate_burst=cfg.rate_burst, max_body_bytes=cfg.max_body_bytes,
                       bulk_body_bytes=cfg.bulk_body_bytes)
    return app
