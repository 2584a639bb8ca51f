"""The registered workforce as columnar arrays (one row per worker, ids 0..n-1).

Identities use Faker's Indian-locale name lists, drawn with the run's own "names" stream
(Faker's global generator is never used), so they are reproducible and cheap for 50,000+.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from faker.providers.person.en_IN import Provider as _IndianNames
from numba import njit

from sim.catalog import CatalogArrays
from sim.config import Scenario, WorkforceConfig
from sim.geography import District, Geometry, Ring, sample_kernel, sampler_geometry
from sim.seeds import Streams

_MALE = np.array(_IndianNames.first_names_male, dtype=object)
_FEMALE = np.array(_IndianNames.first_names_female, dtype=object)
_LAST = np.array(_IndianNames.last_names, dtype=object)
#: Categories mostly staffed by women in this market (assumed), for plausible names only.
_MOSTLY_WOMEN = {"beautician", "mehndi", "child_care", "babysitter", "nursing", "caregiver", "salon"}


@dataclass
class Workforce:
    """Registered workers.  Skills: ``skill1`` (main) and ``skill2`` (-1 if none) index the catalog."""

    district_idx: np.ndarray   # int, index into the run's district list
    skill1: np.ndarray         # int
    skill2: np.ndarray         # int, -1 = none
    active: np.ndarray         # bool: takes jobs at all
    lat: np.ndarray            # [deg]
    lon: np.ndarray            # [deg]
    shift_start_h: np.ndarray  # [hour of day]
    shift_end_h: np.ndarray    # [hour of day, at most 24]
    accept_prob: np.ndarray    # probability of accepting an offer
    quality: np.ndarray        # true mean service quality [stars]
    names: list[str]
    phones: np.ndarray         # int64, 10-digit mobile numbers
    registered_min: np.ndarray | None = None  # registration time [minutes]; None = all before the start
    active_until: np.ndarray | None = None    # dormant from [minutes]; None = never (sim.growth)

    def __len__(self) -> int:
        return int(self.district_idx.shape[0])

    def take(self, idx: np.ndarray) -> Workforce:
        """The workers at positions ``idx`` (in that order), renumbered 0..len(idx)-1."""
        cols = {f.name: getattr(self, f.name) for f in fields(self)}
        return Workforce(**{k: v if v is None else [v[i] for i in idx.tolist()] if k == "names" else v[idx]
                            for k, v in cols.items()})

    def has_skill(self, cat: int) -> np.ndarray:
        """Mask of workers with category ``cat`` as main or second skill."""
        return (self.skill1 == cat) | (self.skill2 == cat)

    def available(self, ids: np.ndarray, now_min: float) -> np.ndarray:
        """Mask: registered and not yet dormant at ``now_min`` (all True without growth)."""
        if self.registered_min is None:
            return np.ones(ids.shape, dtype=bool)
        return (self.registered_min[ids] <= now_min) & (now_min < self.active_until[ids])

    def frame(self, district_names: list[str], cat_keys: tuple[str, ...]) -> pd.DataFrame:
        """Static columns of ``workers.parquet``."""
        n_cat = len(cat_keys)
        # Skill pairs as codes into their few labels: one string per label, not per worker.
        pairs = [a if b < 0 else f"{a},{cat_keys[b]}" for a in cat_keys for b in range(-1, n_cat)]
        pair = self.skill1 * (n_cat + 1) + (self.skill2 + 1)
        dated = {} if self.registered_min is None else {
            "registered_min": self.registered_min, "active_until_min": self.active_until}
        return pd.DataFrame({
            "worker_id": np.arange(len(self), dtype=np.int64),
            "name": self.names,
            "phone": self.phones.astype(str),
            "district": _labels(district_names, self.district_idx),
            "skills": _labels(pairs, pair),
            "primary_skill": _labels(cat_keys, self.skill1),
            "active": self.active,
            "lat": self.lat,
            "lon": self.lon,
            "shift_start_h": self.shift_start_h,
            "shift_end_h": self.shift_end_h,
            "accept_prob": self.accept_prob,
            **dated,
        })


def _labels(labels: list[str] | tuple[str, ...], codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """A text column of ``labels[codes]``: the labels in pandas' own text type, taken by code.

    Same values and dtype as a column built from one string object per row, without pandas
    converting every row (half a million workers at 10x).
    """
    return pd.Series(np.asarray(labels, dtype=object)).array.take(np.asarray(codes, dtype=np.int64))


def _district_weights(districts: list[District]) -> np.ndarray:
    pop = np.array([d.population for d in districts], dtype=np.float64)
    return pop / pop.sum()


def build_workforce(sc: Scenario, districts: list[District], cat: CatalogArrays, streams: Streams) -> Workforce:
    """Sample the registered workforce of a scenario.

    Workers are spread over districts by 2011 population and over main skills by the
    catalog's worker shares; ``workforce.active_counts`` replaces the sampled active
    workers of a (district, main skill) cell with exactly that many.
    """
    wf = sc.workforce
    rng = streams["workers"]
    n_cat = len(cat.keys)
    # Registered workers outside the selected districts do not exist in a sub-state run:
    # scale the statewide count by the selected districts' population share.
    from sim.geography import load_districts

    state_pop = sum(d.population for d in load_districts())
    sel_pop = sum(d.population for d in districts)
    n = int(round(wf.registered * sel_pop / state_pop))
    cells = rng.multinomial(n, np.outer(_district_weights(districts), cat.worker_share).ravel())
    cells = cells.reshape(len(districts), n_cat)
    active_cells = rng.binomial(cells, wf.active_share)
    dinfo = {d.name: i for i, d in enumerate(districts)}
    for dname, per_cat in wf.active_counts.items():
        if dname not in dinfo:
            continue
        for ckey, k in per_cat.items():
            if ckey in cat.keys:
                i, j = dinfo[dname], cat.index(ckey)
                active_cells[i, j] = k
                cells[i, j] = max(cells[i, j], k)
    d_idx = np.repeat(np.repeat(np.arange(len(districts)), n_cat), cells.ravel())
    skill1 = np.repeat(np.tile(np.arange(n_cat), len(districts)), cells.ravel())
    active = np.zeros(d_idx.shape[0], dtype=bool)
    start = 0
    for k_reg, k_act in zip(cells.ravel(), active_cells.ravel(), strict=True):
        active[start:start + k_act] = True  # the first k of each cell are the active ones
        start += k_reg
    women = {cat.index(k) for k in _MOSTLY_WOMEN if k in cat.keys}
    # Each cell's workers are drawn straight into the columns (cells in (district, skill) order,
    # like d_idx): no per-block arrays are held until the end.
    f_col = np.empty((len(_F_COLS), d_idx.shape[0]))
    i_col = np.empty((len(_I_COLS), d_idx.shape[0]), dtype=np.int64)
    female = np.empty(d_idx.shape[0], dtype=bool)
    # Generator.choice(n, p=p) is searchsorted(cdf, random(), "right") with this normalised cdf.
    cdf = np.asarray(cat.worker_share, dtype=np.float64).cumsum()
    cdf /= cdf[-1]
    pos = 0
    for i, d in enumerate(districts):
        geo = sampler_geometry(d, sc.geography.urban_sigma_km)
        for j in range(n_cat):
            k = int(cells[i, j])
            if k > 0:
                g = streams.fresh(f"workers/{d.name}/{cat.keys[j]}")
                _cell(g, k, pos, d.urban_share, geo, d.polygon, _draw_params(wf, j in women), cdf, f_col, i_col, female)
                pos += k
    # rows copied out, so the columns that are not kept (names' positions, uniforms) go
    col = {k: v.copy() for k, v in zip(_F_COLS + _I_COLS, [*f_col, *i_col], strict=True)}
    del f_col, i_col
    s2 = np.where((col["u_second"] < wf.second_skill_share) & (col["second"] != skill1), col["second"], -1)
    # Object arrays concatenate element-wise in C: ~10x faster than an f-string per worker.
    first = np.where(female, _FEMALE[col["first_f"]], _MALE[col["first_m"]])
    names = (first + " " + _LAST[col["last"]]).tolist()
    return Workforce(d_idx, skill1, s2.astype(np.int64), active, col["lat"], col["lon"],
                     col["shift_start"], col["shift_end"], col["accept"], col["quality"], names, col["phone"])


#: Workers of a (district, main skill) cell are drawn in blocks of this many from the cell's
#: own stream, so the first k workers of a cell are the same whatever the cell's size: adding
#: workers (a planner search, a what-if) adds people without moving the others.
CHUNK = 64
#: the drawn worker columns: floats and integers (rows of two arrays), plus the bool ``female``
_F_COLS = ("lat", "lon", "u_second", "accept", "quality")
_I_COLS = ("second", "shift_start", "shift_end", "first_m", "first_f", "last", "phone")


def _draw_params(wf: WorkforceConfig, mostly_women: bool) -> tuple:
    """The numbers ``_cell`` draws with (see its arguments)."""
    m, c = wf.accept_prob_mean, wf.accept_prob_concentration
    return (int(wf.shift_start_h[0]), int(wf.shift_start_h[1]) + 1, int(wf.shift_hours[0]), int(wf.shift_hours[1]) + 1,
            m < 1, m * c, (1 - m) * c, float(wf.quality_mean), float(wf.quality_sd), 0.9 if mostly_women else 0.15,
            len(_MALE), len(_FEMALE), len(_LAST))


def _cell(g: np.random.Generator, k: int, pos: int, share: float, geo: Geometry, poly: Ring, params: tuple,
          cdf: np.ndarray, f_col: np.ndarray, i_col: np.ndarray, female: np.ndarray) -> None:
    """Draw the ``k`` workers of one cell from its generator ``g`` into columns ``pos:pos + k``."""
    _cell_blocks(g, k, pos, share, geo, poly._x0, poly._y0, poly._x1, poly._y1, params, cdf, f_col, i_col, female)


@njit(cache=True)
def _cell_blocks(g, k, pos, share, geo, x0, y0, x1, y1, params, cdf, f_col, i_col, female):  # pragma: no cover
    """The cell's blocks of CHUNK workers, compiled (a block cost ~40 numpy calls in Python).

    Each block draws, in the stream's order: homes (``sim.geography.sample_kernel``), shift
    start, second-skill uniform and draw, shift length, acceptance, quality, gender, first
    names, last name, phone; numba's Generator methods take the same draws as NumPy's.
    """
    s_lo, s_hi, h_lo, h_hi, has_beta, beta_a, beta_b, q_mean, q_sd, female_p, n_male, n_female, n_last = params
    lat = np.empty(CHUNK)
    lon = np.empty(CHUNK)
    urban = np.empty(CHUNK, dtype=np.bool_)
    for lo in range(pos, pos + k, CHUNK):
        take = min(CHUNK, pos + k - lo)
        sample_kernel(g, CHUNK, share, geo, x0, y0, x1, y1, lat, lon, urban)
        start = g.integers(s_lo, s_hi, CHUNK)
        u_second = g.random(CHUNK)
        second = np.searchsorted(cdf, g.random(CHUNK), side="right")
        end = np.minimum(start + g.integers(h_lo, h_hi, CHUNK), 24)
        accept = g.beta(beta_a, beta_b, CHUNK) if has_beta else np.ones(CHUNK)
        quality = np.minimum(np.maximum(g.normal(q_mean, q_sd, CHUNK), 1.0), 5.0)  # np.clip's values
        is_female = g.random(CHUNK) < female_p
        first_m = g.integers(0, n_male, CHUNK)
        first_f = g.integers(0, n_female, CHUNK)
        last = g.integers(0, n_last, CHUNK)
        phone = g.integers(6_000_000_000, 9_999_999_999, CHUNK)
        for t in range(take):
            w = lo + t
            f_col[0, w], f_col[1, w], f_col[2, w] = lat[t], lon[t], u_second[t]
            f_col[3, w], f_col[4, w] = accept[t], quality[t]
            i_col[0, w], i_col[1, w], i_col[2, w] = second[t], start[t], end[t]
            i_col[3, w], i_col[4, w], i_col[5, w], i_col[6, w] = first_m[t], first_f[t], last[t], phone[t]
            female[w] = is_female[t]
