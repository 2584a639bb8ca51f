"""What the service may be asked for: districts and bookable categories with their prices.

Both come from the simulation (``sim.geography``, the scenario's catalog), so the twin and
the deployment agree on names and prices.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sim.errors import InputError

#: Bounding box of Uttar Pradesh with a margin [degrees]: (lat_min, lat_max, lon_min, lon_max).
UP_BBOX = (23.5, 31.0, 77.0, 84.9)


@dataclass(frozen=True)
class Reference:
    """Valid districts and enabled categories with their fixed prices [paise]."""

    districts: frozenset[str]
    prices: dict[str, int]
    rating_prior: tuple[float, float]  # (mean [stars], weight [ratings]) for sim.ratings.rating_with_prior

    def check_district(self, district: str, field: str = "district") -> None:
        """Raise ``InputError`` if ``district`` is not one of UP's 75 districts."""
        if district not in self.districts:
            raise InputError(f"{field}: unknown district {district!r}")

    def price(self, category: str, field: str = "category") -> int:
        """Price of one booking of ``category`` [paise]; unknown categories raise ``InputError``."""
        p = self.prices.get(category)
        if p is None:
            raise InputError(f"{field}: unknown or disabled category {category!r}")
        return p


@lru_cache(maxsize=4)
def load_reference(scenario: str = "baseline") -> Reference:
    """Districts from ``sim.geography``; categories and prices from the scenario's catalog."""
    from sim.config import load_scenario
    from sim.geography import district_names

    sc = load_scenario(scenario)
    prices = {k: c.price_paise for k, c in sc.catalog.items() if c.enabled}
    wf = sc.workforce
    return Reference(frozenset(district_names()), prices, (wf.quality_mean, wf.rating_prior_weight))


def in_up(lat: float, lon: float) -> bool:
    """True if the point lies in UP's bounding box (a cheap sanity check, not a polygon test)."""
    return UP_BBOX[0] <= lat <= UP_BBOX[1] and UP_BBOX[2] <= lon <= UP_BBOX[3]
