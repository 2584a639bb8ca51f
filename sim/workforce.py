"""The registered workforce as columnar arrays (one row per worker, ids 0..n-1).

Identities use Faker's Indian-locale name lists, drawn with the run's own "names" stream
(Faker's global generator is never used), so they are reproducible and cheap for 50,000+.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from faker.providers.person.en_IN import Provider as _IndianNames

from sim.catalog import CatalogArrays
from sim.config import Scenario
from sim.geography import District, sample_points
from sim.seeds import Streams

_MALE = tuple(_IndianNames.first_names_male)
_FEMALE = tuple(_IndianNames.first_names_female)
_LAST = tuple(_IndianNames.last_names)
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
    shift_end_h: np.ndarray    # [hour of day, may exceed 24? no: capped at 24]
    accept_prob: np.ndarray    # probability of accepting an offer
    quality: np.ndarray        # true mean service quality [stars]
    names: list[str]
    phones: np.ndarray         # int64, 10-digit mobile numbers

    def __len__(self) -> int:
        return int(self.district_idx.shape[0])

    def has_skill(self, cat: int) -> np.ndarray:
        """Mask of workers with category ``cat`` as main or second skill."""
        return (self.skill1 == cat) | (self.skill2 == cat)

    def frame(self, district_names: list[str], cat_keys: tuple[str, ...]) -> pd.DataFrame:
        """Static columns of ``workers.parquet``."""
        keys = np.array(cat_keys, dtype=object)
        s2 = np.where(self.skill2 >= 0, keys[np.maximum(self.skill2, 0)], "")
        skills = [a if not b else f"{a},{b}" for a, b in zip(keys[self.skill1], s2, strict=True)]
        return pd.DataFrame({
            "worker_id": np.arange(len(self), dtype=np.int64),
            "name": self.names,
            "phone": self.phones.astype(str),
            "district": np.array(district_names, dtype=object)[self.district_idx],
            "skills": skills,
            "primary_skill": keys[self.skill1],
            "active": self.active,
            "lat": self.lat,
            "lon": self.lon,
            "shift_start_h": self.shift_start_h,
            "shift_end_h": self.shift_end_h,
            "accept_prob": self.accept_prob,
        })


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
    n = d_idx.shape[0]

    second = rng.random(n) < wf.second_skill_share
    # A second skill is drawn from the other categories by worker share.
    s2 = rng.choice(n_cat, size=n, p=cat.worker_share)
    s2 = np.where(second & (s2 != skill1), s2, -1)

    lat = np.empty(n)
    lon = np.empty(n)
    for i, d in enumerate(districts):
        m = np.flatnonzero(d_idx == i)
        if m.size:
            lat[m], lon[m], _ = sample_points(d, m.size, rng, sc.geography.urban_sigma_km)

    s_lo, s_hi = wf.shift_start_h
    h_lo, h_hi = wf.shift_hours
    shift_start = rng.integers(s_lo, s_hi + 1, n)
    shift_end = np.minimum(shift_start + rng.integers(h_lo, h_hi + 1, n), 24)
    m, c = wf.accept_prob_mean, wf.accept_prob_concentration
    accept = rng.beta(m * c, (1 - m) * c, n) if m < 1 else np.ones(n)
    quality = np.clip(rng.normal(wf.quality_mean, wf.quality_sd, n), 1.0, 5.0)

    nrng = streams["names"]
    women = np.isin(skill1, [cat.index(k) for k in _MOSTLY_WOMEN if k in cat.keys])
    female = np.where(women, nrng.random(n) < 0.9, nrng.random(n) < 0.15)
    first_m = nrng.integers(0, len(_MALE), n)
    first_f = nrng.integers(0, len(_FEMALE), n)
    last = nrng.integers(0, len(_LAST), n)
    names = [
        f"{_FEMALE[ff] if fe else _MALE[fm]} {_LAST[la]}"
        for fe, fm, ff, la in zip(female, first_m, first_f, last, strict=True)
    ]
    phones = nrng.integers(6_000_000_000, 9_999_999_999, n, dtype=np.int64)
    return Workforce(d_idx, skill1, s2, active, lat, lon, shift_start, shift_end, accept, quality, names, phones)
