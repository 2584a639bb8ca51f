"""Booking demand: a non-homogeneous Poisson process per district × category × channel.

The intensity is piecewise constant per hour of simulated time:

    λ(t, d, c) = B·scale/525,600 · share(c) · season(c, month) · hour(h) · weekday(w)
                 · w(d) · surge(t, c, d)                        [bookings per minute]

with hour and weekday profiles normalised to mean 1, seasonal rows to mean 1 and district
weights w(d) ∝ population·(1 + uplift·urban share) summing to 1, so a year holds about
``bookings_per_year·scale`` bookings.  A scenario with a ``growth`` block multiplies this by
the adoption curve A(t) and switches categories and districts on at their rollout dates
(``sim.growth``); the demand of districts not yet on is not served (it is not moved).
Within a district the urban uplift holds too: a booking is urban (near the HQ) with
probability u(1+U)/(u(1+U) + 1 - u) for urban population share u and uplift U, and it
travels at urban speed when within ``geography.urban_radius_km`` of the HQ.
The count over the horizon is Poisson with the integrated intensity, each booking's
(hour, category) cell is drawn in proportion to the cell's expected bookings and its time is
uniform within the hour: exactly the piecewise-constant process (a Poisson count per cell),
at a cost per booking rather than per cell.  District-specific surges are applied by thinning.  Citizens
exist only as booking rows (never created up front).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np

from sim.calendar import MIN_PER_DAY, MIN_PER_HOUR, Calendar
from sim.catalog import CatalogArrays
from sim.config import Scenario
from sim.geography import District, haversine_km, sample_points
from sim.growth import Growth
from sim.seeds import Streams

MIN_PER_YEAR = 365.0 * 1440.0
CHANNELS = ("app", "web", "helpline")


@dataclass
class Arrivals:
    """Bookings in creation order (arrays of equal length)."""

    t_min: np.ndarray
    category: np.ndarray   # index into the catalog arrays
    district: np.ndarray   # index into the run's districts
    channel: np.ndarray    # index into CHANNELS
    lat: np.ndarray
    lon: np.ndarray
    urban: np.ndarray      # bool: job within the urban core (urban travel speed)
    call_id: np.ndarray    # helpline call that created the booking, -1 for app/web

    def __len__(self) -> int:
        return int(self.t_min.shape[0])

    def take(self, idx: np.ndarray) -> Arrivals:
        """The bookings at positions ``idx`` (in that order)."""
        return Arrivals(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})


class _Grid(NamedTuple):
    """A horizon's expected bookings per (hour slot, category) cell (``DemandModel._grid``)."""

    cum: np.ndarray       # cumulative expected bookings over the cells, slot-major [bookings]
    slot_len: np.ndarray  # length of each slot [minutes] (the last may be short)
    cols: np.ndarray      # catalog index of each cell column (categories with demand)
    local: list           # district-specific surges to thin by (``DemandModel._surge``)


