"""Strict YAML for scenario files and ``--set`` values.

PyYAML's safe loader lets the last of two equal keys win silently and raises bare Python
errors (``ValueError``) for values its own resolvers accept but cannot build: impossible
dates (``2025-02-30``), ``!!int abc``, integers past Python's 4,300-digit limit.  This
loader turns every such case into a ``ScenarioError`` that names the file, line and column,
and rejects duplicate keys.  After loading, :func:`check_values` walks the mapping once and
refuses integers that do not fit in 64 bits and structures too large to be a scenario
(YAML aliases can make a few lines stand for billions of values).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode

from sim.errors import ScenarioError

#: Values a scenario may hold in total (lists count every item, aliases every use).
MAX_VALUES = 100_000
#: Largest magnitude of an integer (every count, seed and amount is stored in 64 bits).
MAX_INT = 2**63 - 1
_MERGE_TAG = "tag:yaml.org,2002:merge"


def short(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters (never fails, even for huge integers)."""
    try:
        text = repr(value)
    except ValueError:  # int too large to turn into text
        text = "<a very large integer>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys and reports unbuildable values at their position."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """Build one value; Python errors become a ``ConstructorError`` at the node's position."""
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except Exception as e:  # PyYAML's builders raise bare ValueError, IndexError (!!float _), ...
            what = short(node.value) if isinstance(node.value, str) else node.tag
            detail = str(e).split(":")[0].split(";")[0] if "digits" in str(e) else str(e)
            raise ConstructorError(None, None, f"cannot read {what} as {node.tag.rsplit(':', 1)[-1]}: {detail}",
                                   node.start_mark) from None

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        """Build a mapping, refusing a key that appears twice (``<<`` merges may override)."""
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:  # ``<<: *base`` merges are overridden on purpose
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                raise ConstructorError(None, None, "a mapping key must be a plain value",
                                       key_node.start_mark) from None
            if first is not None:
                raise ConstructorError(None, None, f"duplicate key {short(key)} (first at line {first})",
                                       key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def where(e: yaml.YAMLError, source: str) -> str:
    """``source:line:column: problem`` of a PyYAML error (1-based line and column)."""
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    context = getattr(e, "context", None)
    pos = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
    text = f"{context}: {problem}" if context else problem
    kind = "" if isinstance(e, ConstructorError) else "not valid YAML: "
    return f"{source}{pos}: {kind}{text}"


def load_text(text: str, source: str) -> Any:
    """Parse YAML text strictly; errors are ``ScenarioError`` naming ``source``, line and column."""
    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        raise ScenarioError(where(e, source)) from None
    except RecursionError:
        raise ScenarioError(f"{source}: nested too deeply") from None


def load_file(path: Path, source: str) -> Any:
    """Read and parse a YAML file (``source`` is how the message names it)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError(f"scenario: cannot read {source}: {e.strerror or e}") from None
    return load_text(text, source)


def check_values(raw: Any, path: str = "") -> None:
    """Refuse integers beyond 64 bits and structures with more than :data:`MAX_VALUES` values.

    Raises:
        ScenarioError: naming the dotted field path.
    """
    budget = [MAX_VALUES]

    def walk(x: Any, at: str) -> None:
        budget[0] -= 1
        if budget[0] < 0:
            raise ScenarioError(f"{at or 'scenario'}: too many values (a scenario holds at most {MAX_VALUES:,})")
        if isinstance(x, bool):
            return
        if isinstance(x, int) and not -MAX_INT - 1 <= x <= MAX_INT:
            raise ScenarioError(f"{at or 'scenario'}: integer too large (must fit in 64 bits)")
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, f"{at}.{k}" if at else str(k))
        elif isinstance(x, list | tuple):
            for i, v in enumerate(x):
                walk(v, f"{at}.{i}" if at else str(i))

    walk(raw, path)
