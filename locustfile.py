"""Load tests of a Sewa Mitra deployment driven by the twin (``locust -f locustfile.py``).

``--trace trace.parquet`` replays a simulated timeline at its own (compressed) times, an
open model; without it the scenario's booking-rate curve sets the number of actor users.
Options and defaults: ``locust.conf``; see ``load/plugin.py``.
"""

import locust  # noqa: F401  (first: gevent monkey-patching before anything else imports ssl/socket)

from load.plugin import SewaShape
from load.users import CitizenUser, HelplineAgentUser, TraceReplayUser, WorkerUser

__all__ = ["CitizenUser", "HelplineAgentUser", "SewaShape", "TraceReplayUser", "WorkerUser"]
