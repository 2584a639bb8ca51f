"""``broadcast``: offer the job to the ``k`` nearest candidates at once; first to accept wins.

The model does the rest (see ``Model._offer``): every offered worker is reserved, each
answers after their own response delay (``workforce.response_mean_min``, drawn per booking
and offer slot, so common random numbers hold), the earliest acceptance within
``lifecycle.accept_timeout_min`` wins and the other offers are withdrawn.  Each broadcast
uses ``k`` of the booking's ``lifecycle.max_offers``.
"""

from __future__ import annotations

from pydantic import Field

from sim.policies.base import Candidates, DispatchPolicy, JobRequest, PolicyParams
from sim.policies.registry import register


class BroadcastParams(PolicyParams):
    """Parameters of ``broadcast``."""

    k: int = Field(3, ge=1, le=50, description="workers offered the job at once")


@register
class Broadcast(DispatchPolicy):
    """Offer to the ``k`` nearest candidates (nearest first, ties by lower worker id)."""

    name = "broadcast"
    Params = BroadcastParams

    @property
    def nearest_needed(self) -> int:
        """Only the ``k`` nearest candidates matter."""
        return self.params.k

    def choose(self, job: JobRequest, cands: Candidates, now_min: float) -> list[int]:
        """Up to ``k`` nearest candidates."""
        return [int(w) for w in cands.worker_id[: self.params.k]]
