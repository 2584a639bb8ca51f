"""``sensitivity``: Sobol' or Morris indices of run outputs with respect to scenario parameters."""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

from cli.args import add_scenario, scenario
from cli.outdir import add_force, prepare_out_dir
from sim.errors import InputError

DEFAULT_OUT = "runs/sensitivity"


def add_arguments(p: argparse.ArgumentParser, command: str) -> None:
    """Options of ``sensitivity``."""
    add_scenario(p)  # the shared --scenario/--set/--days/--seed
    p.add_argument("--params", required=True, help="a.b=LO:HI,c.d=LO:HI")
    p.add_argument("--outputs", default="fulfilment_rate,utilisation",
                   help="summary.json keys or snapshots.csv columns (value at the last month end)")
    p.add_argument("--method", choices=("sobol", "morris"), default="sobol")
    p.add_argument("--samples", type=int, default=16, help="base sample size N (sobol runs N(k+2) points)")
    p.add_argument("--reps", type=int, default=1, help="replications per point (common random numbers)")
    p.add_argument("--cores", type=int, default=1, help="local processes")
    p.add_argument("--dask", default=None, metavar="ADDRESS", help="evaluate on a Dask scheduler")
    p.add_argument("--out", default=DEFAULT_OUT, help="output folder")
    add_force(p)


def run(args: argparse.Namespace, command: str) -> int:
    """Run the study and write ``indices.csv``, ``samples.csv`` and one plot per output."""
    from sim.calibration import parse_params
    from sim.sensitivity import scenario_outputs, study

    if args.samples < 2 or args.reps < 1:
        raise InputError("--samples/--reps: need samples >= 2 and reps >= 1")
    sc = scenario(args)
    params = parse_params(args.params, {})
    outputs = tuple(o.strip() for o in args.outputs.split(",") if o.strip())
    out = Path(args.out)
    prepare_out_dir(out, args.force or args.out == DEFAULT_OUT)  # before sampling; the default folder is replaced
    func = partial(scenario_outputs, scenario=sc, outputs=outputs, seed=sc.seed, reps=args.reps)
    samples, indices = study(params, func, args.method, args.samples, sc.seed % 2**32, _mapper(args))
    indices.to_csv(out / "indices.csv", index=False, float_format="%.6g")
    samples.to_csv(out / "samples.csv", index=False, float_format="%.6g")
    _plots(indices, args.method, out)
    print(indices.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"wrote {out}/indices.csv, samples.csv and one plot per output")
    return 0


def _mapper(args: argparse.Namespace):
    if args.dask:
        from distributed import Client

        def on_dask(f, xs):
            with Client(args.dask) as c:
                return c.gather(c.map(f, xs, pure=False))
        return on_dask
    if args.cores > 1:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        def on_procs(f, xs):
            with ProcessPoolExecutor(args.cores, mp_context=get_context("spawn")) as ex:
                return list(ex.map(f, xs))
        return on_procs
    return None


def _plots(indices, method: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = ("S1", "ST") if method == "sobol" else ("mu_star",)
    for name, g in indices.groupby("output", sort=True):
        fig, ax = plt.subplots(figsize=(6, 0.5 + 0.4 * len(g)))
        for i, c in enumerate(cols):
            ax.barh([y + 0.4 * i for y in range(len(g))], g[c], 0.4, xerr=g[f"{c}_conf"], label=c)
        ax.set_yticks(range(len(g)), g["param"], fontsize=8)
        ax.set_title(f"{name} ({method})")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / f"sensitivity_{name}.png", dpi=110)
        plt.close(fig)
