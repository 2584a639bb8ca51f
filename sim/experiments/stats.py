"""Confidence intervals over replications: t-based means, paired differences, stopping rule.

Replications of a stochastic simulation are independent and identically distributed, so a
Student-t interval on their mean is the textbook estimate (Law & Kelton, *Simulation
Modeling and Analysis*, ch. 9).  Under common random numbers the replications of two
policies are paired: the interval on the mean *difference* uses the per-replication
differences and is usually much narrower than one built from independent runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

LEVEL = 0.95


@dataclass(frozen=True, slots=True)
class Interval:
    """A mean and its two-sided confidence interval (NaN bounds with fewer than 2 values)."""

    mean: float
    lo: float
    hi: float
    n: int

    @property
    def half_width(self) -> float:
        """Half the interval's width (same unit as the mean)."""
        return (self.hi - self.lo) / 2.0


def t_quantile(n: int, level: float = LEVEL) -> float:
    """Two-sided Student-t critical value with ``n - 1`` degrees of freedom."""
    return float(sps.t.ppf(0.5 + level / 2.0, n - 1))


def mean_ci(values: np.ndarray | list[float], level: float = LEVEL) -> Interval:
    """Mean of the finite ``values`` with its t-based confidence interval."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    m = float(x.mean())
    if n < 2:
        return Interval(m, math.nan, math.nan, n)
    hw = t_quantile(n, level) * float(x.std(ddof=1)) / math.sqrt(n)
    return Interval(m, m - hw, m + hw, n)


def paired_ci(base: np.ndarray, other: np.ndarray, level: float = LEVEL) -> Interval:
    """Mean of ``other - base`` over replications where both are finite, with its interval."""
    a = np.asarray(base, dtype=np.float64)
    b = np.asarray(other, dtype=np.float64)
    return mean_ci((b - a)[np.isfinite(a) & np.isfinite(b)], level)


def reps_needed(values: np.ndarray | list[float], target_half_width: float, level: float = LEVEL,
                max_reps: int = 10_000) -> int:
    """Fewest replications whose interval would have half-width ≤ ``target_half_width``.

    The sequential rule of Law & Kelton (§9.4.1): with the current sample standard deviation
    ``s``, the smallest ``n`` with ``t(n-1) × s / sqrt(n) ≤ target`` (at least the current
    count, at most ``max_reps``).  Call again after running the extra replications, since
    ``s`` changes.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return min(max(2, x.size + 1), max_reps)
    if not target_half_width > 0:  # zero or NaN: no finite count can promise it
        return max_reps
    s = float(x.std(ddof=1))
    n = int(x.size)
    # Start from the normal approximation and walk up; t(n-1) only shrinks as n grows.
    n = max(n, math.ceil((1.96 * s / target_half_width) ** 2))
    while n < max_reps and t_quantile(n, level) * s / math.sqrt(n) > target_half_width:
        n += 1
    return min(n, max_reps)


def summary_table(long: pd.DataFrame, by: str, level: float = LEVEL) -> pd.DataFrame:
    """``by, metric, mean, ci_lo, ci_hi, n`` from a tidy ``by, replication, metric, value`` table.

    Groups keep their first-appearance order (the order the user gave), metrics too.
    """
    rows = []
    for (key, metric), g in long.groupby([by, "metric"], sort=False):
        ci = mean_ci(g["value"].to_numpy(), level)
        rows.append({by: key, "metric": metric, "mean": ci.mean, "ci_lo": ci.lo, "ci_hi": ci.hi, "n": ci.n})
    return pd.DataFrame(rows, columns=[by, "metric", "mean", "ci_lo", "ci_hi", "n"])


def paired_table(long: pd.DataFrame, by: str, level: float = LEVEL) -> pd.DataFrame:
    """Paired differences of every group against the first one, per metric.

    Columns: ``by, baseline, metric, mean_diff, ci_lo, ci_hi, n`` where ``mean_diff`` is
    group minus baseline, matched on ``replication``.
    """
    cols = [by, "baseline", "metric", "mean_diff", "ci_lo", "ci_hi", "n"]
    groups = list(dict.fromkeys(long[by]))
    if len(groups) < 2:
        return pd.DataFrame(columns=cols)
    wide = long.set_index(["metric", "replication", by])["value"].unstack(by)
    rows = []
    base = groups[0]
    metrics = list(dict.fromkeys(long["metric"]))
    for g in groups[1:]:
        for metric in metrics:
            w = wide.loc[metric]
            ci = paired_ci(w[base].to_numpy(), w[g].to_numpy(), level)
            rows.append({by: g, "baseline": base, "metric": metric, "mean_diff": ci.mean,
                         "ci_lo": ci.lo, "ci_hi": ci.hi, "n": ci.n})
    return pd.DataFrame(rows, columns=cols)
