"""Simulated time ↔ calendar.  Time 0 is midnight (IST) of the scenario's ``start_date``.

All simulation times are in minutes since that midnight.  Functions are vectorised over
numpy arrays of minutes.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

MIN_PER_HOUR = 60.0
MIN_PER_DAY = 1440.0
MIN_PER_WEEK = 7 * MIN_PER_DAY


class Calendar:
    """Maps minutes since ``start`` to hour of day, weekday (Mon=0) and month (1-12)."""

    def __init__(self, start: dt.date) -> None:
        self.start = start
        self._weekday0 = start.weekday()

    def hour_of(self, t_min: np.ndarray | float) -> np.ndarray:
        """Hour of day, 0-23."""
        return (np.floor_divide(np.asarray(t_min, dtype=np.float64), MIN_PER_HOUR) % 24).astype(np.int64)

    def day_of(self, t_min: np.ndarray | float) -> np.ndarray:
        """Whole days since the start."""
        return np.floor_divide(np.asarray(t_min, dtype=np.float64), MIN_PER_DAY).astype(np.int64)

    def weekday_of(self, t_min: np.ndarray | float) -> np.ndarray:
        """Weekday, Monday = 0 … Sunday = 6."""
        return (self.day_of(t_min) + self._weekday0) % 7

    def month_of(self, t_min: np.ndarray | float) -> np.ndarray:
        """Calendar month, 1-12."""
        days = self.day_of(t_min)
        date = np.datetime64(self.start, "D") + days.astype("timedelta64[D]")
        return date.astype("datetime64[M]").astype(np.int64) % 12 + 1

    def date_of(self, t_min: float) -> dt.date:
        """The calendar date of a time."""
        return self.start + dt.timedelta(days=int(t_min // MIN_PER_DAY))
