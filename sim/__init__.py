"""Sewa Mitra Twin: a discrete-event model of Uttar Pradesh's Sewa Mitra platform.

The public API, for scripts and notebooks (see README.md)::

    import sim
    sc = sim.load_scenario("baseline", overrides=["horizon_days=30"])
    res = sim.run(sc, seed=1)            # RunResult
    res.summary                          # dict, as summary.json
    res.tables["bookings"]               # pandas DataFrame, as bookings.parquet
    # with output.calls: full, res.tables["calls"] is a SpooledTable (.path, .read()): the
    # per-call table streamed to Parquet; sim.run(sc, spool=sim.Spool("runs/x")) writes it there
    sim.write_run(res, "runs/x")

Names are imported on first use, so ``import sim`` stays cheap for the service and the CLI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> (module, attribute)
_API = {
    "load_scenario": ("sim.config", "load_scenario"),
    "Scenario": ("sim.config", "Scenario"),
    "run": ("sim.runner", "run_one"),
    "RunResult": ("sim.runner", "RunResult"),
    "write_run": ("sim.runner", "write_run"),
    "Progress": ("sim.runner", "Progress"),
    "Spool": ("sim.spool", "Spool"),
    "InputError": ("sim.errors", "InputError"),
    "ScenarioError": ("sim.errors", "ScenarioError"),
}

__all__ = ["InputError", "Progress", "RunResult", "Scenario", "ScenarioError", "Spool", "__version__", "load_scenario",
           "run", "write_run"]

if TYPE_CHECKING:
    from sim.config import Scenario, load_scenario
    from sim.errors import InputError, ScenarioError
    from sim.runner import Progress, RunResult, write_run
    from sim.runner import run_one as run
    from sim.spool import Spool


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    module, attr = _API[name]
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
