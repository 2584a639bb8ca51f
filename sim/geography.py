"""The 75 districts of Uttar Pradesh: census figures, HQ points, polygons, distances.

Data: ``sim/data/up_districts.csv`` and ``up_districts.geojson`` (sources and caveats in
``sim/data/SOURCES.md``: Census 2011 A-1, LGD, Hindustan Times boundaries, GeoNames).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
from numba import njit

EARTH_RADIUS_KM = 6371.0088
#: km per degree of latitude (mean); used only for the planar spatial index.
KM_PER_DEG_LAT = 111.2
#: Reference latitude for the planar projection of UP [degrees] (the state spans 23.9–30.4 N).
REF_LAT = 27.0


class Ring:
    """A district outline: one closed ring of (lon, lat) vertices [degrees].

    ``contains_points`` is the even-odd ray-casting test, vectorised over points and edges
    (the simulation core needs nothing heavier than numpy for it).
    """

    def __init__(self, vertices: np.ndarray) -> None:
        self.vertices = np.asarray(vertices, dtype=np.float64)
        self._x0, self._y0 = self.vertices[:, 0], self.vertices[:, 1]
        self._x1, self._y1 = np.roll(self._x0, -1), np.roll(self._y0, -1)
        #: bounding box [(min lon, min lat), (max lon, max lat)] as floats
        self.lo = tuple(float(v) for v in self.vertices.min(axis=0))
        self.hi = tuple(float(v) for v in self.vertices.max(axis=0))

    def contains_points(self, pts: np.ndarray) -> np.ndarray:
        """Which of the (lon, lat) points lie inside (bool array)."""
        pts = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        return self.contains(np.ascontiguousarray(pts[:, 0]), np.ascontiguousarray(pts[:, 1]))

    def contains(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Which points (contiguous float64 ``lon``, ``lat`` arrays [degrees]) lie inside (bool array)."""
        out = np.empty(lon.shape[0], dtype=bool)
        _ray_cast(lon, lat, self._x0, self._y0, self._x1, self._y1, out)
        return out


@njit(cache=True)
def _ray_cast(px, py, x0, y0, x1, y1, out):  # pragma: no cover - compiled
    """Even-odd rule per point: count edges straddling its latitude that cross east of it.

    Compiled (numba): the sampler calls this thousands of times on a few dozen points, where
    the points × edges numpy version spent its time on temporaries.
    """
    for i in range(px.shape[0]):
        out[i] = _inside(px[i], py[i], x0, y0, x1, y1)


@njit(cache=True)
def _inside(x, y, x0, y0, x1, y1):  # pragma: no cover - compiled
    """Even-odd rule for one point (x, y) against the edges (x0, y0) -> (x1, y1)."""
    inside = False
    for j in range(x0.shape[0]):
        if (y0[j] > y) != (y1[j] > y) and x < x0[j] + (y - y0[j]) * (x1[j] - x0[j]) / (y1[j] - y0[j]):
            inside = not inside
    return inside


@dataclass(frozen=True)
class District:
    """One district.  Population figures are Census 2011 [persons]; area [km²]."""

    name: str
    division: str
    hq_name: str
    hq_lat: float
    hq_lon: float
    population: int
    urban_population: int
    area_km2: float
    polygon: Ring

    @property
    def urban_share(self) -> float:
        """Urban share of the 2011 population (0–1)."""
        return self.urban_population / self.population


@lru_cache(maxsize=1)
def load_districts() -> tuple[District, ...]:
    """All 75 districts, sorted by name (the stable order every table uses)."""
    root = resources.files("sim") / "data"
    with (root / "up_districts.geojson").open("r", encoding="utf-8") as fh:
        shapes = {f["properties"]["district"]: f["geometry"] for f in json.load(fh)["features"]}
    out = []
    with (root / "up_districts.csv").open("r", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            geom = shapes[row["district"]]
            rings = geom["coordinates"] if geom["type"] == "Polygon" else [p[0] for p in geom["coordinates"]]
            # Exterior ring only: the shipped polygons have no holes.
            out.append(District(
                name=row["district"], division=row["division"], hq_name=row["hq_name"],
                hq_lat=float(row["hq_lat"]), hq_lon=float(row["hq_lon"]),
                population=int(row["population_2011"]),
                urban_population=int(row["urban_population_2011"]),
                area_km2=float(row["area_km2"]),
                polygon=Ring(np.asarray(rings[0], dtype=np.float64)),
            ))
    return tuple(sorted(out, key=lambda d: d.name))


def district_names() -> list[str]:
    """Names of all districts, sorted."""
    return [d.name for d in load_districts()]


def district_map() -> dict[str, District]:
    """Districts by name."""
    return {d.name: d for d in load_districts()}


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance [km] between points given in degrees (vectorised)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    # minimum(maximum()) is clip's arithmetic without its Python-level dispatch (one booking at a time)
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(np.maximum(a, 0.0), 1.0)))


