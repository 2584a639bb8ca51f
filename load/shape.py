"""The scenario's booking-rate curve, compressed in time, as Locust user counts (pure arithmetic).

``ScenarioCurve.users_at(elapsed_s)`` is what a ``LoadTestShape.tick()`` returns; it never
reads a clock, so tests call it with any elapsed time and no sleeping.  The rate comes from
the twin's own demand model (time of day, weekday, season, festival surges), so the shape
offers the live system the load the scenario generates in simulation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

MIN_PER_HOUR = 60.0


class RateSource(Protocol):
    """Anything that knows the expected bookings per minute at simulated times."""

    def rate_per_min(self, t_min: np.ndarray) -> np.ndarray:  # pragma: no cover - protocol
        """Expected bookings per minute at ``t_min`` [bookings/minute]."""
        ...


@dataclass(frozen=True)
class ScenarioCurve:
    """A booking-rate curve played ``speedup`` times faster than simulated time.

    Attributes:
        hourly_rate: expected bookings per simulated minute in each simulated hour [1/minute].
        speedup: simulated seconds per wall-clock second.
        pacing_s: wall seconds between two bookings of one simulated user [s].
        min_users: users kept alive even when the rate is near zero (night) [users].
    """

    hourly_rate: tuple[float, ...]
    speedup: float
    pacing_s: float = 10.0
    min_users: int = 1

    def __post_init__(self) -> None:
        if not self.speedup > 0 or not self.pacing_s > 0:
            raise ValueError("speedup and pacing_s must be positive")

    @classmethod
    def from_source(cls, source: RateSource, horizon_min: float, speedup: float, pacing_s: float = 10.0,
                    min_users: int = 1) -> ScenarioCurve:
        """Sample ``source`` once per simulated hour over ``[0, horizon_min)``."""
        n = max(1, math.ceil(horizon_min / MIN_PER_HOUR))
        t = np.arange(n) * MIN_PER_HOUR
        return cls(tuple(float(x) for x in source.rate_per_min(t)), speedup, pacing_s, min_users)

    @property
    def duration_s(self) -> float:
        """Wall time the whole curve lasts [s]."""
        return len(self.hourly_rate) * MIN_PER_HOUR * 60.0 / self.speedup

    def sim_min(self, elapsed_s: float) -> float:
        """Simulated time reached after ``elapsed_s`` wall seconds [minutes]."""
        return elapsed_s * self.speedup / 60.0

    def rate_per_s(self, elapsed_s: float) -> float | None:
        """Bookings per wall second to send at ``elapsed_s`` [1/s]; ``None`` past the horizon."""
        slot = int(self.sim_min(max(elapsed_s, 0.0)) // MIN_PER_HOUR)
        if slot >= len(self.hourly_rate):
            return None
        return self.hourly_rate[slot] * self.speedup / 60.0

    def users_at(self, elapsed_s: float) -> int | None:
        """Users needed so that, each booking once per ``pacing_s``, they send ``rate_per_s``."""
        r = self.rate_per_s(elapsed_s)
        if r is None:
            return None
        return max(self.min_users, math.ceil(r * self.pacing_s - 1e-9))

    def tick(self, elapsed_s: float) -> tuple[int, float] | None:
        """``(users, spawn_rate)`` for ``LoadTestShape.tick``; the spawn rate reaches the target in 1 s."""
        u = self.users_at(elapsed_s)
        return None if u is None else (u, float(max(u, 1)))


def curve_for_scenario(scenario: str, overrides: list[str], speedup: float, days: float | None = None,
                       pacing_s: float = 10.0) -> ScenarioCurve:
    """The curve of a named scenario (all channels) using the twin's demand model."""
    from sim.catalog import catalog_arrays
    from sim.config import load_scenario
    from sim.demand import DemandModel
    from sim.geography import district_map

    ov = list(overrides) + ([f"horizon_days={days}"] if days is not None else [])
    sc = load_scenario(scenario, ov)
    dmap = district_map()
    model = DemandModel(sc, [dmap[n] for n in sc.geography.selected()], catalog_arrays(sc.catalog))
    return ScenarioCurve.from_source(model, sc.horizon_min, speedup, pacing_s)
