"""Analytic call-centre formulas for one stationary interval: Erlang B, C and A.

Notation: arrival rate ``lam`` [calls/s], mean handle time ``aht`` [s] (service rate
mu = 1/aht), ``n`` agents, offered load a = lam·aht [Erlang], mean patience ``patience``
[s] (abandonment rate theta = 1/patience, Erlang A only), answer threshold ``t`` [s].

* Erlang B by the stable recursion B(k) = a·B(k-1) / (k + a·B(k-1)) (no factorials).
* Erlang C from B: C = B / (1 - rho·(1 - B)), rho = a/n.
* Erlang A (M/M/n+M, Palm 1943) following Mandelbaum & Zeltyn, "Service engineering in
  action: the Palm/Erlang-A queue" (2007), with x = n·mu/theta, y = lam/theta and
  A(x, y) = x·e^y·y^-x·gamma_lower(x, y) = 1 + sum_j y^j / prod_{k<=j}(x + k).
  The offered wait V has density f(v) = n·mu·pi_n·exp(y(1 - e^{-theta v}) - n·mu·v),
  which integrates to every quantity below; A is evaluated in log space (regularised
  incomplete gamma where it is representable, its series where it underflows), so the
  formulas stay finite for thousands of agents and for patience from seconds to days.

Service level here is the share of *all* offered calls answered within ``t`` (abandoned
calls count against it); mean wait is the mean time in queue of all calls, abandoned ones
included (= P(abandon)/theta by Little's law).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import special

from sim.errors import ScenarioError

_TINY = 1e-280  # below this the regularised gamma loses its exponent; use the series


def log_erlang_b(n: int, a: float) -> float:
    """Log of the M/M/n/n blocking probability, by 1/B(k) = 1 + (k/a)/B(k-1) in log space.

    B itself underflows (e.g. 2,000 agents at 30 % load); its logarithm does not.
    """
    if n < 0 or a < 0:
        raise ValueError("n and a must be >= 0")
    if n == 0:
        return 0.0
    if a == 0:
        return -math.inf
    lr, la = 0.0, math.log(a)  # lr = log(1/B(k))
    for k in range(1, n + 1):
        z = math.log(k) - la + lr
        lr = z + math.log1p(math.exp(-z)) if z > 0 else math.log1p(math.exp(z))
    return -lr


def erlang_b(n: int, a: float) -> float:
    """Blocking probability of M/M/n/n with offered load ``a`` [Erlang]."""
    return math.exp(log_erlang_b(n, a))


def erlang_c(n: int, a: float) -> float:
    """Probability of waiting in M/M/n (needs a < n; returns 1.0 when a >= n)."""
    if n <= 0 or a >= n:
        return 1.0
    b = erlang_b(n, a)
    return b / (1.0 - (a / n) * (1.0 - b))


def _log_a_series(x: float, y: float) -> float:
    """Log A(x, y) by its series; converges geometrically when y < x."""
    total, term, k = 1.0, 1.0, 1
    while True:
        term *= y / (x + k)
        total += term
        if term < 1e-17 * total or k > 1_000_000:
            return math.log(total)
        k += 1


def log_a(x: float, y: float) -> float:
    """Log of A(x, y) = 1 + sum_{j>=1} y^j / prod_{k=1..j}(x + k), x > 0, y >= 0."""
    if y <= 0.0:
        return 0.0
    p = special.gammainc(x, y)
    if p > _TINY:
        return math.log(x) + y - x * math.log(y) + special.gammaln(x) + math.log(p)
    return _log_a_series(x, y)


@dataclass(frozen=True)
class QueueKpis:
    """Stationary KPIs of one interval (all calls in the denominators)."""

    model: str
    p_wait: float          # P(all agents busy on arrival)
    mean_wait_s: float     # mean time in queue of all calls [s]
    service_level: float   # share of offered calls answered within t
    abandon_rate: float    # share of offered calls that abandon
    occupancy: float       # busy agent time / agent time

    def as_dict(self) -> dict[str, float | str]:
        """Plain dict (for JSON)."""
        return asdict(self)


def _check(lam: float, aht: float, n: int, t: float, patience: float | None) -> None:
    if lam < 0 or not math.isfinite(lam):
        raise ScenarioError(f"arrivals: rate must be a finite number >= 0 (got {lam})")
    if aht <= 0:
        raise ScenarioError(f"aht: must be > 0 (got {aht})")
    if n < 0 or (n == 0 and lam > 0):
        raise ScenarioError(f"agents: must be >= 1 when calls arrive (got {n})")
    if t < 0:
        raise ScenarioError(f"sl_seconds: must be >= 0 (got {t})")
    if patience is not None and not patience > 0:
        raise ScenarioError(f"patience: must be > 0 (got {patience})")


def erlang_c_kpis(lam: float, aht: float, n: int, t: float = 20.0) -> QueueKpis:
    """M/M/n KPIs; requires offered load below ``n`` (else the queue grows forever)."""
    _check(lam, aht, n, t, None)
    if lam == 0:
        return QueueKpis("erlang_c", 0.0, 0.0, 1.0, 0.0, 0.0)
    a = lam * aht
    if a >= n:
        raise ScenarioError(f"agents: {n} agents cannot carry {a:.2f} Erlang without abandonment")
    c = erlang_c(n, a)
    drain = n / aht - lam  # [1/s]
    return QueueKpis("erlang_c", c, c / drain, 1.0 - c * math.exp(-drain * t), 0.0, a / n)


def erlang_a_kpis(lam: float, aht: float, n: int, patience: float, t: float = 20.0) -> QueueKpis:
    """M/M/n+M KPIs (exponential patience with mean ``patience`` [s])."""
    _check(lam, aht, n, t, patience)
    if lam == 0:
        return QueueKpis("erlang_a", 0.0, 0.0, 1.0, 0.0, 0.0)
    theta, mu = 1.0 / patience, 1.0 / aht
    a, x, y = lam * aht, n * mu / theta, lam / theta
    rho = a / n
    lb = log_erlang_b(n, a)
    la = log_a(x, y)
    # pi_n = B / (1 - B + A·B): the probability of n busy agents and an empty queue
    log_pin = lb - float(np.logaddexp(math.log1p(-math.exp(lb)), la + lb))
    p_wait = math.exp(la + log_pin)
    p_ab = p_wait * (1.0 - 1.0 / rho) + math.exp(log_pin) / rho
    p_ab = min(max(p_ab, 0.0), 1.0)
    # answered within t after waiting: pi_n x/(x+1) [A(x+1,y) - e^{y-z} e^{-(n mu+theta)t} A(x+1,z)]
    z = y * math.exp(-theta * t)
    la1y = log_a(x + 1.0, y)
    la1z = log_a(x + 1.0, z)
    tail = math.exp(la1z - la1y + (y - z) - (n * mu + theta) * t)
    answered_after_wait = math.exp(log_pin + math.log(x / (x + 1.0)) + la1y) * (1.0 - tail)
    sl = (1.0 - p_wait) + answered_after_wait
    occ = a * (1.0 - p_ab) / n
    return QueueKpis("erlang_a", p_wait, p_ab / theta, min(max(sl, 0.0), 1.0), p_ab, occ)


def kpis(lam: float, aht: float, n: int, t: float = 20.0, patience: float | None = None) -> QueueKpis:
    """Erlang A when ``patience`` is given, else Erlang C."""
    if patience is None:
        return erlang_c_kpis(lam, aht, n, t)
    return erlang_a_kpis(lam, aht, n, patience, t)


def agents_for_sl(lam_per_s: float, aht_s: float, target_sl: float, t_s: float,
                  patience_s: float | None = None, max_agents: int = 100_000,
                  max_abandon: float | None = None) -> int:
    """Fewest agents whose service level (answered within ``t_s`` / offered) meets the target.

    Args:
        lam_per_s: arrival rate [calls/s].
        aht_s: mean handle time [s].
        target_sl: target share answered within ``t_s`` (0 < target < 1).
        t_s: answer threshold [s].
        patience_s: mean patience [s] (Erlang A); None for Erlang C (no abandonment).
        max_agents: search limit.
        max_abandon: optional cap on the abandonment rate as well (Erlang A).
    """
    if max_abandon is not None and not 0.0 < max_abandon <= 1.0:
        raise ScenarioError(f"max_abandon: must be in (0, 1] (got {max_abandon})")
    if not 0.0 < target_sl < 1.0:
        raise ScenarioError(f"sl_target: must be strictly between 0 and 1 (got {target_sl})")
    _check(lam_per_s, aht_s, 1, t_s, patience_s)
    if lam_per_s == 0:
        return 0
    a = lam_per_s * aht_s

    def meets(n: int) -> bool:
        k = kpis(lam_per_s, aht_s, n, t_s, patience_s)
        return k.service_level >= target_sl and (max_abandon is None or k.abandon_rate <= max_abandon)

    # Erlang C needs n > a; with abandonment the answered share is at most n/a, so SL >= target
    # needs n >= target·a.  Below ``lo`` the target is missed; SL grows with n, so bisect.
    lo = math.floor(a) if patience_s is None else max(0, math.ceil(target_sl * a) - 1)
    hi = lo + 1 + math.ceil(math.sqrt(a))
    while not meets(hi):
        if hi >= max_agents:
            break
        lo, hi = hi, min(max_agents, hi + 2 * (hi - lo))
    else:
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if meets(mid) else (mid, hi)
        return hi
    raise ScenarioError(f"sl_target: not reachable with {max_agents} agents")
