"""``fair``: spread work, giving the job to the worker who has had least of it lately.

Among the candidates within ``share_radius_km`` (default: the whole search radius), pick
the one with the least gross earnings so far (``least_gross``: prices of completed jobs) or the one free for longest
(``longest_idle``).  Ties go to the nearer worker, then the lower id.  Needs from the model:
``Candidates.gross_paise`` [paise] and ``Candidates.idle_since_min`` [minutes], both
current at the time of the call.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from sim.policies.base import Candidates, DispatchPolicy, JobRequest, PolicyParams
from sim.policies.registry import register


class FairParams(PolicyParams):
    """Parameters of ``fair``."""

    criterion: Literal["least_gross", "longest_idle"] = Field(
        "least_gross", description="what 'had least work' means")
    share_radius_km: float | None = Field(
        None, gt=0, le=500,
        description="only candidates this close compete on fairness [km]; None = radius_km")


@register
class Fair(DispatchPolicy):
    """Offer the job to the least-earning (or longest-idle) nearby candidate."""

    name = "fair"
    Params = FairParams

    def choose(self, job: JobRequest, cands: Candidates, now_min: float) -> list[int]:
        """The fairest candidate within the sharing radius, or nothing."""
        if not len(cands):
            return []
        p = self.params
        share = p.radius_km if p.share_radius_km is None else p.share_radius_km
        n = int(np.searchsorted(cands.distance_km, share, side="right"))  # candidates are sorted by distance
        if n == 0:
            return [int(cands.worker_id[0])]  # nobody that close: fall back to the nearest
        key = cands.gross_paise[:n] if p.criterion == "least_gross" else cands.idle_since_min[:n]
        best = int(np.argmin(key))  # first minimum: nearer, then lower id, wins ties
        return [int(cands.worker_id[best])]
