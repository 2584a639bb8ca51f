"""Read a saved run folder into frames (never a live model).

The folder layout is the one in ``docs/ARCHITECTURE.md``: ``bookings.parquet``,
``offers.parquet``, ``workers.parquet``, ``districts.csv``, ``summary.json``,
``scenario.yaml`` and, when the helpline or the money model ran, ``calls.parquet``,
``helpline_hourly.parquet``, ``ledger.parquet``, ``wallets.parquet``; a history run adds
``snapshots.csv``; ``provenance.json`` says where the scenario came from.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from reports.snapshots import read_anchors, read_snapshots
from sim.config import SCENARIO_DIR
from sim.errors import ScenarioError

REQUIRED = ("bookings.parquet", "workers.parquet", "districts.csv", "summary.json", "scenario.yaml")
OPTIONAL = ("offers", "calls", "helpline_hourly", "ledger", "wallets")


@dataclass
class RunData:
    """The saved outputs of one run.  Optional tables are ``None`` when the run lacks them."""

    path: Path
    summary: dict[str, Any]
    scenario: dict[str, Any]
    bookings: pd.DataFrame
    workers: pd.DataFrame
    districts: pd.DataFrame
    optional: dict[str, pd.DataFrame] = field(default_factory=dict)
    provenance: dict[str, Any] | None = None
    anchors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The folder's name (used as the run's label; never the absolute path)."""
        return self.path.name

    @property
    def start_date(self) -> dt.date:
        """Calendar date of simulated minute 0."""
        raw = self.scenario.get("start_date", "2025-07-01")
        return raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw))

    @property
    def warmup_min(self) -> float:
        """Warm-up excluded from the KPIs [minutes]."""
        return float(self.summary.get("warmup_days", 0.0) or 0.0) * 1440.0

    @property
    def measured_days(self) -> float:
        """Length of the measured period (run length minus warm-up) [days]."""
        s = self.summary
        return max(float(s.get("horizon_days", 0.0)) - float(s.get("warmup_days", 0.0) or 0.0), 1e-9)

    def table(self, name: str) -> pd.DataFrame | None:
        """An optional table (``calls``, ``helpline_hourly``, ``ledger``, ``wallets``, ``offers``)."""
        return self.optional.get(name)

    def measured_bookings(self) -> pd.DataFrame:
        """Bookings created after the warm-up (the population every KPI uses)."""
        return self.bookings[self.bookings["created_min"] >= self.warmup_min]


def _read_parquet(p: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(p)
    except Exception as e:  # pyarrow raises several unrelated types for corrupt files
        raise ScenarioError(f"run folder: cannot read {p.name}: {e}") from None


def _read_json(p: Path) -> dict[str, Any] | None:
    if not p.is_file():
        return None
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def load_run(run_dir: str | Path) -> RunData:
    """Load a run folder; a missing required file is a ``ScenarioError`` naming it."""
    path = Path(run_dir)
    if not path.is_dir():
        raise ScenarioError(f"RUN_DIR: {str(run_dir)!r} is not a folder")
    missing = [f for f in REQUIRED if not (path / f).is_file()]
    if missing:
        raise ScenarioError(f"RUN_DIR: {path.name} is not a run folder (missing {', '.join(missing)})")
    try:
        summary = json.loads((path / "summary.json").read_text(encoding="utf-8"))
        scenario = yaml.safe_load((path / "scenario.yaml").read_text(encoding="utf-8")) or {}
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        raise ScenarioError(f"RUN_DIR: {path.name}: unreadable summary or scenario: {e}") from None
    optional = {}
    for name in OPTIONAL:
        p = path / f"{name}.parquet"
        if p.is_file():
            optional[name] = _read_parquet(p)
    snapshots = read_snapshots(path / "snapshots.csv")
    if snapshots is not None:
        optional["snapshots"] = snapshots
    return RunData(
        path=path,
        provenance=_read_json(path / "provenance.json"),
        anchors=read_anchors(path, SCENARIO_DIR / "anchors.yaml") if snapshots is not None else [],
        summary=summary,
        scenario=scenario,
        bookings=_read_parquet(path / "bookings.parquet"),
        workers=_read_parquet(path / "workers.parquet"),
        districts=pd.read_csv(path / "districts.csv"),
        optional=optional,
    )
