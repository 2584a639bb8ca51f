"""``run_sim.py compare`` and ``run_sim.py sweep``: replicated studies with 95% CIs.

``compare`` runs the same replications (common random numbers) under several dispatch
policies and reports each policy's mean with its CI and the paired differences against the
first policy.  ``sweep`` does the same over a grid of scenario values.  Both run locally in
processes by default, or on a Dask cluster with ``--dask ADDRESS``; the numbers are the same.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from sim import __version__
from sim.config import load_scenario
from sim.errors import ScenarioError
from sim.experiments.arms import grid_arms, parse_grid, policy_arms
from sim.experiments.replications import (
    METRICS,
    Arm,
    Pool,
    Runner,
    Target,
    replicate,
    replicate_until,
    sim_metrics,
    to_long,
)
from sim.experiments.stats import paired_table, summary_table


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """Options of ``compare`` / ``sweep``."""
    parser.add_argument("--scenario", default="baseline", help="scenario name or YAML path")
    if command == "compare":
        parser.add_argument("--policies", required=True,
                            help="comma-separated policies, first = baseline; params as fair:criterion=longest_idle")
    else:
        parser.add_argument("--grid", action="append", required=True, metavar="KEY=V1,V2,...",
                            help="scenario key and its values (repeat for a cartesian product)")
    parser.add_argument("--reps", type=int, default=20 if command == "compare" else 5,
                        help="replications per arm (the minimum with --target)")
    parser.add_argument("--target", action="append", default=[], metavar="METRIC=HW[%]",
                        help="add replications until every arm's 95%% CI half-width is at most HW "
                             "(or HW%% of the mean)")
    parser.add_argument("--target-paired", action="store_true",
                        help="apply --target to the paired differences from the first arm instead")
    parser.add_argument("--max-reps", type=int, default=200, help="cap on replications with --target")
    parser.add_argument("--seed", type=int, default=None, help="root seed (default: the scenario's)")
    parser.add_argument("--warmup-days", type=float, default=None, help="days excluded from KPIs")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a scenario field")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--cores", type=int, default=None, help="local worker processes (default: all CPUs)")
    where.add_argument("--dask", metavar="ADDRESS", default=None, help="Dask scheduler address, e.g. tcp://host:8786")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default runs/<command>-<scenario>-<seed>)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def parse_targets(items: list[str], paired: bool = False) -> list[Target]:
    """``["fulfilment_rate=0.01", "travel_km_per_job=5%"]`` → targets."""
    out = []
    for item in items:
        metric, eq, text = item.partition("=")
        metric, text = metric.strip(), text.strip()
        if not eq or metric not in METRICS:
            raise ScenarioError(f"--target {item!r}: expected METRIC=HW with METRIC one of {', '.join(METRICS)}")
        relative = text.endswith("%")
        try:
            hw = float(text.rstrip("%")) / (100.0 if relative else 1.0)
        except ValueError:
            raise ScenarioError(f"--target {item!r}: half-width is not a number") from None
        if not (hw > 0 and math.isfinite(hw)):
            raise ScenarioError(f"--target {item!r}: half-width must be > 0")
        out.append(Target(metric, hw, relative, paired))
    return out


def _check_counts(args: argparse.Namespace) -> None:
    if args.reps < 2:
        raise ScenarioError("--reps: at least 2 replications are needed for a confidence interval")
    if args.max_reps < args.reps:
        raise ScenarioError("--max-reps: must be at least --reps")
    if args.cores is not None and args.cores < 1:
        raise ScenarioError("--cores: must be at least 1")
    if args.seed is not None and args.seed < 0:
        raise ScenarioError("--seed: must be >= 0")


def build_arms(args: argparse.Namespace, command: str) -> tuple[list[Arm], str, int]:
    """The study's arms, the scenario name and the root seed."""
    _check_counts(args)
    overrides = list(args.set)
    if args.warmup_days is not None:
        overrides.append(f"warmup_days={args.warmup_days}")
    base = load_scenario(args.scenario, overrides)
    seed = base.seed if args.seed is None else args.seed
    if command == "compare":
        arms = policy_arms(base, [s.strip() for s in args.policies.split(",") if s.strip()])
    else:
        arms = grid_arms(args.scenario, overrides, parse_grid(args.grid))
    return arms, base.name, seed