class DemandModel:
    """The scenario's booking intensity and samplers."""

    def __init__(self, sc: Scenario, districts: list[District], cat: CatalogArrays) -> None:
        self.sc = sc
        self.districts = districts
        self.cat = cat
        self.cal = Calendar(sc.start_date)
        dm = sc.demand
        hp = np.asarray(dm.hour_profile, dtype=np.float64)
        wp = np.asarray(dm.weekday_profile, dtype=np.float64)
        self.hour = hp / hp.mean()
        self.weekday = wp / wp.mean()
        w = np.array([d.population * (1 + dm.urban_uplift * d.urban_share) for d in districts])
        state_w = self._state_weight_total(dm.urban_uplift)
        # Demand of a sub-state run is its share of the statewide demand.
        self.district_share = w / w.sum()
        #: Share of statewide demand that the selected districts generate.
        self.state_share = float(w.sum() / state_w)
        self.base_per_min = dm.bookings_per_year * dm.scale / MIN_PER_YEAR * self.state_share
        self._w = w
        self.growth = Growth(sc.growth, sc.start_date) if sc.growth is not None else None
        self._grids: dict[tuple[float, float], _Grid] = {}

    @staticmethod
    def _state_weight_total(uplift: float) -> float:
        from sim.geography import load_districts

        return float(sum(d.population * (1 + uplift * d.urban_share) for d in load_districts()))

    # -- intensity -------------------------------------------------------------------
    def _slot_factors(self, n_slots: int) -> tuple[np.ndarray, np.ndarray]:
        """Time factor per hour slot and month index (0-11) per slot."""
        slot = np.arange(n_slots)
        day = slot // 24  # the calendar per day, then per slot: a long run has 24 times fewer days than slots
        day_min = np.arange(int(day[-1]) + 1 if n_slots else 0) * MIN_PER_DAY
        f = self.hour[slot % 24] * self.weekday[self.cal.weekday_of(day_min)[day]]
        if self.growth is not None:
            mid = slot * MIN_PER_HOUR + MIN_PER_HOUR / 2
            names = [d.name for d in self.districts]
            on = self.growth.switched_on(names, "districts", mid)
            f = f * self.growth.adoption(mid) * (on @ self._w) / self._w.sum()
        return f, (self.cal.month_of(day_min) - 1)[day]

    def _categories_on(self, n_slots: int) -> np.ndarray:
        """(slot, category) mask of categories rolled out (all on without a growth block)."""
        if self.growth is None:
            return np.ones((n_slots, len(self.cat.keys)), dtype=bool)
        return self.growth.switched_on(self.cat.keys, "categories", np.arange(n_slots) * MIN_PER_HOUR)

    def _districts(self, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """District of each booking at times ``t``: by demand weight among districts rolled out."""
        if self.growth is None or not any(r.districts for r in self.growth.cfg.rollouts):
            return rng.choice(len(self.districts), size=t.size, p=self.district_share)
        names = [d.name for d in self.districts]
        on = self.growth.switched_on(names, "districts", t)
        out = np.zeros(t.size, dtype=np.int64)
        patterns, inv = np.unique(on, axis=0, return_inverse=True)
        for k, pat in enumerate(patterns):
            m = np.flatnonzero(inv.ravel() == k)
            if not pat.any():  # no district on: these bookings were never drawn (rate 0)
                continue
            p = np.where(pat, self._w, 0.0)
            out[m] = rng.choice(len(self.districts), size=m.size, p=p / p.sum())
        return out

    def _surge(self, n_slots: int) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray, float, np.ndarray]]]:
        """Max surge multiplier per (slot, category) and district-specific surges to thin by."""
        m = np.ones((n_slots, len(self.cat.keys)))
        local = []
        slot_day = np.arange(n_slots) * MIN_PER_HOUR / 1440.0
        names = [d.name for d in self.districts]
        for s in self.sc.demand.surges:
            lo, hi = slot_day.searchsorted([s.start_day, s.end_day])  # the window's slots, in a row
            cats = np.array([self.cat.keys.index(c) for c in s.categories if c in self.cat.keys]
                            if s.categories else np.arange(len(self.cat.keys)), dtype=np.int64)
            if s.districts:
                dmask = np.isin(names, s.districts)
                if not dmask.any():
                    continue
                local.append(((slot_day >= s.start_day) & (slot_day < s.end_day), cats, s.multiplier, dmask))
            if cats.size:
                m[lo:hi, cats] *= s.multiplier if not s.districts else max(s.multiplier, 1.0)
        return m, local

    def rate_per_min(self, t_min: np.ndarray, channel_share: float = 1.0) -> np.ndarray:
        """Expected bookings per minute at times ``t_min`` (all districts and categories).

        District-specific surges count at full strength here (their thinning is per district).
        """
        t = np.asarray(t_min, dtype=np.float64)
        slots = np.floor(t / MIN_PER_HOUR).astype(np.int64)
        n = int(slots.max()) + 1 if slots.size else 1
        f, month = self._slot_factors(n)
        surge, _ = self._surge(n)
        per_cat = self.cat.demand_share[None, :] * self.cat.seasonal[:, month].T * surge * self._categories_on(n)
        return self.base_per_min * channel_share * f[slots] * per_cat[slots].sum(axis=1)

    # -- sampling ----------------------------------------------------------------------
    def _grid(self, horizon_min: float, channel_share: float) -> _Grid:
        """Expected bookings per (hour slot, category) cell over ``[0, horizon_min)``, cumulated.

        Deterministic for a horizon, so kept: a planner samples the same scenario for many
        replications.  Categories without demand are left out (they could draw nothing).
        """
        key = (horizon_min, channel_share)
        got = self._grids.get(key)
        if got is None:
            n_slots = int(np.ceil(horizon_min / MIN_PER_HOUR))
            f, month = self._slot_factors(n_slots)
            surge, local = self._surge(n_slots)
            slot_len = np.minimum(MIN_PER_HOUR, horizon_min - np.arange(n_slots) * MIN_PER_HOUR)
            cols = np.flatnonzero(self.cat.demand_share > 0)
            mean = (self.base_per_min * channel_share * (f * slot_len)[:, None]
                    * self.cat.demand_share[None, cols] * self.cat.seasonal[cols][:, month].T * surge[:, cols]
                    * self._categories_on(n_slots)[:, cols])
            got = self._grids[key] = _Grid(np.cumsum(mean, axis=None), slot_len, cols, local)
        return got

    def sample(self, horizon_min: float, streams: Streams, channel_share: float,
               channels: tuple[int, ...], channel_p: np.ndarray) -> Arrivals:
        """Sample arrivals over ``[0, horizon_min)`` for the given channels."""
        rng = streams["arrivals"]
        cum, slot_len, cols, local = self._grid(horizon_min, channel_share)
        # One Poisson count over the whole grid, then each booking's (slot, category) cell in
        # proportion to its expected bookings: the same process as a Poisson count per cell,
        # at the cost of the bookings rather than of the cells (a rare service over ten years
        # has a million cells and a few hundred bookings).
        total = float(cum[-1]) if cum.size else 0.0
        n = int(rng.poisson(total)) if total > 0 else 0
        cell = np.minimum(np.searchsorted(cum, rng.random(n) * total, side="right"), cum.size - 1)
        slot, col_idx = np.divmod(cell, max(cols.size, 1))
        category = cols[col_idx] if cols.size else col_idx
        t = slot * MIN_PER_HOUR + rng.random(slot.size) * slot_len[slot]
        prng = streams["places"]
        district = self._districts(t, prng)
        keep = np.ones(t.size, dtype=bool)
        for in_win, cats, mult, dmask in local:  # thin district-specific surges
            hit = in_win[slot] & np.isin(category, cats)
            inside = dmask[district]
            u = prng.random(t.size)
            keep &= ~(hit & ~inside & (u >= 1.0 / max(mult, 1.0)))
            keep &= ~(hit & inside & (mult < 1.0) & (u >= mult))
        order = np.lexsort((category, t))
        order = order[keep[order]]
        t, category, district = t[order], category[order], district[order]
        chan = np.asarray(channels, dtype=np.int64)[
            streams["channels"].choice(len(channels), size=t.size, p=channel_p)]
        return self.place(t, category, district, chan, streams)

    def categories_at(self, t_min: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Draw categories for bookings at given times (used for helpline bookings)."""
        month = self.cal.month_of(t_min) - 1
        p = self.cat.demand_share[None, :] * self.cat.seasonal[:, month].T
        if self.growth is not None:
            p = p * self.growth.switched_on(self.cat.keys, "categories", t_min)
        p /= p.sum(axis=1, keepdims=True)
        u = rng.random(len(month))
        return np.minimum((p.cumsum(axis=1) < u[:, None]).sum(axis=1), len(self.cat.keys) - 1)

    def place(self, t: np.ndarray, category: np.ndarray, district: np.ndarray, chan: np.ndarray,
              streams: Streams) -> Arrivals:
        """Attach job locations (sampled in each district) to arrivals."""
        lat = np.empty(t.size)
        lon = np.empty(t.size)
        urban = np.zeros(t.size, dtype=bool)
        rng = streams["locations"]
        geo, uplift = self.sc.geography, self.sc.demand.urban_uplift
        for i, d in enumerate(self.districts):
            m = np.flatnonzero(district == i)
            if m.size:
                u = d.urban_share * (1 + uplift)
                share = u / (u + 1 - d.urban_share)
                lat[m], lon[m], _ = sample_points(d, m.size, rng, geo.urban_sigma_km, urban_share=share)
                urban[m] = haversine_km(lat[m], lon[m], d.hq_lat, d.hq_lon) <= geo.urban_radius_km
        return Arrivals(t, category.astype(np.int64), district.astype(np.int64), chan, lat, lon, urban,
                        np.full(t.size, -1, dtype=np.int64))


def merge(a: Arrivals, b: Arrivals) -> Arrivals:
    """Two arrival sets in one creation order (ties by channel, then category)."""
    cols = {k: np.concatenate([getattr(a, k), getattr(b, k)]) for k in Arrivals.__dataclass_fields__}
    order = np.lexsort((cols["category"], cols["channel"], cols["t_min"]))
    return Arrivals(**{k: v[order] for k, v in cols.items()})
