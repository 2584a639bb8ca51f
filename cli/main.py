"""Sewa Mitra Twin: simulate, study, plan and load-test the Sewa Mitra platform.

``sewamitra-sim [COMMAND] [options]`` or ``python run_sim.py [COMMAND] [options]``.

Without a command it runs a scenario (``run``).  Each command lives in its own module
exposing ``add_arguments(parser, command)`` and ``run(args, command) -> int``.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import sys
import textwrap

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
    "capacity": ("cli.capacity", "how many times today's busiest hour a live deployment holds within its SLOs"),
    "report": ("cli.report", "rebuild the HTML report of a saved run"),
    "plan": ("cli.plan", "launch plan: fewest workers per district and service, helpline agents"),
    "calibrate": ("cli.calibrate", "fit a scenario to the published anchors (Optuna, out-of-sample by default)"),
    "sensitivity": ("cli.sensitivity", "global sensitivity of outputs to parameters (SALib sobol|morris)"),
}


def help_lists() -> str:
    """What ``--scenario``, ``--policies``/``dispatch.policy``, ``--precision`` and plan targets accept."""
    from sim.config import SCENARIO_DIR
    from sim.experiments.replications import METRICS
    from sim.planner_decision import METRICS as PLAN_METRICS
    from sim.policies import policy_names

    scenarios = sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml") if p.stem != "anchors")
    items = (("scenarios (--scenario NAME, or a YAML path)", scenarios),
             ("dispatch policies (compare --policies, --set dispatch.policy=NAME)", sorted(policy_names())),
             ("study metrics (compare --target METRIC>=X, compare/sweep --precision METRIC=HW)", list(METRICS)),
             ("plan target metrics (plan --target 'METRIC>=X,...')", list(PLAN_METRICS)))
    return "\n".join(f"{k}:\n" + textwrap.fill(", ".join(v), 100, initial_indent="  ", subsequent_indent="  ")
                     for k, v in items)


def build_parser(command: str | None, epilog: str | None = None) -> tuple[argparse.ArgumentParser, object | None]:
    """The parser with every command listed and ``command``'s options added; and its module.

    ``epilog`` (the lists of scenarios, policies and metrics) closes every ``--help`` page.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=HelpFormatter,
                                     epilog=epilog)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    module = None
    for name, (modname, helptext) in COMMANDS.items():
        p = sub.add_parser(name, help=helptext, description=helptext.replace("%%", "%"), formatter_class=HelpFormatter,
                           epilog=epilog)
        if name == command:
            module = importlib.import_module(modname)
            module.add_arguments(p, name)
    return parser, module


def main(argv: list[str] | None = None) -> int:
    """Parse, dispatch, and turn bad input into one line and exit status 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):
        near = difflib.get_close_matches(argv[0], COMMANDS, n=1, cutoff=0.5)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        print(f"error: unknown command {argv[0]!r}{hint}; commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    if not argv or argv[0] not in COMMANDS and argv[0] not in {"-h", "--help"}:
        argv = ["run", *argv]
    wants_help = any(a in {"-h", "--help"} for a in argv)
    parser, module = build_parser(argv[0], help_lists() if wants_help else None)
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