def execute(args: argparse.Namespace, command: str,
            runner: Runner = sim_metrics) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Run the study; returns its tables (``replications``, ``summary``, ``paired``) and facts."""
    arms, name, seed = build_arms(args, command)
    targets = parse_targets(args.target, args.target_paired)
    with Pool(cores=args.cores, dask=args.dask, progress=not args.no_progress) as pool:
        if targets:
            wide = replicate_until(arms, seed, targets, args.reps, args.max_reps, runner, pool)
        else:
            wide = replicate(arms, seed, range(args.reps), runner, pool)
    by = "policy" if command == "compare" else "point"
    long = to_long(wide, by)
    tables = {"summary": summary_table(long, by), "paired": paired_table(long, by)}
    if command == "compare":
        tables["replications"] = long
    else:
        tables["replications"] = _with_values(wide.drop(columns="arm").rename(columns={"label": by}), arms)
        tables["summary"] = _with_values(tables["summary"], arms)
    meta = {"command": command, "scenario": name, "seed": seed, "version": __version__,
            "arms": [a.label for a in arms], "replications": int(wide["replication"].nunique()),
            "overrides": list(args.set), "warmup_days": args.warmup_days, "targets": list(args.target),
            "target_paired": bool(args.target_paired)}  # where it ran (cores, Dask) never changes results
    return tables, meta


def _with_values(df: pd.DataFrame, arms: list[Arm]) -> pd.DataFrame:
    """Insert a column per sweep key after ``point``, holding the point's value text."""
    by_label = {a.label: dict(a.values) for a in arms}
    for i, (k, _) in enumerate(arms[0].values):
        df.insert(1 + i, k, df["point"].map(lambda p, k=k: by_label[p][k]))
    return df


def write(tables: dict[str, pd.DataFrame], meta: dict[str, Any], out: Path) -> Path:
    """Write ``replications.parquet``, ``summary.csv``, ``paired.csv`` and ``experiment.json``."""
    out.mkdir(parents=True, exist_ok=True)
    tables["replications"].to_parquet(out / "replications.parquet", index=False)
    tables["summary"].to_csv(out / "summary.csv", index=False, float_format="%.10g")
    tables["paired"].to_csv(out / "paired.csv", index=False, float_format="%.10g")
    (out / "experiment.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return out


def _cell(mean: float, lo: float, hi: float) -> str:
    if not math.isfinite(mean):
        return "-"
    if not math.isfinite(lo):
        return f"{mean:.4g}"
    return f"{mean:.4g} ± {(hi - lo) / 2:.2g}"


def _grid_text(df: pd.DataFrame, by: str, value: str, lo: str, hi: str, columns: list[str],
               names: dict[str, str]) -> str:
    """Metric rows × arm columns of "mean ± half-width" cells."""
    cells = [_cell(m, a, b) for m, a, b in zip(df[value], df[lo], df[hi], strict=True)]
    grid = df.assign(cell=cells).pivot(index="metric", columns=by, values="cell")
    grid = grid.reindex(index=list(dict.fromkeys(df["metric"])), columns=columns)
    return grid.rename(columns=names).to_string()


def render(tables: dict[str, pd.DataFrame], by: str) -> str:
    """A readable text version: metric rows, one column per arm (mean ± CI half-width).

    Sweep points get short names (p1, p2, ...) with a legend, so the table stays narrow.
    """
    s = tables["summary"]
    order = list(dict.fromkeys(s[by]))
    names = {a: f"p{i + 1}" for i, a in enumerate(order)} if by == "point" else {}
    n = int(s["n"].max()) if len(s) else 0
    lines = [f"{names[a]}: {a}" for a in order] if names else []
    lines += [f"95% CIs over {n} replications (mean ± half-width)",
              _grid_text(s, by, "mean", "ci_lo", "ci_hi", order, names)]
    p = tables["paired"]
    if len(p):
        base = p["baseline"].iloc[0]
        lines += ["", f"paired differences vs {names.get(base, base)} (common random numbers)",
                  _grid_text(p, by, "mean_diff", "ci_lo", "ci_hi", order[1:], names)]
    return "\n".join(lines)


def run(args: argparse.Namespace, command: str) -> int:
    """Run ``compare`` or ``sweep``, print the table and write the output folder."""
    tables, meta = execute(args, command)
    out = args.out or Path("runs") / f"{command}-{meta['scenario']}-{meta['seed']}"
    write(tables, meta, out)
    print(render(tables, "policy" if command == "compare" else "point"))
    print(f"\nwrote {out}")
    return 0
