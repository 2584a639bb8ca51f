"""Service categories: the validated per-category block and array views the model uses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import Field

from sim.schema import StrictModel

MONTHS = 12


class CategoryConfig(StrictModel):
    """One bookable service.

    Attributes:
        label: display name.
        price_paise: typical ticket [paise] (per-booking prices vary around it).
        service_min: mean time on site [minutes].
        service_cv: coefficient of variation of time on site (lognormal; 0 = fixed).
        demand_weight: relative share of bookings (normalised over enabled categories).
        worker_share: relative share of registered workers whose main skill this is.
        seasonal: 12 monthly demand multipliers, Jan…Dec (normalised to mean 1).
        enabled: bookable in this scenario (new services start disabled in the baseline).
    """

    label: str
    price_paise: int = Field(gt=0, le=10_000_000)
    service_min: float = Field(gt=0, le=24 * 60)
    service_cv: float = Field(0.5, ge=0, le=3)
    demand_weight: float = Field(ge=0)
    worker_share: float = Field(ge=0)
    seasonal: tuple[float, ...] = Field((1.0,) * MONTHS, min_length=MONTHS, max_length=MONTHS)
    enabled: bool = True


@dataclass(frozen=True)
class CatalogArrays:
    """Enabled categories as parallel arrays, in the scenario's key order."""

    keys: tuple[str, ...]
    price_paise: np.ndarray
    service_min: np.ndarray
    service_cv: np.ndarray
    demand_share: np.ndarray
    worker_share: np.ndarray
    seasonal: np.ndarray  # (n_categories, 12), mean 1 per row

    def index(self, key: str) -> int:
        """Position of a category key."""
        return self.keys.index(key)


def catalog_arrays(categories: dict[str, CategoryConfig]) -> CatalogArrays:
    """Array view of the enabled categories (weights normalised to sum 1)."""
    keys = tuple(k for k, c in categories.items() if c.enabled)
    cats = [categories[k] for k in keys]
    dw = np.array([c.demand_weight for c in cats], dtype=np.float64)
    ws = np.array([c.worker_share for c in cats], dtype=np.float64)
    seas = np.array([c.seasonal for c in cats], dtype=np.float64).reshape(len(cats), MONTHS)
    seas = seas / seas.mean(axis=1, keepdims=True)
    return CatalogArrays(
        keys=keys,
        price_paise=np.array([c.price_paise for c in cats], dtype=np.int64),
        service_min=np.array([c.service_min for c in cats], dtype=np.float64),
        service_cv=np.array([c.service_cv for c in cats], dtype=np.float64),
        demand_share=dw / dw.sum(),
        worker_share=ws / ws.sum(),
        seasonal=seas,
    )
