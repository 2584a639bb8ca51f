"""What one load-generator process knows about the replay: the module-global ``STATE``.

Kept apart from ``load.plugin`` (event listeners) and ``load.users`` (user classes) so
that both read it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from gevent.event import Event

from load.actions import LiveIds
from load.profile import Profile
from load.schedule import LagHistogram, merge_all
from sim.trace import partition


@dataclass
class ReplayState:
    """What this process knows about the replay (one per process)."""

    trace: pd.DataFrame | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    ids: LiveIds | None = None
    profile: Profile | None = None
    t0: float | None = None
    part: int = 0
    parts: int = 1
    ready: Event = field(default_factory=Event)
    replayers: list[Any] = field(default_factory=list)
    node_lag: dict[str, dict] = field(default_factory=dict)
    node_counts: dict[str, dict] = field(default_factory=dict)
    log_path: str = ""  # the replay log; worker processes learn it from the master

    def local_lag(self) -> LagHistogram:
        """Lag of this process's replayers."""
        return merge_all(r.lag for r in self.replayers)

    def duration_s(self, speedup: float) -> float:
        """Wall time from the schedule start to the last trace request [s]."""
        if self.trace is None or not len(self.trace):
            return 0.0
        return float(self.trace["t_min"].max()) * 60.0 / speedup

    def rows_all(self) -> pd.DataFrame:
        """Every timed trace row (all partitions)."""
        assert self.trace is not None
        return partition(self.trace, 1, 0)

    def rows(self) -> pd.DataFrame:
        """The timed trace rows of this process (its partition)."""
        assert self.trace is not None
        return partition(self.trace, self.parts, self.part)


STATE = ReplayState()


def wait_for_setup(timeout_s: float = 600.0) -> bool:
    """Block the calling greenlet until the setup is known (``False`` on time-out)."""
    return bool(STATE.ready.wait(timeout_s))
