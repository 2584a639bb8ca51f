"""Sewa Mitra Twin: simulate, study, plan and load-test the Sewa Mitra platform.

``sewamitra-sim [COMMAND] [options]`` or ``python run_sim.py [COMMAND] [options]``.

Without a command it runs a scenario (``run``).  Each command lives in its own module
exposing ``add_arguments(parser, command)`` and ``run(args, command) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from cli.args import HelpFormatter
from sim.errors import InputError

#: command -> (module, one-line help).  New commands add one line here.
COMMANDS = {
    "run": ("cli.run", "simulate a scenario and write its outputs and report (default)"),
    "helpline": ("cli.helpline", "the helpline alone, stationary, against Erlang C/A"),
    "staff": ("cli.helpline", "fewest helpline agents per hour for a service level"),
    "compare": ("cli.experiments", "compare dispatch policies over replications (CRN, 95%% CIs)"),
    "sweep": ("cli.experiments", "parameter sweep over a grid with replications"),
    "trace": ("cli.trace", "export a simulated timeline as a request trace for load replay"),
    "twin-check": ("cli.twincheck", "compare a live deployment's outcome with the twin's"),
    "report": ("cli.report", "rebuild the HTML report of a saved run"),
    "plan": ("sim.planner", "fewest workers and agents per district meeting targets"),
}


def build_parser(command: str | None) -> tuple[argparse.ArgumentParser, object | None]:
    """The parser with every command listed and ``command``'s options added; and its module."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=HelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    module = None
    for name, (modname, helptext) in COMMANDS.items():
        p = sub.add_parser(name, help=helptext, description=helptext.replace("%%", "%"), formatter_class=HelpFormatter)
        if name == command:
            module = importlib.import_module(modname)
            module.add_arguments(p, name)
    return parser, module


def main(argv: list[str] | None = None) -> int:
    """Parse, dispatch, and turn bad input into one line and exit status 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS and argv[0] not in {"-h", "--help"}:
        argv = ["run", *argv]
    parser, module = build_parser(argv[0])
    args = parser.parse_args(argv)
    try:
        return int(module.run(args, args.command) or 0)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into head & co.
        sys.stderr.close()
        return 0
