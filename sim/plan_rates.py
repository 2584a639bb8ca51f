"""Expected demand behind a plan's cells: a district's share and a category's bookings a year."""

from __future__ import annotations

from sim.config import Scenario
from sim.geography import load_districts


def district_share(sc: Scenario, district: str) -> float:
    """The district's share of statewide demand weight (population × urban uplift)."""
    u = sc.demand.urban_uplift
    w = {d.name: d.population * (1 + u * d.urban_share) for d in load_districts()}
    return w[district] / sum(w.values())


def rate_per_year(sc: Scenario, district: str, category: str) -> float:
    """Expected bookings a year of an enabled category in a district (0 if not bookable)."""
    enabled = {k: c for k, c in sc.catalog.items() if c.enabled}
    if category not in enabled:
        return 0.0
    w = enabled[category].demand_weight / sum(c.demand_weight for c in enabled.values())
    return sc.demand.bookings_per_year * sc.demand.scale * district_share(sc, district) * w
