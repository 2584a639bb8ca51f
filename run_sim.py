#!/usr/bin/env python3
"""Sewa Mitra Twin command line: ``python run_sim.py [COMMAND] [options]``.

Without a command it runs a scenario (``run``).  Each command lives in its own module
exposing ``add_arguments(parser, command)`` and ``run(args, command) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "run": ("sim.cli_run", "simulate a scenario and write its outputs and report (default)"),
    "helpline": ("sim.helpline.cli", "the helpline alone, stationary, against Erlang C/A"),
    "staff": ("sim.helpline.cli", "fewest helpline agents per hour for a service level"),
    "compare": ("sim.experiments.cli", "compare dispatch policies over replications (CRN, 95%% CIs)"),
    "sweep": ("sim.experiments.cli", "parameter sweep over a grid with replications"),
    "trace": ("cli.trace", "export a simulated timeline as a request trace for load replay"),
    "twin-check": ("cli.twincheck", "compare a live deployment's outcome with the twin's"),
    "report": ("reports.cli", "rebuild the HTML report of a saved run"),
    "plan": ("sim.planner", "fewest workers and agents per district meeting targets"),
    "calibrate": ("cli.calibrate", "fit a scenario to the published anchors (Optuna, out-of-sample)"),
    "sensitivity": ("cli.sensitivity", "global sensitivity of outputs to parameters (SALib sobol|morris)"),
}


def main(argv: list[str] | None = None) -> int:
    """Parse, dispatch, and turn bad input into one line and exit status 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS and argv[0] not in {"-h", "--help"}:
        argv = ["run", *argv]
    parser = argparse.ArgumentParser(prog="run_sim.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = {}
    for name, (modname, helptext) in COMMANDS.items():
        p = sub.add_parser(name, help=helptext, description=helptext)
        if name == argv[0]:
            try:
                modules[name] = importlib.import_module(modname)
            except ImportError as e:
                print(f"error: command {name!r} is not available: {e}", file=sys.stderr)
                return 2
            modules[name].add_arguments(p, name)
    args = parser.parse_args(argv)
    from sim.errors import ScenarioError

    try:
        return int(modules[args.command].run(args, args.command) or 0)
    except ScenarioError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into head & co.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
