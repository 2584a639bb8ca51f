"""Registry of dispatch policies by name.  Adding a policy is adding one module here."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sim.errors import ScenarioError
from sim.policies.base import DispatchPolicy

REGISTRY: dict[str, type[DispatchPolicy]] = {}
_LOADED = False


def register(cls: type[DispatchPolicy]) -> type[DispatchPolicy]:
    """Class decorator: make ``cls`` selectable by ``cls.name``."""
    if not cls.name:
        raise TypeError(f"{cls.__qualname__} has no name")
    if cls.name in REGISTRY and REGISTRY[cls.name] is not cls:
        raise TypeError(f"two dispatch policies are named {cls.name!r}")
    REGISTRY[cls.name] = cls
    return cls


def _load_all() -> None:
    """Import every module of ``sim.policies`` once, so each registers itself."""
    global _LOADED
    if _LOADED:
        return
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if info.name not in {"base", "registry"}:
            importlib.import_module(f"sim.policies.{info.name}")
    _LOADED = True


def policy_names() -> list[str]:
    """Names of all registered policies, sorted."""
    _load_all()
    return sorted(REGISTRY)


def make_policy(name: str, params: Mapping[str, Any] | None = None) -> DispatchPolicy:
    """Build the policy ``name`` with validated ``params``.

    Raises:
        ScenarioError: unknown name or invalid parameter (the message names it).
    """
    _load_all()
    cls = REGISTRY.get(name)
    if cls is None:
        raise ScenarioError(f"dispatch.policy: unknown policy {name!r} (known: {', '.join(sorted(REGISTRY))})")
    try:
        p = cls.Params(**dict(params or {}))
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise ScenarioError(f"dispatch.params.{loc}: {err['msg']}") from None
    return cls(p)
