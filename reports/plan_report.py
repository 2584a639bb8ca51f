"""Outputs of the expansion planner: tables, a district map and a short text summary.

``write_plan(result, out)`` writes ``plan_workers.csv`` (per district and category),
``plan_districts.csv`` (totals and per 100,000 people), ``plan_helpline.csv`` (when the
scenario has a helpline), ``plan_map.png`` and ``plan_summary.txt``; the map is byte-stable
like the run report's figures.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from reports.figures import png_bytes, report_style, save_pngs
from reports.maps import MapPanel, map_figure
from sim.geography import district_map


def district_totals(workers: pd.DataFrame) -> pd.DataFrame:
    """Active workers needed per district, in total and per 100,000 people (2011)."""
    dm = district_map()
    t = workers.groupby("district", sort=True)["workers"].sum().to_frame("workers")
    t["population_2011"] = [dm[d].population for d in t.index]
    t["per_100k"] = t["workers"] / t["population_2011"] * 1e5
    return t


def plan_map(workers: pd.DataFrame) -> bytes:
    """PNG of two maps: active workers needed per 100,000 people, and in total."""
    t = district_totals(workers)
    panels = [MapPanel("Active workers needed per 100,000 people", t["per_100k"].to_dict(),
                       "workers per 100,000", "viridis"),
              MapPanel("Active workers needed", t["workers"].astype(float).to_dict(), "workers", "viridis")]
    with report_style():
        return png_bytes(map_figure(panels))


def summary_text(result) -> str:
    """A few lines a planner can read aloud (``result`` is a ``sim.planner.PlanResult``)."""
    m, w = result.meta, result.workers
    lines = [
        f"Expansion plan: scenario {m['scenario']}, demand x{m['growth']:g}, targets {m['targets']}",
        f"  >= {m['reps']} replications per staffing, each >= {m['min_days']:g} days; runs long and many "
        f"enough for ~{m['min_bookings']} bookings pooled (warm-up {m['warmup_days']:g} d), seed {m['seed']}; "
        f"{m['districts']} districts; categories: {', '.join(m['categories'])}",
        f"Active workers needed in all planned districts: {int(w['workers'].sum()):,}",
    ]
    by_cat = w.groupby("category", sort=True)["workers"].sum().sort_values(ascending=False, kind="stable")
    lines.append("  by category: " + ", ".join(f"{c} {int(n):,}" for c, n in by_cat.items()))
    tot = district_totals(w).sort_values("workers", ascending=False, kind="stable")
    lines.append("  largest districts: " + ", ".join(f"{d} {int(n):,}" for d, n in tot["workers"].head(5).items()))
    thin = w[w["feasible"] & (w["expected_bookings"] < 0.5 * m["min_bookings"])]
    if len(thin):
        lines.append(f"  thin evidence ({len(thin)} cells; too few bookings even in the longest runs): "
                     + ", ".join(f"{r.district}/{r.category}" for r in thin.head(10).itertuples()))
    bad = w[~w["feasible"]]
    if len(bad):
        cells = ", ".join(f"{r.district}/{r.category}" for r in bad.head(10).itertuples())
        lines.append(f"  NOT reachable within the worker cap ({len(bad)} cells): {cells}")
    hl = result.helpline
    if hl is not None:
        busiest = hl.loc[hl["agents"].idxmax()]
        lines.append(
            f"Helpline agents (busiest day, simulated): peak {int(busiest['agents'])} at "
            f"{int(busiest['hour']):02d}:00 (today {int(busiest['agents_now'])}); "
            f"{int(hl['agents'].sum()):,} agent-hours a day (today {int(hl['agents_now'].sum()):,})")
    return "\n".join(lines) + "\n"


def write_plan(result, out: str | Path) -> Path:
    """Write the plan's files into ``out``; returns the summary's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result.workers.to_csv(out / "plan_workers.csv", index=False, float_format="%.6g")
    district_totals(result.workers).to_csv(out / "plan_districts.csv", float_format="%.6g")
    if result.helpline is not None:
        result.helpline.to_csv(out / "plan_helpline.csv", index=False, float_format="%.6g")
    save_pngs({"plan_map": plan_map(result.workers)}, out)
    path = out / "plan_summary.txt"
    path.write_text(summary_text(result), encoding="utf-8")
    return path
