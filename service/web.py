"""The HTTP layer: a small ASGI dispatcher and the OpenAPI description, both made from one route table.

Every endpoint is one function registered with :meth:`Routes.add`; its parameters say what it
needs, by name, and the dispatcher hands exactly that over:

* ``ctx`` — the server's :class:`~service.context.Context`;
* ``who`` — the authenticated :class:`~service.auth.Caller` (401 before anything else is read);
* ``body`` — the JSON body, validated by pydantic straight from the bytes into the annotated model;
* ``key`` — the ``Idempotency-Key`` header (1..200 characters);
* ``query`` — the query string, validated into the annotated model;
* any other name — a path parameter ``{name}``, an id in 1..2**31-1.

A function returns a dict (sent with the route's status) or ``(status, dict)``; ``async``
functions run on the event loop (their database work goes through ``Database.run``), plain
ones in a worker thread.  Answers are serialised with orjson.  Errors become
``{"detail": "<one line>"}`` (``service.errors.ApiError`` and the fixed answers of ``ERROR_ANSWERS``;
a bug is a 500, logged).

Why not FastAPI: its per-request work (middleware layers, dependency solving, response
re-validation) was about half of the server's CPU per request; this does the same checks once
per request, for all endpoints alike.  The OpenAPI description is generated from the same
table and models, so it stays exactly as strict as the validation.
"""

from __future__ import annotations

import contextlib
import decimal
import inspect
import logging
import re
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import anyio.to_thread
import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.json_schema import models_json_schema

from service.errors import ApiError
from service.schemas import Problem

log = logging.getLogger("service.web")
MAX_ID = 2**31 - 1
MAX_KEY = 200
#: Bodies longer than this [bytes] are validated in a worker thread (bulk loads).
BIG_BODY_BYTES = 64 * 1024
#: Error codes every operation documents (``{"detail": ...}``), and why.
ERRORS: dict[int, str] = {
    400: "malformed request (e.g. body is not JSON)", 401: "missing or unknown bearer token",
    403: "the caller may not do this", 404: "no such object (or not the caller's)",
    409: "the object's state does not allow this", 413: "request body too large", 422: "invalid input",
    429: "rate limit exceeded", 503: "database busy; retry",
}
_NAMED = {"ctx", "who", "body", "key", "query"}
_JSON = (b"content-type", b"application/json")


class _Gone(Exception):
    """The client went away before its body arrived: nothing to answer."""


