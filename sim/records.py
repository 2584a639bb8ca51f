"""What a run records per booking and per offer, and the codes those columns hold.

The codes are ``IntEnum``s shared by the model, the money model, the output tables (which
store their lower-case names) and the tests: no bare ``-1``/``2``/``3`` stands for a meaning.
"""

from __future__ import annotations

from array import array
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from sim.demand import CHANNELS

if TYPE_CHECKING:
    import pandas as pd

#: "no worker" in a worker-id column (an unassigned booking).
NO_WORKER = -1


class Status(IntEnum):
    """A booking's state; every booking ends in exactly one of the last three."""

    OPEN = 0
    COMPLETED = 1
    CANCELLED = 2
    UNFULFILLED = 3


class Outcome(IntEnum):
    """How one offer to one worker ended."""

    ACCEPTED = 0
    DECLINED = 1
    TIMEOUT = 2
    WITHDRAWN = 3  # someone else accepted first, or the citizen cancelled while it was out


class Winner(IntEnum):
    """What a round of offers returns when no worker won it (otherwise the worker id, >= 0)."""

    NONE = -1       # every offer was declined or timed out
    CANCELLED = -2  # the citizen gave up while the offers were out


#: How a booking reached the platform (index into ``sim.demand.CHANNELS``).
Channel = IntEnum("Channel", {c.upper(): i for i, c in enumerate(CHANNELS)})


class PayMode(IntEnum):
    """How a booking is (to be) paid (money model)."""

    CASH = 0
    PREPAID = 1
    LATER = 2  # online, after the job


class Settled(IntEnum):
    """How a completed booking's payment was settled (money model)."""

    NONE = 0
    CASH = 1
    ONLINE = 2


def labels(enum: type[IntEnum]) -> tuple[str, ...]:
    """The lower-case names of ``enum``'s members in code order (the tables' text values)."""
    return tuple(m.name.lower() for m in sorted(enum))


STATUS = labels(Status)
OUTCOMES = labels(Outcome)


class BookingRecords:
    """Preallocated columns of the bookings table (NaN / ``NO_WORKER`` = missing)."""

    def __init__(self, n: int) -> None:
        self.status = np.full(n, Status.OPEN, dtype=np.int8)
        self.worker = np.full(n, NO_WORKER, dtype=np.int64)
        self.assigned = np.full(n, np.nan)
        self.started = np.full(n, np.nan)
        self.completed = np.full(n, np.nan)
        self.ended = np.full(n, np.nan)
        self.travel_km = np.full(n, np.nan)
        self.rating = np.full(n, np.nan)
        self.offers = np.zeros(n, dtype=np.int64)


class OfferLog:
    """Append-only columns of the offers table."""

    def __init__(self) -> None:
        self.booking = array("q")
        self.worker = array("q")
        self.offered = array("d")
        self.responded = array("d")
        self.outcome = array("b")

    def add(self, booking: int, worker: int, t0: float, t1: float, outcome: Outcome) -> None:
        """Record one offer made at ``t0`` and answered (or withdrawn) at ``t1`` [minutes]."""
        self.booking.append(booking)
        self.worker.append(worker)
        self.offered.append(t0)
        self.responded.append(t1)
        self.outcome.append(outcome)


class LifecycleListener(Protocol):
    """Told of each booking's lifecycle at simulated times [minutes], e.g. the money model.

    A listener adds its own output tables and its section of ``summary.json`` (``section``).
    """

    section: str

    def start(self) -> None:
        """Start its own processes (called once, before the run)."""

    def on_booking_created(self, booking_id: int, citizen_id: int, category: str, price_paise: int,
                           now_min: float) -> None:
        """A citizen booked."""

    def on_booking_assigned(self, booking_id: int, worker_id: int, now_min: float) -> None:
        """A worker accepted."""

    def on_booking_completed(self, booking_id: int, worker_id: int, now_min: float) -> None:
        """The worker finished the job."""

    def on_booking_cancelled(self, booking_id: int, now_min: float, by: str) -> None:
        """The booking was cancelled (``by`` ``citizen`` or ``worker``)."""

    def on_booking_unfulfilled(self, booking_id: int, now_min: float) -> None:
        """The platform gave up finding a worker."""

    def tables(self) -> dict[str, pd.DataFrame]:
        """Its output tables by name."""

    def summary(self) -> dict[str, Any]:
        """Its section of ``summary.json``."""
