"""``rating_weighted``: trade a little distance for a better-rated worker.

Score (lower is better) = ``(1 - alpha) × distance_km / distance_scale_km
+ alpha × (5 - rating) / 4``.  With ``alpha = 0`` this is ``nearest``; with ``alpha = 1``
the best-rated candidate in the radius wins whatever the distance.  ``rating`` is the
running mean the model updates after every rated job, so a worker's later chances move
with the stars citizens give (the feedback loop).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from sim.policies.base import Candidates, DispatchPolicy, JobRequest, PolicyParams
from sim.policies.registry import register

MAX_STARS = 5.0
STAR_RANGE = 4.0  # ratings run from 1 to 5 stars


class RatingWeightedParams(PolicyParams):
    """Parameters of ``rating_weighted``."""

    alpha: float = Field(0.5, ge=0, le=1, description="weight of the rating term; 0 = pure distance")
    distance_scale_km: float = Field(
        5.0, gt=0, le=500, description="distance that costs as much as the whole 1-5 star range [km]")


def rating_scores(cands: Candidates, p: RatingWeightedParams) -> np.ndarray:
    """Score of each candidate [dimensionless; lower is better]."""
    dist = cands.distance_km / p.distance_scale_km
    stars = (MAX_STARS - np.clip(cands.rating, 1.0, MAX_STARS)) / STAR_RANGE
    return (1.0 - p.alpha) * dist + p.alpha * stars


@register
class RatingWeighted(DispatchPolicy):
    """Offer the job to the candidate with the lowest distance/rating score.

    Ties keep the candidates' order, i.e. nearer first, then lower worker id.
    """

    name = "rating_weighted"
    Params = RatingWeightedParams

    def choose(self, job: JobRequest, cands: Candidates, now_min: float) -> list[int]:
        """The best-scoring candidate, or nothing."""
        if not len(cands):
            return []
        best = int(np.argmin(rating_scores(cands, self.params)))  # first minimum: stable tie-break
        return [int(cands.worker_id[best])]
