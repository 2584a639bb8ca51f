"""Arguments shared by the commands, defined once so a flag means the same thing everywhere.

``--scenario`` (name or YAML path), ``--days`` (the simulated horizon, ``horizon_days``),
``--seed`` (the root seed; default the scenario's), ``--set KEY=VALUE`` (any scenario field),
``--out`` (output folder or file) and ``--quiet`` (no progress bar).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from sim.config import Scenario, load_scenario
from sim.errors import InputError


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows ``(default: X)`` after help texts, except for flags and empty defaults; keeps the epilog's lines."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False, []) or isinstance(action, argparse._StoreConstAction):
            return action.help
        return super()._get_help_string(action)


def add_scenario(p: argparse.ArgumentParser, days: bool = True, seed: bool = True) -> None:
    """``--scenario``, ``--set`` and, unless disabled, ``--days`` and ``--seed``."""
    p.add_argument("--scenario", default="baseline", help="scenario name in scenarios/ or a YAML path")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any scenario field, e.g. demand.scale=2 (repeatable)")
    if days:
        p.add_argument("--days", type=float, default=None,
                       help="simulated horizon [days] (overrides horizon_days; default: the scenario's)")
    if seed:
        p.add_argument("--seed", type=int, default=None, help="root seed (default: the scenario's)")


def add_out(p: argparse.ArgumentParser, default_text: str) -> None:
    """``--out``; ``default_text`` says where outputs go without it."""
    p.add_argument("--out", default=None, help=f"output folder (default: {default_text})")


def add_quiet(p: argparse.ArgumentParser) -> None:
    """``--quiet``: no progress bar."""
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def scenario_overrides(args: argparse.Namespace) -> list[str]:
    """``--set`` items plus ``--days`` and ``--seed`` as scenario overrides."""
    overrides = list(args.overrides)
    days = getattr(args, "days", None)
    if days is not None:
        if not days > 0:
            raise InputError("--days: must be positive")
        overrides.append(f"horizon_days={days}")
    seed = getattr(args, "seed", None)
    if seed is not None:
        if seed < 0:
            raise InputError("--seed: must be a non-negative integer")
        overrides.append(f"seed={seed}")
    return overrides


def scenario(args: argparse.Namespace) -> Scenario:
    """The scenario named by ``--scenario`` with ``--set``/``--days``/``--seed`` applied."""
    return load_scenario(args.scenario, scenario_overrides(args))


def progress_bar(quiet: bool, desc: str, unit: str) -> Callable[[int, int], None] | None:
    """A ``progress(done, total)`` callback drawing a tqdm bar on stderr, or None when quiet."""
    if quiet:
        return None
    from tqdm import tqdm

    state: dict[str, Any] = {}

    def progress(done: int, total: int) -> None:
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()
            state.pop("bar")

    return progress
