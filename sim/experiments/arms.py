"""Turn command-line study designs into arms: policy specs for ``compare``, grids for ``sweep``."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import yaml

from sim.config import Scenario, load_scenario, parse_override, validate
from sim.errors import ScenarioError
from sim.experiments.replications import Arm
from sim.policies import make_policy


def split_top(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside brackets and braces (``[Lucknow,Agra],x`` → two items)."""
    out, depth, cur = [], 0, []
    for ch in text:
        if ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        if ch == sep and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    return out


def parse_policy(spec: str) -> tuple[str, dict[str, Any]]:
    """``"fair:criterion=longest_idle:share_radius_km=5"`` → ``("fair", {...})``."""
    name, *items = [s.strip() for s in spec.split(":")]
    if not name:
        raise ScenarioError(f"--policies: empty policy name in {spec!r}")
    params: dict[str, Any] = {}
    for item in items:
        key, eq, text = item.partition("=")
        if not eq or not key.strip():
            raise ScenarioError(f"--policies: {spec!r}: expected name:key=value")
        try:
            params[key.strip()] = yaml.safe_load(text)
        except yaml.YAMLError:
            params[key.strip()] = text
    return name, params


def policy_arms(base: Scenario, specs: Sequence[str]) -> list[Arm]:
    """One arm per policy spec; the base scenario's shared params (e.g. radius) are kept.

    Parameters of the base scenario's own policy that the new policy does not have are
    dropped, so ``--policies nearest,fair`` works from a scenario that runs ``batch``.
    """
    if not specs:
        raise ScenarioError("--policies: give at least one policy")
    if len(set(specs)) != len(specs):
        raise ScenarioError("--policies: the same policy spec is given twice")
    arms = []
    for spec in specs:
        name, params = parse_policy(spec)
        fields = type(make_policy(name).params).model_fields
        kept = {k: v for k, v in base.dispatch.params.items() if k in fields}
        raw = base.model_dump(mode="json")
        raw["dispatch"] = {"policy": name, "params": {**kept, **params}}
        arms.append(Arm(spec, validate(raw)))
    return arms


def parse_grid(items: Sequence[str]) -> list[tuple[str, list[str]]]:
    """``["a.b=1,2", "c=x,y"]`` → ``[("a.b", ["1", "2"]), ("c", ["x", "y"])]`` (values as text)."""
    grid: list[tuple[str, list[str]]] = []
    for item in items:
        key, eq, text = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ScenarioError(f"--grid {item!r}: expected key=v1,v2,...")
        values = split_top(text)
        if not all(values):
            raise ScenarioError(f"--grid {item!r}: empty value")
        if key in {k for k, _ in grid}:
            raise ScenarioError(f"--grid {key}: given twice")
        parse_override(f"{key}={values[0]}")  # checks the key's syntax
        grid.append((key, values))
    if not grid:
        raise ScenarioError("--grid: give at least one key=v1,v2,...")
    return grid


def grid_arms(name: str, overrides: Sequence[str], grid: list[tuple[str, list[str]]]) -> list[Arm]:
    """One arm per grid point (cartesian product, first key slowest); label ``k1=v1 k2=v2``."""
    keys = [k for k, _ in grid]
    arms = []
    for values in itertools.product(*[v for _, v in grid]):
        pairs = tuple(zip(keys, values, strict=True))
        point = [f"{k}={v}" for k, v in pairs]
        arms.append(Arm(" ".join(point), load_scenario(name, [*overrides, *point]), pairs))
    return arms