class _Invalid(Exception):
    """A request refused before its endpoint ran (status and one-line reason)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def _reason(where: str, e: ValidationError) -> str:
    """``body.lat: Input should be ...``: the first problem, where it is."""
    err = e.errors(include_url=False)[0]
    loc = ".".join(str(x) for x in (where, *err.get("loc", ())))
    return f"{loc}: {err.get('msg', 'invalid')}"


def _default(v: Any) -> Any:
    if isinstance(v, decimal.Decimal):  # PostgreSQL sums
        return int(v) if v == v.to_integral_value() else float(v)
    raise TypeError(f"not JSON: {type(v).__name__}")


def dumps(answer: Any) -> bytes:
    """An answer as JSON bytes (numpy scalars and Decimals allowed)."""
    return orjson.dumps(answer, default=_default, option=orjson.OPT_SERIALIZE_NUMPY)


@dataclass
class Endpoint:
    """One operation: how to call its function, and what the OpenAPI description says of it."""

    method: str
    path: str
    fn: Callable[..., Any]
    status: int
    response: Any
    tags: list[str]
    exclude_none: bool
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    path_params: tuple[str, ...] = ()
    wants: frozenset[str] = frozenset()
    is_async: bool = True
    pattern: re.Pattern | None = None
    adapter: TypeAdapter | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """The function's name (the OpenAPI operation id's stem)."""
        return self.fn.__name__


class Routes:
    """A table of endpoints under one path prefix (``routes.py``, ``routes_admin.py``)."""

    def __init__(self, prefix: str = "", tags: list[str] | None = None) -> None:
        self.prefix = prefix
        self.tags = tags or []
        self.endpoints: list[Endpoint] = []

    def add(self, method: str, path: str, *, status: int = 200, response: Any = None, tags: list[str] | None = None,
            exclude_none: bool = False) -> Callable[[Callable], Callable]:
        """Register the decorated function as ``method prefix+path`` answering ``status`` with ``response``."""
        def register(fn: Callable) -> Callable:
            full = self.prefix + path
            hints = typing.get_type_hints(fn)
            names = tuple(inspect.signature(fn).parameters)
            path_params = tuple(n for n in names if n not in _NAMED)
            missing = set(path_params) ^ set(re.findall(r"{(\w+)}", full))
            if missing:
                raise TypeError(f"{fn.__name__}: path parameters do not match {full}: {sorted(missing)}")
            body = hints.get("body") if "body" in names else None
            self.endpoints.append(Endpoint(
                method, full, fn, status, response, tags if tags is not None else self.tags, exclude_none,
                body=body, query=hints.get("query") if "query" in names else None, path_params=path_params,
                wants=frozenset(names), is_async=inspect.iscoroutinefunction(fn),
                pattern=re.compile("^" + re.sub(r"{(\w+)}", r"(?P<\1>[^/]+)", re.escape(full).replace(
                    r"\{", "{").replace(r"\}", "}")) + "$") if path_params else None,
                adapter=TypeAdapter(body) if body is not None else None))
            return fn

        return register


class Api:
    """The ASGI application: routes requests to endpoints; serves ``/openapi.json``."""

    def __init__(self, ctx: Any, tables: list[Routes], *, title: str, version: str, description: str,
                 lifespan: Callable[[], contextlib.AbstractAsyncContextManager] | None = None,
                 schema_hook: Callable[[dict], dict] | None = None) -> None:
        self.ctx = ctx
        self.endpoints = [e for t in tables for e in t.endpoints]
        self.info = {"title": title, "description": description, "version": version}
        self.lifespan = lifespan
        self.schema_hook = schema_hook
        self._static: dict[tuple[str, str], Endpoint] = {}
        self._dynamic: dict[str, list[Endpoint]] = {}
        self._paths: dict[str, set[str]] = {}
        for e in self.endpoints:
            if e.pattern is None:
                self._static[(e.method, e.path)] = e
            else:
                self._dynamic.setdefault(e.method, []).append(e)
            self._paths.setdefault(e.path, set()).add(e.method)
        self._openapi: bytes | None = None

    # -- routing -------------------------------------------------------------------------------
    def match(self, method: str, path: str) -> tuple[Endpoint, dict[str, str]]:
        """The endpoint for ``method path`` and its raw path parameters; 404 or 405 otherwise."""
        method = "GET" if method == "HEAD" else method
        e = self._static.get((method, path))
        if e is not None:
            return e, {}
        for e in self._dynamic.get(method, ()):
            m = e.pattern.match(path)
            if m is not None:
                return e, m.groupdict()
        allowed = {e.method for e in self.endpoints if (e.path == path if e.pattern is None else e.pattern.match(path))}
        if allowed:
            raise ApiError(405, "Method Not Allowed", {"Allow": ", ".join(sorted(allowed))})
        raise ApiError(404, "Not Found")

    # -- ASGI ----------------------------------------------------------------------------------
    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]], send: Callable) -> None:
        """Answer one request (or run the lifespan protocol)."""
        kind = scope["type"]
        if kind == "http":
            try:
                status, answer, headers = await self._answer(scope, receive)
            except _Gone:
                return
            body = b"" if status == 204 else dumps(answer)
            hdrs = [_JSON, (b"content-length", str(len(body)).encode())] if status != 204 else []
            hdrs += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
            await send({"type": "http.response.start", "status": status, "headers": hdrs})
            await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _answer(self, scope: dict, receive: Callable) -> tuple[int, Any, dict[str, str]]:
        try:
            method, path = scope["method"], scope["path"]
            if path == "/openapi.json" and method in ("GET", "HEAD"):
                return 200, orjson.Fragment(self.openapi()), {}
            e, raw = self.match(method, path)
            out = await self._call(e, raw, scope, receive)
            status = e.status
            if type(out) is tuple:
                status, out = out
            if e.exclude_none and isinstance(out, dict):
                out = {k: v for k, v in out.items() if v is not None}
            return status, out, {}
        except ApiError as err:
            return err.status, {"detail": err.detail}, err.headers
        except _Gone:
            raise
        except _Invalid as err:
            return err.status, {"detail": err.detail}, {}
        except Exception as err:  # noqa: BLE001 - mapped below; anything else is a bug (500, logged)
            for kind, (status, detail, headers) in ERROR_ANSWERS.items():
                if isinstance(err, kind):
                    return status, {"detail": detail if detail is not None else str(err)}, headers or {}
            log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            return 500, {"detail": "internal server error"}, {}

    async def _call(self, e: Endpoint, raw: dict[str, str], scope: dict, receive: Callable) -> Any:
        """Authenticate, validate (path, query, header, body: the first problem is the answer), call."""
        wants = e.wants
        kw: dict[str, Any] = {}
        auth = key = ctype = None
        for k, v in scope["headers"]:
            if k == b"authorization":
                auth = v
            elif k == b"idempotency-key":
                key = v
            elif k == b"content-type":
                ctype = v
        if "ctx" in wants:
            kw["ctx"] = self.ctx
        if "who" in wants:
            kw["who"] = await self.ctx.tokens.resolve(None if auth is None else auth.decode("latin-1"))
        for name in e.path_params:
            s = raw[name]
            if not (s.isdigit() and s.isascii() and 1 <= int(s) <= MAX_ID):
                raise _Invalid(422, f"path.{name}: an id in 1..{MAX_ID} required, got {s[:40]!r}")
            kw[name] = int(s)
        if e.query is not None:
            try:
                kw["query"] = e.query.model_validate(dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"))))
            except ValidationError as err:
                raise _Invalid(422, _reason("query", err)) from None
        if "key" in wants:
            if key is None:
                raise _Invalid(422, "header.Idempotency-Key: Field required")
            k = key.decode("latin-1")
            if not 1 <= len(k) <= MAX_KEY:
                raise _Invalid(422, f"header.Idempotency-Key: 1 to {MAX_KEY} characters")
            kw["key"] = k
        if e.adapter is not None:
            raw_body = await _read_body(receive)
            if len(raw_body) > BIG_BODY_BYTES:  # a bulk load: validating it takes seconds, not on the event loop
                kw["body"] = await anyio.to_thread.run_sync(self._body, e, raw_body, ctype)
            else:
                kw["body"] = self._body(e, raw_body, ctype)
        if e.is_async:
            return await e.fn(**kw)
        return await anyio.to_thread.run_sync(lambda: e.fn(**kw))

    @staticmethod
    def _body(e: Endpoint, raw: bytes, ctype: bytes | None) -> Any:
        if not raw:
            raise _Invalid(422, "body: Field required")
        mtype = (ctype or b"").split(b";", 1)[0].strip().lower()
        if mtype != b"application/json" and not (mtype.startswith(b"application/") and mtype.endswith(b"+json")):
            raise _Invalid(422, "body: Content-Type must be application/json")
        try:
            return e.adapter.validate_json(raw)
        except ValidationError as err:
            if err.errors(include_url=False)[0]["type"] == "json_invalid":
                raise _Invalid(400, "body: not valid JSON") from None
            raise _Invalid(422, _reason("body", err)) from None

    async def _lifespan(self, receive: Callable, send: Callable) -> None:
        stack = contextlib.AsyncExitStack()
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                try:
                    if self.lifespan is not None:
                        await stack.enter_async_context(self.lifespan())
                except Exception as err:  # noqa: BLE001 - reported to the server, which stops
                    await send({"type": "lifespan.startup.failed", "message": str(err)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await stack.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- OpenAPI -------------------------------------------------------------------------------
    def openapi(self) -> bytes:
        """The OpenAPI 3.1 description of every endpoint (made once)."""
        if self._openapi is None:
            doc = openapi(self.endpoints, self.info)
            self._openapi = dumps(self.schema_hook(doc) if self.schema_hook else doc)
        return self._openapi


async def _read_body(receive: Callable) -> bytes:
    chunks = []
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            raise _Gone
        chunks.append(msg.get("body", b""))
        if not msg.get("more_body", False):
            return b"".join(chunks)


#: Failures mapped to a fixed answer, never a 500: exception type -> (status, detail or None for
#: the exception's own message, headers).  Filled by ``service.app`` (it knows the database's errors).
ERROR_ANSWERS: dict[type[BaseException], tuple[int, str | None, dict[str, str] | None]] = {}


def _title(name: str) -> str:
    return name.replace("_", " ").title()


def openapi(endpoints: list[Endpoint], info: dict[str, str]) -> dict:
    """OpenAPI 3.1 from the route table: request models in validation mode, answers in serialization mode."""
    models: dict[tuple[type, str], None] = {}
    for e in endpoints:
        if e.body is not None:
            models[(e.body, "validation")] = None
        if isinstance(e.response, type) and issubclass(e.response, BaseModel):
            models[(e.response, "serialization")] = None
    models[(Problem, "serialization")] = None
    refs, defs = models_json_schema(list(models), ref_template="#/components/schemas/{model}")
    problem = {"content": {"application/json": {"schema": refs[(Problem, "serialization")]}}}
    paths: dict[str, dict] = {}
    for e in endpoints:
        op: dict[str, Any] = {"tags": e.tags, "summary": _title(e.name),
                              "description": inspect.cleandoc(e.fn.__doc__ or ""),
                              "operationId": re.sub(r"\W", "_", e.name + e.path) + "_" + e.method.lower()}
        if "who" in e.wants:
            op["security"] = [{"HTTPBearer": []}]
        params = [{"name": n, "in": "path", "required": True,
                   "schema": {"type": "integer", "maximum": MAX_ID, "minimum": 1, "title": _title(n)}}
                  for n in e.path_params]
        if e.query is not None:
            qs = e.query.model_json_schema()
            params += [{"name": n, "in": "query", "required": n in qs.get("required", ()), "schema": s}
                       for n, s in qs["properties"].items()]
        if "key" in e.wants:
            params.append({"name": "Idempotency-Key", "in": "header", "required": True,
                           "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY,
                                      "title": "Idempotency-Key"}})
        if params:
            op["parameters"] = params
        if e.body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": refs[(e.body, "validation")]}}}
        ok: dict[str, Any] = {"description": "Successful Response"}
        if e.status != 204:
            schema = (refs[(e.response, "serialization")] if (e.response, "serialization") in refs
                      else {"type": "object", "additionalProperties": True})
            ok["content"] = {"application/json": {"schema": schema}}
        op["responses"] = {str(e.status): ok}
        if e.response is not None and e.status == 202:  # claims: 202 sends a code, 200 claims
            op["responses"]["200"] = ok
        if "who" in e.wants or e.body is not None or e.path_params:
            op["responses"] |= {str(c): {"description": why, **problem} for c, why in ERRORS.items()}
        paths.setdefault(e.path, {})[e.method.lower()] = op
    return {"openapi": "3.1.0", "info": info, "paths": paths,
            "components": {"schemas": defs.get("$defs", {}), "securitySchemes": {"HTTPBearer": {
                "type": "http", "description": "token from registration, or the admin token", "scheme": "bearer"}}}}
