"""``nearest``: Sewa Mitra's rule, the nearest available registered worker with the skill."""

from __future__ import annotations

from sim.policies.base import Candidates, DispatchPolicy, JobRequest, PolicyParams
from sim.policies.registry import register


@register
class Nearest(DispatchPolicy):
    """Offer the job to the nearest candidate; ties go to the lower worker id.

    Candidates arrive sorted by ``(distance_km, worker_id)``, so the first one is the answer.
    """

    name = "nearest"
    Params = PolicyParams

    @property
    def nearest_needed(self) -> int:
        """Only the nearest candidate matters."""
        return 1

    def choose(self, job: JobRequest, cands: Candidates, now_min: float) -> list[int]:
        """The nearest candidate, or nothing."""
        return [int(cands.worker_id[0])] if len(cands) else []
