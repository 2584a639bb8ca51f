"""``run_sim.py compare`` and ``run_sim.py sweep``: replicated studies with 95% CIs.

``compare`` runs the same replications (common random numbers) under several dispatch
policies and reports each policy's mean with its CI and the paired differences against the
first policy.  ``sweep`` does the same over a grid of scenario values.  Both run locally in
processes by default, or on a Dask cluster with ``--dask ADDRESS``; the numbers are the same.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd

from cli.args import add_out, add_quiet, add_scenario, progress_bar, scenario_overrides
from cli.outdir import add_force, prepare_out_dir
from reports.studies import ci_text, write_study_report
from sim.errors import InputError
from sim.experiments import METRICS, Pool, StudySpec, parse_precision, run_study, write_study
from sim.targets import parse_targets


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """Options of ``compare`` / ``sweep``."""
    add_scenario(parser)
    if command == "compare":
        parser.add_argument("--policies", required=True,
                            help="comma-separated policies, first = baseline; params as fair:criterion=longest_idle")
    else:
        parser.add_argument("--grid", action="append", required=True, metavar="KEY=V1,V2,...",
                            help="scenario key and its values (repeat for a cartesian product)")
    parser.add_argument("--reps", type=int, default=20 if command == "compare" else 5,
                        help="replications per arm (the minimum with --precision)")
    parser.add_argument("--precision", action="append", default=[], metavar="METRIC=HW[%]",
                        help="add replications until every arm's 95%% CI half-width is at most HW "
                             "(or HW%% of the mean)")
    parser.add_argument("--precision-paired", action="store_true",
                        help="apply --precision to the paired differences from the first arm instead")
    parser.add_argument("--max-reps", type=int, default=200, help="cap on replications with --precision")
    parser.add_argument("--target", action="append", default=[], metavar="METRIC>=X,METRIC<=Y",
                        help="service targets; each arm's 95%% CI is judged met, missed or unsure")
    parser.add_argument("--warmup-days", type=float, default=None,
                        help="days excluded from KPIs (overrides warmup_days)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--cores", type=int, default=None, help="local worker processes (default: all CPUs)")
    where.add_argument("--dask", metavar="ADDRESS", default=None, help="Dask scheduler address, e.g. tcp://host:8786")
    add_out(parser, f"runs/{command}-<scenario>-<seed>")
    add_force(parser)
    add_quiet(parser)


def spec_from_args(args: argparse.Namespace, command: str) -> StudySpec:
    """The typed study spec the options describe."""
    overrides = scenario_overrides(argparse.Namespace(overrides=args.overrides, days=args.days, seed=None))
    if args.warmup_days is not None:
        overrides.append(f"warmup_days={args.warmup_days}")
    if args.seed is not None and args.seed < 0:
        raise InputError("--seed: must be >= 0")
    return StudySpec(
        kind=command, scenario=args.scenario, overrides=tuple(overrides),
        policies=tuple(s.strip() for s in args.policies.split(",") if s.strip()) if command == "compare" else (),
        grid=tuple(args.grid) if command == "sweep" else (), reps=args.reps, max_reps=args.max_reps,
        seed=args.seed, precision=parse_precision(args.precision, args.precision_paired),
        targets=tuple(parse_targets(args.target, METRICS)))


def make_pool(args: argparse.Namespace) -> Pool:
    """Where the replications run: ``--cores`` local processes or a ``--dask`` cluster."""
    if args.cores is not None and args.cores < 1:
        raise InputError("--cores: must be at least 1")
    return Pool(cores=args.cores or os.cpu_count(), dask=args.dask,
                progress=progress_bar(args.quiet, "replications", "rep"))


def _grid_text(df: pd.DataFrame, by: str, value: str, lo: str, hi: str, columns: list[str],
               names: dict[str, str]) -> str:
    """Metric rows × arm columns of "mean ± half-width" cells."""
    cells = [ci_text(m, a, b) for m, a, b in zip(df[value], df[lo], df[hi], strict=True)]
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
    t = tables.get("targets")
    if t is not None and len(t):
        grid = t.assign(arm=t[by].map(lambda a: names.get(a, a))).pivot(index="target", columns="arm",
                                                                        values="verdict")
        grid = grid.reindex(index=list(dict.fromkeys(t["target"])), columns=[names.get(a, a) for a in order])
        lines += ["", "targets (met / missed: the whole 95% CI on one side; unsure: it straddles)", grid.to_string()]
    return "\n".join(lines)


def run(args: argparse.Namespace, command: str) -> int:
    """Run ``compare`` or ``sweep``, print the table and write the output folder."""
    spec = spec_from_args(args, command)
    if args.out:
        prepare_out_dir(Path(args.out), args.force)  # before the study, not after hours of replications
    res = run_study(spec, make_pool(args))
    out = Path(args.out) if args.out else Path("runs") / f"{command}-{res.meta['scenario']}-{res.meta['seed']}"
    if not args.out:
        prepare_out_dir(out, args.force)
    write_study(res, out)
    print(render(res.tables, spec.by))
    print(f"\nwrote {out}")
    print(f"plots: {write_study_report(out)}")
    return 0
