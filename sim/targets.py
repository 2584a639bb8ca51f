"""Service targets: one grammar, ``"metric>=x,metric<=y"``, shared by every command that takes them.

``parse_targets`` reads the text against the caller's vocabulary of metric names (e.g.
``sim.experiments.METRICS``, the keys of a run's ``summary.json``); ``Target.met`` checks a
value, ``Target.verdict`` a confidence interval.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sim.errors import InputError

_OPS = {">=": operator.ge, "<=": operator.le}
_ITEM = re.compile(r"([A-Za-z0-9_.]+)\s*(>=|<=)\s*(\S+)")


@dataclass(frozen=True)
class Target:
    """One bound on one metric, e.g. ``fulfilment_rate >= 0.95`` or ``wait_assign_p90_min <= 60``."""

    metric: str
    op: str      # ">=" or "<="
    value: float

    def met(self, values: Mapping[str, float]) -> bool:
        """True if the metric is known, finite and on the right side of the bound (NaN fails)."""
        v = values.get(self.metric, math.nan)
        return bool(math.isfinite(v) and _OPS[self.op](v, self.value))

    def verdict(self, lo: float, hi: float) -> str:
        """Where a confidence interval ``[lo, hi]`` lies: ``met``, ``missed`` or ``unsure``.

        ``met``: wholly on the right side of the bound; ``missed``: wholly on the wrong side;
        ``unsure``: it straddles the bound or is undefined.
        """
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return "unsure"
        good = self.met({self.metric: lo}) and self.met({self.metric: hi})
        if good:
            return "met"
        bad = not self.met({self.metric: lo}) and not self.met({self.metric: hi})
        return "missed" if bad else "unsure"

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}"


def parse_targets(text: str | Collection[str], metrics: Collection[str], flag: str = "--target") -> list[Target]:
    """``"fulfilment_rate>=0.9,wait_assign_p90_min<=60"`` (or a list of such texts) → targets.

    ``metrics`` is the vocabulary; bad text raises ``InputError`` naming ``flag``.
    """
    items = [text] if isinstance(text, str) else list(text)
    out = []
    for part in (p.strip() for item in items for p in item.split(",")):
        if not part:
            continue
        m = _ITEM.fullmatch(part)
        if not m:
            raise InputError(f"{flag}: cannot read {part!r} (expected METRIC>=X or METRIC<=X)")
        name, op, num = m.groups()
        if name not in metrics:
            raise InputError(f"{flag}: unknown metric {name!r} (known: {', '.join(sorted(metrics))})")
        try:
            value = float(num)
        except ValueError:
            raise InputError(f"{flag}: {part!r}: {num!r} is not a number") from None
        if not math.isfinite(value):
            raise InputError(f"{flag}: {part!r}: the bound must be finite")
        out.append(Target(name, op, value))
    return out
