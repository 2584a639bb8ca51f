"""Open-model scheduling arithmetic: when each trace request is due, and how late it went out.

Pure functions and small value classes, tested without sleeping; the gevent dispatcher in
``load.replay`` only reads a clock and calls these.  Times on the wall side are seconds.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np


def due_offsets_s(t_min: np.ndarray | Sequence[float], speedup: float, origin_min: float = 0.0) -> np.ndarray:
    """Wall-clock offsets from the replay start at which requests are due [s].

    Args:
        t_min: simulated send times [minutes], sorted.
        speedup: simulated seconds per wall-clock second (1440 plays a day in a minute).
        origin_min: simulated time that maps to the replay start [minutes].
    """
    if not speedup > 0 or not math.isfinite(speedup):
        raise ValueError("speedup must be a positive finite number")
    return (np.asarray(t_min, dtype=np.float64) - origin_min) * 60.0 / speedup


def ready_until(due_s: Sequence[float] | np.ndarray, start: int, elapsed_s: float) -> int:
    """Index one past the last request due by ``elapsed_s`` (requests ``start..k-1`` fire now)."""
    return max(start, int(np.searchsorted(due_s, elapsed_s, side="right")))


def sleep_for(due_s: Sequence[float] | np.ndarray, next_index: int, elapsed_s: float) -> float | None:
    """Seconds to wait before request ``next_index`` is due; ``None`` when the schedule is done."""
    if next_index >= len(due_s):
        return None
    return max(0.0, float(due_s[next_index]) - elapsed_s)


def _bucket(lag_ms: float) -> float:
    """Histogram bucket of a lag [ms]: 0.1 ms below 10 ms, 1 ms below 100 ms, then 2 significant digits."""
    x = max(lag_ms, 0.0)
    if x < 10:
        return round(x, 1)
    if x < 100:
        return float(round(x))
    mag = 10 ** (int(math.log10(x)) - 1)
    return float(round(x / mag) * mag)


@dataclass
class LagHistogram:
    """Bucketed counts of schedule lag (send time minus due time) [ms]; mergeable across processes.

    Like Locust's response-time dict, it keeps a few hundred keys however many requests run.
    """

    counts: dict[float, int]
    max_ms: float = 0.0

    @classmethod
    def empty(cls) -> LagHistogram:
        """No observations."""
        return cls({})

    def add(self, lag_s: float) -> None:
        """Record one request that went out ``lag_s`` late [s] (early sends count as 0)."""
        ms = max(lag_s, 0.0) * 1000.0
        b = _bucket(ms)
        self.counts[b] = self.counts.get(b, 0) + 1
        if ms > self.max_ms:
            self.max_ms = ms

    @property
    def n(self) -> int:
        """Number of requests recorded."""
        return sum(self.counts.values())

    def quantile(self, q: float) -> float:
        """Lag at quantile ``q`` [ms] (the bucket value; 0 when empty)."""
        if not self.counts:
            return 0.0
        keys = sorted(self.counts)
        cum = np.cumsum([self.counts[k] for k in keys])
        rank = max(1, math.ceil(q * cum[-1]))
        return float(keys[bisect_right(cum.tolist(), rank - 1)])

    def merge(self, other: LagHistogram) -> LagHistogram:
        """The histogram of both sets of requests."""
        out = dict(self.counts)
        for k, v in other.counts.items():
            out[k] = out.get(k, 0) + v
        return LagHistogram(out, max(self.max_ms, other.max_ms))

    def to_dict(self) -> dict:
        """JSON/msgpack-able form (string keys) for worker → master reports."""
        return {"counts": {repr(k): v for k, v in self.counts.items()}, "max_ms": self.max_ms}

    @classmethod
    def from_dict(cls, d: Mapping) -> LagHistogram:
        """Inverse of ``to_dict``."""
        return cls({float(k): int(v) for k, v in d.get("counts", {}).items()}, float(d.get("max_ms", 0.0)))

    def summary(self) -> dict[str, float]:
        """``{"n", "p50_ms", "p99_ms", "max_ms"}``."""
        return {"n": self.n, "p50_ms": self.quantile(0.5), "p99_ms": self.quantile(0.99), "max_ms": self.max_ms}


def merge_all(hists: Iterable[LagHistogram]) -> LagHistogram:
    """Merge the histograms of several processes."""
    out = LagHistogram.empty()
    for h in hists:
        out = out.merge(h)
    return out
