"""The dispatch-policy protocol, shared by the simulation and the reference deployment.

A policy sees one job (or a batch of jobs) and the workers who could take it, already
filtered for skill, availability, working hours and radius, and sorted by
``(distance_km, worker_id)``.  It returns the worker ids to offer the job to, best first:
one id for ordinary policies, several for ``broadcast``-style offers, none to leave the job
waiting.  Policies never read the clock or global state; randomness, if any, comes from the
generator the model binds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from pydantic import Field

from sim.schema import StrictModel


@dataclass(frozen=True, slots=True)
class JobRequest:
    """A booking waiting for a worker.

    Attributes:
        booking_id: stable booking id.
        category: service category key (e.g. ``"electrician"``).
        district: district name.
        lat, lon: job location [degrees].
        created_min: creation time [minutes since the run start].
        excluded: workers who already declined or timed out on this job.
    """

    booking_id: int
    category: str
    district: str
    lat: float
    lon: float
    created_min: float
    excluded: frozenset[int] = frozenset()


_NONE_I, _NONE_F = np.zeros(0, dtype=np.int64), np.zeros(0)
_NONE_I.flags.writeable = _NONE_F.flags.writeable = False


@dataclass(slots=True)
class Candidates:
    """Workers able to take a job now, sorted by ``(distance_km, worker_id)``.

    All arrays have the same length.  ``rating`` is the worker's shown rating (``sim.ratings``)
    [stars], ``gross_paise`` the prices of their completed jobs so far [paise] (before
    commission), ``idle_since_min`` the time they last became free [minutes], ``jobs`` their
    completed jobs.
    """

    worker_id: np.ndarray
    distance_km: np.ndarray
    rating: np.ndarray
    gross_paise: np.ndarray
    idle_since_min: np.ndarray
    jobs: np.ndarray

    def __len__(self) -> int:
        return int(self.worker_id.shape[0])

    @classmethod
    def empty(cls) -> Candidates:
        """No candidates (the columns are shared read-only empty arrays: a search finds nobody ~10,000 times a year)."""
        return cls(_NONE_I, _NONE_F, _NONE_F, _NONE_I, _NONE_F, _NONE_I)

    @classmethod
    def from_rows(cls, rows: list[tuple[int, float, float, int, float, int]]) -> Candidates:
        """Build from ``(worker_id, distance_km, rating, gross_paise, idle_since_min, jobs)`` rows.

        Rows are sorted here by ``(distance_km, worker_id)``, so callers (e.g. a database
        query) need not sort them.
        """
        if not rows:
            return cls.empty()
        rows = sorted(rows, key=lambda r: (r[1], r[0]))
        cols = list(zip(*rows, strict=True))
        return cls(
            np.asarray(cols[0], dtype=np.int64),
            np.asarray(cols[1], dtype=np.float64),
            np.asarray(cols[2], dtype=np.float64),
            np.asarray(cols[3], dtype=np.int64),
            np.asarray(cols[4], dtype=np.float64),
            np.asarray(cols[5], dtype=np.int64),
        )


class PolicyParams(StrictModel):
    """Parameters every policy has.  Subclasses add their own fields."""

    radius_km: float = Field(15.0, gt=0, le=500, description="search radius [km]")


class DispatchPolicy:
    """Base class of dispatch strategies.

    Subclasses set ``name`` and ``Params`` and override :meth:`choose`.  A policy with
    ``batch_window_min > 0`` is called through :meth:`choose_batch` every window instead.
    """

    name: ClassVar[str] = ""
    Params: ClassVar[type[PolicyParams]] = PolicyParams

    def __init__(self, params: PolicyParams | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self.rng: np.random.Generator | None = None

    @property
    def radius_km(self) -> float:
        """Search radius [km]."""
        return self.params.radius_km

    @property
    def batch_window_min(self) -> float:
        """Batching window [minutes]; 0 means decide each job at once."""
        return 0.0

    @property
    def nearest_needed(self) -> int | None:
        """How many of the nearest candidates :meth:`choose` reads (None = all of them).

        A policy that only looks at the head of the distance-sorted list says so, and the
        model's index then searches only that far (the answer is the same).
        """
        return None

    def bind(self, rng: np.random.Generator) -> None:
        """Attach the run's "choices" stream (called once before the run starts)."""
        self.rng = rng

    def choose(self, job: JobRequest, cands: Candidates, now_min: float) -> list[int]:
        """Worker ids to offer ``job`` to, best first; ``[]`` leaves it waiting."""
        raise NotImplementedError

    def choose_batch(
        self, jobs: list[JobRequest], cands: list[Candidates], now_min: float
    ) -> list[list[int]]:
        """Offers for several jobs at once; no worker may appear for two jobs.

        The default decides greedily in the given order, removing taken workers.
        """
        taken: set[int] = set()
        out: list[list[int]] = []
        for job, c in zip(jobs, cands, strict=True):
            if taken and len(c):
                keep = ~np.isin(c.worker_id, np.fromiter(taken, dtype=np.int64))
                c = subset(c, keep)
            offer = self.choose(job, c, now_min)
            taken.update(offer)
            out.append(offer)
        return out


def subset(c: Candidates, mask: np.ndarray) -> Candidates:
    """The candidates where ``mask`` is true, order kept."""
    return Candidates(
        c.worker_id[mask], c.distance_km[mask], c.rating[mask],
        c.gross_paise[mask], c.idle_since_min[mask], c.jobs[mask],
    )