def project_km(lat, lon) -> np.ndarray:
    """Planar (x, y) [km] for the spatial index: equirectangular around ``REF_LAT``.

    Distances in this plane are within ±4% of great-circle distances across UP, so index
    queries use a radius inflated by ``INDEX_SLACK`` and are then filtered by haversine.
    """
    x = np.asarray(lon, dtype=np.float64) * KM_PER_DEG_LAT * np.cos(np.radians(REF_LAT))
    y = np.asarray(lat, dtype=np.float64) * KM_PER_DEG_LAT
    return np.column_stack([x, y])


INDEX_SLACK = 1.06


def sample_points(
    district: District, n: int, rng: np.random.Generator, urban_sigma_km: float,
    urban_share: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample ``n`` home locations in a district.

    With probability ``urban_share`` (default: the district's urban population share) a
    point is drawn from a 2-D normal around the HQ (σ = ``urban_sigma_km``), otherwise
    uniformly over the polygon; every point is kept inside the polygon by rejection.

    Returns:
        lat [deg], lon [deg], urban flag (bool) arrays of length ``n``.
    """
    lat, lon, urban = np.empty(n), np.empty(n), np.empty(n, dtype=bool)
    share = district.urban_share if urban_share is None else urban_share
    sample_into(rng, n, share, sampler_geometry(district, urban_sigma_km), district.polygon, lat, lon, urban)
    return lat, lon, urban


#: (HQ lon, lon degrees per sigma, HQ lat, lat degrees per sigma, bounding box lon lo/hi, lat lo/hi)
Geometry = tuple[float, float, float, float, float, float, float, float]


def sampler_geometry(district: District, urban_sigma_km: float) -> Geometry:
    """What ``sample_into`` needs of a district besides its outline (see ``Geometry``)."""
    (lo_x, lo_y), (hi_x, hi_y) = district.polygon.lo, district.polygon.hi
    deg_lat = urban_sigma_km / KM_PER_DEG_LAT
    deg_lon = float(deg_lat / np.cos(np.radians(district.hq_lat)))
    return (district.hq_lon, deg_lon, district.hq_lat, deg_lat, lo_x, hi_x, lo_y, hi_y)


def sample_into(rng: np.random.Generator, n: int, share: float, geo: Geometry, poly: Ring,
                lat: np.ndarray, lon: np.ndarray, urban: np.ndarray) -> None:
    """``sample_points`` into ``lat``, ``lon``, ``urban`` [:n] (the compiled sampler, ``sample_kernel``)."""
    sample_kernel(rng, n, share, geo, poly._x0, poly._y0, poly._x1, poly._y1, lat, lon, urban)


@njit(cache=True)
def sample_kernel(rng, n, share, geo, x0, y0, x1, y1, lat, lon, urban):  # pragma: no cover - compiled
    """``sample_points``' rejection sampler, draws and all, compiled.

    numba's Generator methods take the same draws from the same bit generator as NumPy's; in
    Python each ~8 rejection rounds of a call cost five numpy calls.
    """
    hq_lon, deg_lon, hq_lat, deg_lat, lo_x, hi_x, lo_y, hi_y = geo
    u = rng.random(n) < share
    urban[:n] = u
    todo = np.arange(n)
    m = n
    for _ in range(200):  # the rejection loop runs ~8 times per call
        if m == 0:
            break
        # All four draws every round, in this order (the stream must not depend on who is urban).
        n_lon = rng.standard_normal(m)
        u_lon = rng.uniform(lo_x, hi_x, m)
        n_lat = rng.standard_normal(m)
        u_lat = rng.uniform(lo_y, hi_y, m)
        m = _place_inside(n_lon, u_lon, n_lat, u_lat, hq_lon, deg_lon, hq_lat, deg_lat, x0, y0, x1, y1,
                          todo, u, lat, lon)
    for i in range(m):  # pathological polygon: fall back to the HQ point
        lat[todo[i]] = hq_lat
        lon[todo[i]] = hq_lon


@njit(cache=True)
def _place_inside(n_lon, u_lon, n_lat, u_lat, hq_lon, deg_lon, hq_lat, deg_lat, x0, y0, x1, y1,
                  todo, urban, lat, lon):  # pragma: no cover - compiled
    """One rejection round for the points ``todo[:m]``; returns how many are left.

    Candidates are near the HQ (urban) or uniform in the bounding box; those inside the polygon
    are placed, the rest are packed to the front of ``todo`` (and ``urban``).
    """
    m = n_lon.shape[0]
    left = 0
    for i in range(m):
        if urban[i]:
            x, y = hq_lon + deg_lon * n_lon[i], hq_lat + deg_lat * n_lat[i]
        else:
            x, y = u_lon[i], u_lat[i]
        if _inside(x, y, x0, y0, x1, y1):
            lat[todo[i]] = y
            lon[todo[i]] = x
        else:
            todo[left] = todo[i]
            urban[left] = urban[i]
            left += 1
    return left
