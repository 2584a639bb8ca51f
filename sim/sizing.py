"""How much memory a run will need, estimated from the scenario before anything is allocated.

A run keeps one row per booking (with its offers), per helpline call and per registered
worker until it writes its tables.  The per-row costs below are peak resident bytes measured
on 30- and 120-day runs of the baseline (``/usr/bin/time -f %M``; Python 3.12, numpy 2):

* fixed: ~245 MB (interpreter, numpy/pandas/pyarrow, geography);
* ~1,100 B per booking (39,000 bookings: +43 MB);
* ~230 B per helpline call (336,000 calls: +77 MB);
* ~490 B per registered worker (+448,000 workers: +220 MB).

The estimate rounds these up; it is meant to refuse a run that cannot fit (a 10-year run at
1,000× demand), not to predict the peak to the megabyte.
"""

from __future__ import annotations

import os

from sim.config import Scenario
from sim.errors import ScenarioError

FIXED_BYTES = 300e6
BYTES_PER_BOOKING = 1_500.0
BYTES_PER_CALL = 250.0
BYTES_PER_WORKER = 600.0


def expected_rows(sc: Scenario) -> dict[str, float]:
    """Expected bookings, helpline calls (with redials) and registered workers of one run."""
    days = sc.horizon_days
    surge = max((s.multiplier for s in sc.demand.surges), default=1.0)
    bookings = sc.demand.bookings_per_year * sc.demand.scale * days / 365.0 * max(surge, 1.0)
    h = sc.helpline
    calls = h.calls_per_day * days * (1.0 + h.redial_prob) if h.enabled else 0.0  # redials: most abandon once at most
    return {"bookings": bookings, "calls": calls, "workers": float(sc.workforce.registered)}


def estimate_bytes(sc: Scenario) -> float:
    """Estimated peak memory of one run of ``sc`` [bytes]."""
    n = expected_rows(sc)
    return (FIXED_BYTES + BYTES_PER_BOOKING * n["bookings"] + BYTES_PER_CALL * n["calls"]
            + BYTES_PER_WORKER * n["workers"])


def available_bytes() -> float:
    """Memory this machine can still give a new process [bytes] (MemAvailable on Linux)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return float("inf")


def check_fits(sc: Scenario, available: float | None = None) -> float:
    """Refuse a scenario whose estimated memory exceeds what is available; returns the estimate.

    Raises:
        ScenarioError: naming the sizes that drive the estimate, with the estimate itself.
    """
    need = estimate_bytes(sc)
    have = available_bytes() if available is None else available
    if need > have:
        n = expected_rows(sc)
        raise ScenarioError(
            f"scenario: a run this size needs about {need / 1e9:,.1f} GB of memory but only "
            f"{have / 1e9:,.1f} GB is available ({n['bookings']:,.0f} bookings, {n['calls']:,.0f} helpline calls, "
            f"{n['workers']:,.0f} workers over {sc.horizon_days:g} days); shorten horizon_days or lower "
            "demand.scale / helpline.calls_per_day / workforce.registered")
    return need
