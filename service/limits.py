"""Payload-size and request-rate limits, as one pure ASGI middleware (cheap per request).

Rates are per caller (bearer token, else client address), a token bucket of
``rate_per_s`` refilled continuously up to ``rate_burst``; an empty bucket gets 429 with
``Retry-After`` [seconds].  The admin and ``/healthz`` are not limited.  Bodies larger than the limit get 413,
whether announced by ``Content-Length`` or streamed.  Limits are per server process.

Before any body is read: a request with more than one ``Authorization`` header is refused
(400: the limiter and the identity must see the same credential), and ``/v1/admin/*`` is
refused to anyone but the admin (401/403), so an anonymous caller cannot make the server
read a 16 MiB bulk body.  Body limits are per endpoint (:func:`body_limit`).
"""

from __future__ import annotations

import hmac
import json
import math
import threading
import time
from typing import Any

BULK_SUFFIX = ":bulk"
ADMIN_PREFIX = "/v1/admin/"
#: Largest body of a request without one (GET) [bytes].
NO_BODY_BYTES = 0


def body_limit(method: str, path: str, max_body: int, bulk_body: int) -> int:
    """The largest body [bytes] the endpoint accepts: bulk loads, other writes, reads."""
    if method in ("GET", "HEAD", "DELETE", "OPTIONS"):
        return NO_BODY_BYTES
    return bulk_body if path.startswith(ADMIN_PREFIX) and path.endswith(BULK_SUFFIX) else max_body


class TokenBucket:
    """Token buckets by key: ``take(key)`` returns 0 if allowed, else the wait [seconds]."""

    def __init__(self, rate_per_s: float, burst: float, max_keys: int = 200_000) -> None:
        self.rate = rate_per_s
        self.burst = max(burst, 1.0)
        self.max_keys = max_keys
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """Spend one token of ``key``; 0.0 if there was one, else seconds until there is."""
        if self.rate <= 0:
            return 0.0
        t = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._state.get(key, (self.burst, t))
            tokens = min(self.burst, tokens + (t - last) * self.rate)
            if tokens >= 1.0:
                if len(self._state) >= self.max_keys and key not in self._state:
                    self._state.clear()  # forget idle callers rather than grow without bound
                self._state[key] = (tokens - 1.0, t)
                return 0.0
            self._state[key] = (tokens, t)
            return (1.0 - tokens) / self.rate


class _TooLarge(BaseException):  # not Exception: the route layer would answer it as an error of its own
    pass


async def _send_json(send: Any, status: int, detail: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": detail}).encode("utf-8")
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


class LimitsMiddleware:
    """Rejects oversized bodies (413) and callers over their rate (429)."""

    def __init__(self, app: Any, *, admin_token: str, rate_per_s: float, rate_burst: float,
                 max_body_bytes: int, bulk_body_bytes: int) -> None:
        self.app = app
        self.admin_header = f"Bearer {admin_token}".encode()
        self.bucket = TokenBucket(rate_per_s, rate_burst)
        self.max_body = max_body_bytes
        self.bulk_body = bulk_body_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """Check the limits, then pass the request on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        auth = headers.get(b"authorization", b"")
        if sum(1 for k, _ in scope["headers"] if k == b"authorization") > 1:
            await _send_json(send, 400, "Authorization: header sent more than once")
            return
        path = scope["path"]
        # the admin's calls, bulk loads included, are refused to others before any body is read
        if path.startswith(ADMIN_PREFIX) and not hmac.compare_digest(auth, self.admin_header):
            if auth:
                await _send_json(send, 403, "this call needs the role admin")
            else:
                await _send_json(send, 401, "missing bearer token", [(b"www-authenticate", b"Bearer")])
            return
        if auth != self.admin_header and path != "/healthz":  # probes are never limited
            key = auth.decode("latin-1") if auth else f"ip:{(scope.get('client') or ('?',))[0]}"
            wait = self.bucket.take(key)
            if wait > 0:
                await _send_json(send, 429, "rate limit exceeded; slow down",
                                 [(b"retry-after", str(max(1, math.ceil(wait))).encode())])
                return
        limit = body_limit(scope["method"], path, self.max_body, self.bulk_body)
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _send_json(send, 413, f"request body larger than {limit} bytes")
            return
        seen = 0
        started = False

        async def counted_receive() -> dict:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return msg

        async def tracked_send(msg: dict) -> None:
            nonlocal started
            started = started or msg["type"] == "http.response.start"
            await send(msg)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _TooLarge:
            if not started:
                await _send_json(send, 413, f"request body larger than {limit} bytes")
