"""Service-level checks that decide the load test's exit code (pure; no Locust import)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Pass/fail limits of a load test; ``None`` disables a check.

    Attributes:
        fail_ratio: largest share of failed requests [0-1].
        p99_ms: largest 99th-percentile response time over all requests [ms].
        lag_p99_ms: largest 99th-percentile schedule lag of a trace replay [ms].
    """

    fail_ratio: float | None = 0.01
    p99_ms: float | None = 2000.0
    lag_p99_ms: float | None = 1000.0


@dataclass(frozen=True)
class Observed:
    """What a run measured: request count, failure ratio, p99 response time [ms], p99 lag [ms]."""

    requests: int
    fail_ratio: float
    p99_ms: float
    lag_p99_ms: float | None = None


def violations(obs: Observed, lim: Limits) -> list[str]:
    """Human-readable failed checks (empty when the run passes)."""
    out = []
    if obs.requests == 0:
        out.append("no requests were sent")
    if lim.fail_ratio is not None and obs.fail_ratio > lim.fail_ratio:
        out.append(f"failure ratio {obs.fail_ratio:.2%} > {lim.fail_ratio:.2%}")
    if lim.p99_ms is not None and obs.p99_ms > lim.p99_ms:
        out.append(f"p99 response time {obs.p99_ms:.0f} ms > {lim.p99_ms:.0f} ms")
    if lim.lag_p99_ms is not None and obs.lag_p99_ms is not None and obs.lag_p99_ms > lim.lag_p99_ms:
        out.append(f"schedule lag p99 {obs.lag_p99_ms:.1f} ms > {lim.lag_p99_ms:.0f} ms")
    return out


def exit_code(obs: Observed, lim: Limits) -> int:
    """0 when every check passes, 1 otherwise (Locust's convention for a failed test)."""
    return 1 if violations(obs, lim) else 0
