"""Shared request plumbing: the process context, the caller, ids, error documentation."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.auth import Caller
from service.context import Context
from service.schemas import Problem

bearer = HTTPBearer(auto_error=False, description="token from registration, or the admin token")

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
IdemKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=200)]

ERRORS: dict[int | str, dict] = {
    code: {"model": Problem, "description": why} for code, why in {
        400: "malformed request (e.g. body is not JSON)", 401: "missing or unknown bearer token",
        403: "the caller may not do this",
        404: "no such object (or not the caller's)", 409: "the object's state does not allow this",
        413: "request body too large", 422: "invalid input", 429: "rate limit exceeded",
        503: "database busy; retry",
    }.items()
}


# Dependencies are ``async`` on purpose: a plain ``def`` would cost a threadpool hop per request.
async def get_ctx(request: Request) -> Context:
    """The server's context (built at start-up)."""
    return request.app.state.ctx


async def get_caller(
    request: Request, _cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Caller:
    """The authenticated caller; 401 otherwise (cached after the first sight of a token)."""
    return await request.app.state.ctx.tokens.resolve(request.headers.get("authorization"))


Ctx = Annotated[Context, Depends(get_ctx)]
Who = Annotated[Caller, Depends(get_caller)]
