"""Run one replication of a scenario and save its outputs.

``run_one`` (public as ``sim.run``) is a pure function of (scenario, seed, replication):
experiments call it in worker processes or on a Dask cluster; ``write_run`` stores what it returns.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import __version__
from sim.config import Scenario
from sim.demand import CHANNELS
from sim.metrics import booking_kpis, district_table, worker_kpis
from sim.model import Model
from sim.records import NO_WORKER, OUTCOMES, STATUS
from sim.seeds import Streams
from sim.sizing import check_fits
from sim.snapshots import snapshots
from sim.spool import Spool, SpooledTable
from sim.window import available_min, helpline_window, measured_workers, wallet_window

#: ``progress(done, total)``: called as simulated days complete (the CLI draws a bar with it).
Progress = Callable[[int, int], None]


@dataclass
class RunResult:
    """What one replication produces: tidy tables, a summary and the inputs that made them.

    ``tables[name]`` is the DataFrame written as ``name.parquet`` (``districts`` as CSV), or,
    for ``calls`` with ``output.calls: full``, the ``SpooledTable`` it was streamed to (its
    ``read()`` gives the frame); ``summary`` the dict written as ``summary.json``; ``wall_s``
    (seconds) is not written.
    """

    scenario: Scenario
    seed: int
    replication: int
    tables: dict[str, pd.DataFrame | SpooledTable] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0


def run_one(sc: Scenario, seed: int | None = None, replication: int = 0,
            progress: Progress | None = None, spool: Spool | None = None) -> RunResult:
    """Simulate ``sc`` once.  ``seed`` defaults to the scenario's seed.

    With ``output.calls: full`` the per-call table is streamed to Parquet through ``spool``
    (give ``Spool(run folder)`` to write it where ``write_run`` will put the run; default: a
    temporary file that lives as long as the result).
    """
    seed = sc.seed if seed is None else int(seed)
    check_fits(sc)  # refuse before allocating anything (ScenarioError with the estimate)
    t_wall = time.perf_counter()
    # hourly output keeps only the booking calls: in memory, whatever the spool
    spool = (spool or Spool()) if sc.output.calls == "full" else None
    m = Model(sc, Streams(seed, replication), spool=spool)
    m.run(progress=progress)
    res = RunResult(sc, seed, replication)
    res.tables = collect_tables(m)
    res.summary = summarise(m, res.tables, seed, replication)
    res.wall_s = time.perf_counter() - t_wall
    return res


def bookings_table(m: Model) -> pd.DataFrame:
    """The bookings table of a finished run (one row per booking; see docs/ARCHITECTURE.md)."""
    return pd.DataFrame(booking_columns(m))


def booking_columns(m: Model) -> dict[str, Any]:
    """The bookings table's columns as arrays (the planner's KPIs need no DataFrame)."""
    a, r = m.arrivals, m.rec
    n = len(a)
    # Bookings still open at the horizon are right-censored: they keep status "open".
    status = np.array(STATUS, dtype=object)[r.status]
    names = np.array([d.name for d in m.districts], dtype=object)
    worker = pd.array(np.where(r.worker != NO_WORKER, r.worker, 0), dtype="Int64")
    worker[r.worker == NO_WORKER] = pd.NA
    price = pd.array(m.draws.price, dtype="Int64")
    return {
        "booking_id": np.arange(n, dtype=np.int64),
        "district": names[a.district],
        "category": np.array(m.cat.keys, dtype=object)[a.category],
        "channel": np.array(CHANNELS, dtype=object)[a.channel],
        "created_min": a.t_min,
        "status": status,
        "worker_id": worker,
        "assigned_min": r.assigned,
        "started_min": r.started,
        "completed_min": r.completed,
        "ended_min": r.ended,
        "travel_km": r.travel_km,
        "price_paise": price,
        "rating": r.rating,
        "offers": r.offers,
        "lat": a.lat,
        "lon": a.lon,
        "citizen_id": np.arange(n, dtype=np.int64),
    }


def collect_tables(m: Model) -> dict[str, pd.DataFrame | SpooledTable]:
    """The run's output tables (see docs/ARCHITECTURE.md)."""
    bookings = bookings_table(m)
    o = m.offers
    offers = pd.DataFrame({  # array.array buffers keep their C types, empty or not
        "booking_id": np.asarray(o.booking),
        "worker_id": np.asarray(o.worker),
        "offered_min": np.asarray(o.offered),
        "responded_min": np.asarray(o.responded),
        "outcome": np.array(OUTCOMES, dtype=object)[np.asarray(o.outcome, dtype=np.int64)],
    })
    workers = m.wf.frame([d.name for d in m.districts], m.cat.keys)
    st = m.state
    workers["jobs"] = st.jobs
    workers["busy_min"] = st.busy_min
    workers["gross_paise"] = st.gross_paise
    workers["rating"] = st.rating
    workers["ratings_received"] = st.ratings_received
    tables = {"bookings": bookings, "offers": offers, "workers": workers}
    districts = pd.DataFrame({"district": [d.name for d in m.districts],
                              "population_2011": [d.population for d in m.districts]})
    tables["districts"] = district_table(_measured(m, bookings), _measured_workers(m, tables),
                                         districts, _available_min(m, workers))
    if m.helpline is not None:
        tables["calls"] = m.calls  # a SpooledTable when streamed (output.calls: full in run_one)
        tables["helpline_hourly"] = m.helpline.hourly
    for listener in m.listeners:
        tables.update(listener.tables())
    tables["snapshots"] = snapshots(m.sc.start_date, m.sc.horizon_days, tables)
    return tables


