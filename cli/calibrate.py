"""``calibrate``: fit a scenario's parameters to the published anchors with Optuna.

Out-of-sample by default: the anchors on the latest date are fitted, the earlier ones are
held out and reported as predictions with 95% CIs (``--fit-all`` fits every anchor).
Writes ``fitted.yaml`` (extends the input), ``calibration.csv``, ``trials.csv``,
``calibration.png`` (before/after) and the Optuna study (``study.db`` unless ``--storage``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli.args import add_scenario, scenario
from sim.errors import InputError


def add_arguments(p: argparse.ArgumentParser, command: str) -> None:
    """Options of ``calibrate``."""
    add_scenario(p)  # the shared --scenario/--set/--days/--seed, here on the history by default
    p.set_defaults(scenario="history")
    p.add_argument("--anchors", default=None, help="anchor file (default: the scenario's calibration.anchors)")
    p.add_argument("--params", default=None,
                   help="a.b=LO:HI,c.d (bare keys take the scenario's bounds; default: its calibration block)")
    p.add_argument("--trials", type=int, default=12, help="Optuna trials")
    p.add_argument("--reps", type=int, default=1, help="replications per trial, common random numbers")
    p.add_argument("--eval-reps", type=int, default=5, help="replications for the before/after table")
    p.add_argument("--fit-all", action="store_true", help="fit every anchor (no held-out prediction)")
    p.add_argument("--storage", default=None, help="Optuna storage URL (sqlite:///..., postgresql://...)")
    p.add_argument("--cores", type=int, default=1, help="local processes for replications")
    p.add_argument("--dask", default=None, metavar="ADDRESS", help="run replications on a Dask scheduler")
    p.add_argument("--out", default="runs/calibration", help="output folder (keeps its resumable Optuna study)")


def run(args: argparse.Namespace, command: str) -> int:
    """Calibrate and write the outputs."""
    from sim.calibration import calibrate, fitted_yaml, load_anchors, parse_params
    from sim.config import resolve_path
    from sim.experiments.replications import Pool

    if args.trials < 1 or args.reps < 1 or args.eval_reps < 1:
        raise InputError("--trials/--reps/--eval-reps: must be >= 1")
    sc = scenario(args)
    block = sc.calibration
    declared = dict(block.params) if block else {}
    params = parse_params(args.params, declared) if args.params else declared
    if not params:
        raise InputError("--params: the scenario declares no calibration.params; give --params a.b=LO:HI")
    anchors = load_anchors(args.anchors or (block.anchors if block else "anchors"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    storage = args.storage or f"sqlite:///{(out / 'study.db').resolve()}"

    def tick(n: int, value: float) -> None:
        print(f"trial {n + 1}/{args.trials}: mismatch {value:.4g}", file=sys.stderr, flush=True)

    with Pool(cores=args.cores, dask=args.dask) as pool:
        cal = calibrate(sc, anchors, params, trials=args.trials, reps=args.reps, eval_reps=args.eval_reps,
                        fit_all=args.fit_all, log_scale=block.log_scale if block else (), storage=storage,
                        study_name=f"{sc.name}-{'all' if args.fit_all else 'oos'}", pool=pool,
                        parallel_trials=1 if args.dask else max(1, args.cores // args.reps), on_trial=tick)
    (out / "fitted.yaml").write_text(fitted_yaml(resolve_path(args.scenario), cal.best, f"{sc.name}_fitted"))
    cal.table.to_csv(out / "calibration.csv", index=False, float_format="%.6g")
    cal.trials.to_csv(out / "trials.csv", index=False)
    _plot(cal.table, out / "calibration.png")
    print(cal.table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"best: {cal.best}")
    print(f"wrote {out}/fitted.yaml, calibration.csv, trials.csv, calibration.png")
    return 0


def _plot(table, path: Path) -> None:
    """Before/after as a share of the published value, one bar pair per anchor."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    x = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(x - 0.2, table["before"] / table["published"], 0.4, label="before")
    ax.bar(x + 0.2, table["after"] / table["published"], 0.4, label="after",
           yerr=[(table["after"] - table["after_ci_low"]) / table["published"],
                 (table["after_ci_high"] - table["after"]) / table["published"]])
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xticks(x, [f"{a}\n({r})" for a, r in zip(table["anchor"], table["role"], strict=True)], fontsize=7)
    ax.set_ylabel("simulated / published")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
