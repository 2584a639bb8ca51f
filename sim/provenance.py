"""Where a run's scenario came from: its file, its parent and what each ``--set`` changed.

Saved next to the run's outputs (``provenance.json``) so the report's Methods section can show
the differences from the parent scenario and the command-line overrides.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sim.config import Scenario, load_scenario, parent_path, resolve_path, shown_path
from sim.errors import ScenarioError
from sim.scenario_yaml import load_file


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        return {k: v for key, sub in d.items() for k, v in _flat(sub, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): d}


def differences(a: Scenario | None, b: Scenario) -> dict[str, list[Any]]:
    """Fields whose resolved values differ: ``{"demand.scale": [a value, b value]}`` (a: None → all of b)."""
    fa = _flat(a.model_dump(mode="json")) if a is not None else {}
    fb = _flat(b.model_dump(mode="json"))
    return {k: [fa.get(k), fb.get(k)] for k in sorted(set(fa) | set(fb))
            if k not in ("name", "description") and fa.get(k) != fb.get(k)}


def provenance(name_or_path: str | Path = "baseline", overrides: Iterable[str] = ()) -> dict[str, Any]:
    """Where a scenario came from: its file, its parent, what it changes and the ``--set`` items.

    Returns a JSON-ready mapping: ``file`` (the name as given), ``parent`` (the ``extends:`` value or
    None), ``changes_from_parent`` and ``overrides`` (each ``{field: [before, after]}``) and
    ``set`` (the ``--set`` items as typed).  The report's Methods section shows it.
    """
    overrides = list(overrides)
    path = resolve_path(name_or_path)
    own = load_scenario(path)
    parent_ref = load_file(path.resolve(), shown_path(path)).get("extends") if path.is_file() else None
    try:
        parent = load_scenario(parent_path(parent_ref, path.resolve())) if parent_ref is not None else None
    except ScenarioError:  # a partial parent that is only valid once extended
        parent = None
    final = load_scenario(path, overrides) if overrides else own
    return {"file": str(name_or_path), "parent": parent_ref, "changes_from_parent": differences(parent, own)
            if parent is not None else {}, "set": overrides, "overrides": differences(own, final)}
