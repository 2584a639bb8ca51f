"""Choropleth maps of the 75 districts from ``sim/data/up_districts.geojson``.

Drawn with a matplotlib ``PolyCollection`` (every part of every polygon, exterior rings),
so no GIS stack is needed.  Districts without a value are drawn grey.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.collections import PolyCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

#: Fill of districts that have no value (not simulated, or no bookings).
NO_DATA = "#d9d9d9"
#: Latitude used to keep the map's shape true [degrees north].
MAP_LAT = 27.0


@lru_cache(maxsize=1)
def district_shapes() -> tuple[tuple[str, tuple[np.ndarray, ...]], ...]:
    """(district, exterior rings as (n, 2) lon/lat arrays [deg]) for every district, by name."""
    with (resources.files("sim") / "data" / "up_districts.geojson").open("r", encoding="utf-8") as fh:
        feats = json.load(fh)["features"]
    out = []
    for f in feats:
        g = f["geometry"]
        polys = [g["coordinates"]] if g["type"] == "Polygon" else g["coordinates"]
        rings = tuple(np.asarray(p[0], dtype=np.float64) for p in polys)
        out.append((f["properties"]["district"], rings))
    return tuple(sorted(out, key=lambda t: t[0]))


def choropleth(
    ax: Axes,
    values: Mapping[str, float],
    *,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    label: str = "",
    title: str = "",
    labels: Sequence[str] = (),
) -> None:
    """Fill each district of ``ax`` by ``values[district]`` and add a colour bar.

    Args:
        ax: axes to draw on (its figure receives the colour bar).
        values: value per district name; missing or NaN districts are drawn grey.
        cmap: matplotlib colour map name.
        vmin: lower colour scale limit (default: the smallest finite value).
        vmax: upper colour scale limit (default: the largest finite value).
        label: colour bar label (with units in brackets).
        title: axes title.
        labels: districts to name on the map (at their largest part's centroid).
    """
    finite = np.array([v for v in values.values() if v is not None and math.isfinite(v)], dtype=float)
    lo = float(finite.min()) if vmin is None and finite.size else (vmin if vmin is not None else 0.0)
    hi = float(finite.max()) if vmax is None and finite.size else (vmax if vmax is not None else 1.0)
    if hi <= lo:
        hi = lo + 1.0
    sm = ScalarMappable(norm=Normalize(lo, hi), cmap=cmap)
    verts, colours = [], []
    for name, rings in district_shapes():
        v = values.get(name)
        c = sm.to_rgba(v) if v is not None and math.isfinite(v) else NO_DATA
        for r in rings:
            verts.append(r)
            colours.append(c)
    ax.add_collection(PolyCollection(verts, facecolors=colours, edgecolors="white", linewidths=0.3))
    allv = np.concatenate([r for _, rings in district_shapes() for r in rings])
    ax.set_xlim(allv[:, 0].min() - 0.1, allv[:, 0].max() + 0.1)
    ax.set_ylim(allv[:, 1].min() - 0.1, allv[:, 1].max() + 0.1)
    ax.set_aspect(1.0 / math.cos(math.radians(MAP_LAT)))
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10)
    ax.figure.colorbar(sm, ax=ax, shrink=0.7, label=label)
    halo = [patheffects.withStroke(linewidth=2.2, foreground="white")]
    for name in labels:
        x, y = centroid(name)
        ax.plot([x], [y], marker="o", ms=2.5, color="black")
        ax.annotate(name, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=7, path_effects=halo)


@lru_cache(maxsize=128)
def centroid(district: str) -> tuple[float, float]:
    """Area-weighted centroid of a district's largest part [lon, lat degrees]."""
    rings = dict(district_shapes())[district]
    r = max(rings, key=lambda a: abs(_area(a)))
    x, y = r[:, 0], r[:, 1]
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y
    a = cross.sum() / 2.0
    if a == 0:
        return float(x.mean()), float(y.mean())
    return (float(((x + np.roll(x, -1)) * cross).sum() / (6 * a)),
            float(((y + np.roll(y, -1)) * cross).sum() / (6 * a)))


def _area(r: np.ndarray) -> float:
    x, y = r[:, 0], r[:, 1]
    return float((x * np.roll(y, -1) - np.roll(x, -1) * y).sum() / 2.0)


def notable(values: Mapping[str, float], k: int = 3, always: Sequence[str] = ("Lucknow",)) -> list[str]:
    """Districts worth naming on a map: the ``k`` highest and ``k`` lowest values, plus ``always``.

    Ties are broken by name, so the choice is stable; districts without a value are left out.
    """
    ranked = sorted(((v, n) for n, v in values.items() if v is not None and math.isfinite(v)))
    names = [n for _, n in ranked[-k:]] + [n for _, n in ranked[:k]]
    names += [n for n in always if n in values and values[n] is not None and math.isfinite(values[n])]
    return sorted(dict.fromkeys(names))


@dataclass(frozen=True)
class MapPanel:
    """One map of a figure: values per district and how to colour them."""

    title: str
    values: Mapping[str, float]
    label: str
    cmap: str = "viridis"
    vmin: float | None = None
    vmax: float | None = None
    labels: tuple[str, ...] = ()


def map_figure(panels: Sequence[MapPanel], width_in: float = 4.4) -> Figure:
    """A figure with one map per panel, side by side (``width_in`` [inches] each)."""
    fig = Figure(figsize=(width_in * len(panels), 4.0), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, p in zip(axes, panels, strict=True):
        choropleth(ax, p.values, cmap=p.cmap, vmin=p.vmin, vmax=p.vmax, label=p.label, title=p.title,
                   labels=p.labels)
    return fig
