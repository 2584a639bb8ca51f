"""Money and number formats a planner reads without thinking: ₹ with Indian digit grouping.

India groups digits as lakhs and crores: ₹27,53,794 (27.5 lakh), ₹4,61,01,300 (4.6 crore).
Axes use the same grouping and never show a bare "1e6" offset.
"""

from __future__ import annotations

import math

from matplotlib.axis import Axis
from matplotlib.ticker import FuncFormatter, MaxNLocator

RUPEE = "₹"


def indian_digits(n: int) -> str:
    """``2753794`` → ``"27,53,794"`` (last three digits, then groups of two)."""
    sign, s = ("-", str(-n)) if n < 0 else ("", str(n))
    if len(s) <= 3:
        return sign + s
    head, tail = s[:-3], s[-3:]
    groups = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    return sign + ",".join([*groups, tail])


def rupees(value: float | None, paise: bool = False, decimals: int = 0) -> str:
    """An amount as ``₹27,53,794`` (``paise=True``: the value is in paise); "–" when missing."""
    if value is None:
        return "–"
    v = float(value) / (100.0 if paise else 1.0)
    if not math.isfinite(v):
        return "–"
    whole = round(v, decimals)
    sign = "-" if whole < 0 else ""
    text = RUPEE + indian_digits(int(abs(whole) // 1))
    if decimals:
        text += f"{abs(whole) % 1:.{decimals}f}"[1:]
    return sign + text


def rupee_axis(axis: Axis) -> None:
    """Label an axis's ticks as whole rupees with Indian grouping (no offset, no 1e6)."""
    axis.set_major_locator(MaxNLocator(nbins=5))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: rupees(v)))


def count_axis(axis: Axis) -> None:
    """Label an axis's ticks as whole counts with Indian grouping (no offset, no 1e6, no 0.5)."""
    axis.set_major_locator(MaxNLocator(integer=True))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: indian_digits(int(round(v))) if v == round(v)
                                           else f"{v:g}"))
