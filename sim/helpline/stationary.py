"""Stationary helpline runs: one interval with constant rates, replicated, with 95 % CIs.

Used by ``run_sim.py helpline`` and by the validation tests against Erlang C / Erlang A.
Each replication r uses ``Streams(seed, r)`` (independent), starts empty, runs ``hours``
and deletes the calls that arrive in the first ``warmup_hours`` (initial-transient bias).
Per-replication KPIs are averaged; the CI is the Student-t interval over replications.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from sim.errors import ScenarioError
from sim.helpline.queue import busy_per_bin, serve_constant
from sim.seeds import Streams

KPIS = ("mean_wait_s", "p_wait", "service_level", "abandon_rate")
HandleSampler = Callable[[np.random.Generator, int], np.ndarray]


@dataclass(frozen=True)
class Stationary:
    """One stationary interval: rates, staffing and run lengths."""

    arrivals_per_hour: float
    aht_s: float
    agents: int
    patience_s: float | None = None
    sl_seconds: float = 20.0
    hours: float = 200.0
    warmup_hours: float | None = None  # default: a fifth of ``hours``

    def __post_init__(self) -> None:
        def bad(name: str, problem: str) -> None:
            raise ScenarioError(f"{name}: {problem}")
        if not (math.isfinite(self.arrivals_per_hour) and self.arrivals_per_hour >= 0):
            bad("arrivals_per_hour", f"must be a finite number >= 0 (got {self.arrivals_per_hour})")
        if not (math.isfinite(self.aht_s) and self.aht_s > 0):
            bad("aht_seconds", f"must be > 0 (got {self.aht_s})")
        if self.agents < 0 or (self.agents == 0 and self.arrivals_per_hour > 0):
            bad("agents", f"must be >= 1 when calls arrive (got {self.agents})")
        if self.patience_s is not None and not self.patience_s > 0:
            bad("patience_seconds", f"must be > 0 (got {self.patience_s})")
        if not self.sl_seconds >= 0:
            bad("sl_seconds", f"must be >= 0 (got {self.sl_seconds})")
        if not self.hours > 0:
            bad("hours", f"must be > 0 (got {self.hours})")
        if not 0 <= self.warmup < self.hours:
            bad("warmup_hours", f"must be >= 0 and shorter than hours (got {self.warmup})")
        if self.patience_s is None and self.arrivals_per_hour * self.aht_s / 3600.0 >= self.agents > 0:
            bad("agents", "offered load >= agents and no patience: the queue grows without bound")

    @property
    def warmup(self) -> float:
        """Warm-up [hours]."""
        return self.hours / 5.0 if self.warmup_hours is None else self.warmup_hours


def replicate(p: Stationary, seed: int, r: int, handle: HandleSampler | None = None) -> dict[str, float]:
    """One replication's KPIs (calls arriving after the warm-up).

    Args:
        p: the interval.
        seed: root seed.
        r: replication number.
        handle: draws handle times [s]; default exponential with mean ``p.aht_s``.
    """
    s = Streams(seed, r)
    end, warm = p.hours * 3600.0, p.warmup * 3600.0
    rng = s["helpline_arrivals"]
    t = np.sort(rng.random(rng.poisson(p.arrivals_per_hour * p.hours)) * end)
    n = t.size
    h = handle(s["helpline_service"], n) if handle else s["helpline_service"].exponential(p.aht_s, n)
    pat = s["helpline_patience"].exponential(p.patience_s, n) if p.patience_s is not None else None
    wait, served = serve_constant(t, h, pat, max(p.agents, 1))
    in_queue = np.where(served, wait, pat if pat is not None else wait)
    edges = np.array([warm, end])
    busy = busy_per_bin(t[served] + wait[served], t[served] + wait[served] + h[served], edges)[0]
    lq = busy_per_bin(t, t + in_queue, edges)[0] / (end - warm)
    m = t >= warm
    k = int(m.sum())
    if k == 0:
        return {"calls": 0, "mean_wait_s": 0.0, "p_wait": 0.0, "service_level": 1.0, "abandon_rate": 0.0,
                "occupancy": busy / (p.agents * (end - warm)) if p.agents else 0.0, "lq": lq,
                "rate_per_s": 0.0}
    w, sv = wait[m], served[m]
    return {
        "calls": k,
        "mean_wait_s": float(in_queue[m].mean()),
        "p_wait": float((w > 0).mean()),
        "service_level": float((sv & (w <= p.sl_seconds)).mean()),
        "abandon_rate": float((~sv).mean()),
        "occupancy": float(busy / (p.agents * (end - warm))),
        "lq": float(lq),                      # time-average number waiting [calls]
        "rate_per_s": k / (end - warm),       # observed arrival rate [calls/s]
    }


def t_interval(x: Iterable[float], level: float = 0.95) -> tuple[float, float]:
    """Student-t confidence interval of the mean (NaNs when fewer than two values)."""
    a = np.asarray(list(x), dtype=np.float64)
    if a.size < 2:
        return (math.nan, math.nan)
    half = special.stdtrit(a.size - 1, 0.5 + level / 2) * a.std(ddof=1) / math.sqrt(a.size)
    return (float(a.mean() - half), float(a.mean() + half))


def run_stationary(p: Stationary, reps: int, seed: int, handle: HandleSampler | None = None,
                   level: float = 0.95, progress: Callable[[int, int], None] | None = None
                   ) -> dict[str, Any]:
    """``reps`` replications → means of the KPIs, their CIs and the per-replication rows.

    ``progress(done, reps)`` is called after each replication.
    """
    if reps < 1:
        raise ScenarioError(f"reps: must be >= 1 (got {reps})")
    if seed < 0:
        raise ScenarioError(f"seed: must be >= 0 (got {seed})")
    rows = []
    for r in range(reps):
        rows.append(replicate(p, seed, r, handle))
        if progress is not None:
            progress(r + 1, reps)
    out: dict[str, Any] = {"calls": int(sum(r["calls"] for r in rows)), "reps": reps}
    for k in (*KPIS, "occupancy"):
        out[k] = float(np.mean([r[k] for r in rows]))
    out["ci95" if level == 0.95 else f"ci{level:g}"] = {k: list(t_interval([r[k] for r in rows], level))
                                                        for k in KPIS}
    out["rows"] = rows
    return out
