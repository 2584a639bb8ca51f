"""A lean HTTP sender for the open-model replay that still reports every request to Locust.

Locust's ``FastHttpSession`` spends about half of a request's CPU on URL handling and its
response context manager.  The replay sends thousands of requests a second from one
process, so it talks to ``geventhttpclient`` (the library under ``FastHttpUser``) directly
and fires Locust's ``request`` event itself: statistics, CSV/HTML reports, failure counts
and SLO checks see exactly what they would see from ``FastHttpSession``.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

from geventhttpclient import HTTPClient

from load.actions import Request


class HttpStatusError(Exception):
    """A response whose status is a failure (reported to Locust as the request's exception)."""


class LeanSender:
    """Sends ``Request`` objects over a pool of keep-alive connections [s for timeouts].

    Args:
        fire: Locust's ``environment.events.request.fire``.
        base_url: deployment URL (``http://127.0.0.1:8000``).
        concurrency: connections kept open (requests in flight are not bounded by responses).
        timeout_s: connect and network time-out [s].
    """

    def __init__(self, fire: Any, base_url: str, concurrency: int = 500, timeout_s: float = 60.0) -> None:
        u = urlsplit(base_url)
        self.client = HTTPClient(u.hostname, u.port or 80, concurrency=concurrency,
                                 connection_timeout=timeout_s, network_timeout=timeout_s)
        self.fire = fire
        self.prefix = u.path.rstrip("/")

    def __call__(self, req: Request) -> tuple[int, Any]:
        """Send; return ``(status, parsed JSON or None)``; a divergence (``req.diverged``) counts as success."""
        headers = {"Content-Type": "application/json"} | req.headers()
        body = None if req.body is None else json.dumps(req.body)
        t0 = time.perf_counter()
        start = time.time()
        code, data, length, exc = 0, None, 0, None
        try:
            r = self.client.request(req.method, self.prefix + req.path, body=body, headers=headers)
            raw = r.read()
            code, length = r.status_code, len(raw)
            if 200 <= code < 300:
                data = json.loads(raw) if raw else None
            elif code not in req.diverged:
                exc = HttpStatusError(f"{code}: {raw[:200].decode('utf-8', 'replace')}")
        except Exception as e:  # noqa: BLE001 - connection errors are request failures, reported below
            exc = e
        self.fire(request_type=req.method, name=req.name, response_time=(time.perf_counter() - t0) * 1000,
                  response_length=length, response=None, context={"actor": req.actor}, exception=exc,
                  start_time=start, url=req.path)
        return code, data

    def close(self) -> None:
        """Close the pooled connections."""
        self.client.close()