def _measured(m: Model, bookings: pd.DataFrame) -> pd.DataFrame:
    """Bookings created after the warm-up (the KPI population); the table itself without a warm-up."""
    keep = bookings["created_min"].to_numpy() >= m.sc.warmup_min
    return bookings if keep.all() else bookings[keep]  # no copy of a million rows to drop none


def _available_min(m: Model, workers: pd.DataFrame) -> float:
    """Mean on-shift minutes per active worker over the measured period."""
    return available_min(workers, m.sc.warmup_min, m.sc.horizon_min)


def _measured_workers(m: Model, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Workers with busy time, jobs and earnings over the measured period."""
    return measured_workers(tables["workers"], tables["bookings"], m.sc.warmup_min, m.sc.horizon_min)


def summarise(m: Model, tables: dict[str, pd.DataFrame], seed: int, replication: int) -> dict[str, Any]:
    """The ``summary.json`` of a run."""
    sc = m.sc
    out: dict[str, Any] = {
        "version": __version__, "scenario": sc.name, "seed": seed, "replication": replication,
        "horizon_days": sc.horizon_days, "warmup_days": sc.warmup_days, "policy": sc.dispatch.policy,
        "districts": len(m.districts),
    }
    bk = _measured(m, tables["bookings"])
    out.update(booking_kpis(bk))
    out["open_at_end"] = int((bk["status"] == "open").sum())
    out["bookings_per_year"] = out["bookings"] * 365.0 / max(sc.horizon_days - sc.warmup_days, 1e-9)
    out["by_channel"] = {c: int(v) for c, v in bk["channel"].value_counts().sort_index().items()}
    out.update(worker_kpis(_measured_workers(m, tables), _available_min(m, tables["workers"])))
    if m.helpline is not None:
        out["helpline"] = dict(m.helpline.summary)
        if sc.warmup_days > 0:  # queue KPIs over the measured window, like every other KPI
            out["helpline"].update(helpline_window(tables["helpline_hourly"], sc.warmup_min, sc.horizon_min))
    for listener in m.listeners:
        out[listener.section] = listener.summary()
    if "wallet" in out and sc.warmup_days > 0:
        out["wallet"]["credited_paise_measured"] = wallet_window(tables["ledger"], sc.warmup_min, sc.horizon_min)
    return out


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating | float):
        v = float(x)
        return None if np.isnan(v) else round(v, 6)
    return x


def write_run(res: RunResult, out_dir: str | Path) -> Path:
    """Write a run folder: parquet tables, districts.csv, summary.json, scenario.yaml."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, df in sorted(res.tables.items()):
        if isinstance(df, SpooledTable):
            df.save(out / f"{name}.parquet")
        elif name in ("districts", "snapshots"):
            df.to_csv(out / f"{name}.csv", index=False, float_format="%.6g")
        else:
            df.to_parquet(out / f"{name}.parquet", index=False, compression="zstd")
    (out / "summary.json").write_text(json.dumps(_jsonable(res.summary), indent=2, sort_keys=True) + "\n")
    (out / "scenario.yaml").write_text(res.scenario.to_yaml())
    return out
