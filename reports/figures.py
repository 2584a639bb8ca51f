"""Turning figures into byte-stable PNGs, and the report's map panels.

Every figure is built and saved inside ``report_style()``: matplotlib's defaults plus a
fixed house style, so neither a user's ``matplotlibrc`` nor earlier plots change the bytes.
PNG metadata (the "Software" text chunk) is dropped for the same reason.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reports.load import RunData
from reports.maps import MapPanel, notable

DPI = 100
STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.dpi": DPI,
    "figure.dpi": DPI,
}


@contextmanager
def report_style() -> Iterator[None]:
    """Matplotlib defaults + the house style, restored on exit."""
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(STYLE)
        yield


def png_bytes(fig: Figure, description: str | None = None) -> bytes:
    """The figure as PNG bytes (byte-stable for the same figure).

    The only metadata is an optional ``Description`` text chunk (e.g. the districts a map
    names); the "Software" chunk, which holds matplotlib's version, is dropped.
    """
    buf = io.BytesIO()
    meta = {"Software": None, **({"Description": description} if description else {})}
    fig.savefig(buf, format="png", dpi=DPI, metadata=meta)
    return buf.getvalue()


def save_pngs(pngs: dict[str, bytes], folder: Path) -> None:
    """Write each PNG as ``folder/<key>.png`` (for papers); only rewrites changed files."""
    folder.mkdir(parents=True, exist_ok=True)
    for key, data in sorted(pngs.items()):
        p = folder / f"{key}.png"
        if not p.is_file() or p.read_bytes() != data:
            p.write_bytes(data)


def district_metrics(run: RunData) -> pd.DataFrame:
    """Per-district map values: bookings per 100,000 people per year, fulfilment, p90 wait."""
    d = run.districts.set_index("district").sort_index()
    per_year = 365.0 / run.measured_days
    out = pd.DataFrame(index=d.index)
    out["bookings_per_100k"] = d["bookings"] / d["population_2011"] * 1e5 * per_year
    out["fulfilment_rate"] = d["fulfilment_rate"]
    out["wait_p90_min"] = d["wait_assign_p90_min"]
    return out


def _values(s: pd.Series) -> dict[str, float]:
    return {str(k): float(v) for k, v in s.items() if pd.notna(v)}


#: The run report's district maps: (metric column, title, colour-bar label, colour map, vmin, vmax, format).
MAP_METRICS: tuple[tuple[str, str, str, str, float | None, float | None, str], ...] = (
    ("bookings_per_100k", "Bookings per 100,000 people", "bookings per 100,000 per year", "viridis", None, None,
     "{:,.1f}"),
    ("fulfilment_rate", "Fulfilment rate", "completed / booked", "RdYlGn", 0.0, 1.0, "{:.1%}"),
    ("wait_p90_min", "p90 wait to assignment", "[minutes]", "magma_r", None, None, "{:,.1f}"),
)


def run_map_panels(run: RunData) -> list[MapPanel]:
    """The three district maps of one run, each naming its notable districts."""
    m = district_metrics(run)
    panels = []
    for col, title, label, cmap, lo, hi, _ in MAP_METRICS:
        v = _values(m[col])
        panels.append(MapPanel(title, v, label, cmap, lo, hi, labels=tuple(notable(v))))
    return panels


def diff_map_panels(a: RunData, b: RunData) -> list[MapPanel]:
    """Maps of B − A per district on symmetric diverging scales."""
    ma, mb = district_metrics(a), district_metrics(b)
    d = (mb - ma).dropna(how="all")
    panels = []
    for col, title, label, cmap in (
        ("bookings_per_100k", "Δ bookings per 100,000", "B − A [per 100,000 per year]", "PuOr"),
        ("fulfilment_rate", "Δ fulfilment rate", "B − A", "RdYlGn"),
        ("wait_p90_min", "Δ p90 wait", "B − A [minutes]", "RdYlGn_r"),
    ):
        v = _values(d[col])
        lim = max((abs(x) for x in v.values()), default=0.0) or 1.0
        panels.append(MapPanel(title, v, label, cmap, -lim, lim))
    return panels


def finite_or_none(x: object) -> float | None:
    """A float if ``x`` is a finite number, else None."""
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None
