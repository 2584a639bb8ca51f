"""Per-booking random quantities, drawn once up front and indexed by booking id.

Every dispatch policy then faces the same patience, durations, prices, acceptance and
response draws, cancellations and rating noise: common random numbers.  Each quantity has
its own stream (``sim.seeds``), so adding a draw to one never shifts another.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from sim.catalog import CatalogArrays
from sim.config import Scenario
from sim.seeds import Streams

#: Standard deviation of the rating noise around a worker's quality [stars].
RATING_NOISE_SD = 0.6


@dataclass(frozen=True)
class BookingDraws:
    """Arrays indexed by booking id (``accept_u``/``response`` by booking and offer number)."""

    patience: np.ndarray     # citizen's patience before cancelling [minutes]
    service: np.ndarray      # service duration on site [minutes]
    price: np.ndarray        # price [paise], whole Rs 10
    accept_u: np.ndarray     # uniforms against each offered worker's acceptance probability
    response: np.ndarray     # each offered worker's response delay [minutes]
    cancel_u: np.ndarray     # uniform: cancels after assignment if below the scenario's probability
    cancel_frac: np.ndarray  # ... at this fraction of the travel time
    rate_u: np.ndarray       # uniform: rates the job if below the rating probability
    rate_noise: np.ndarray   # stars added to the worker's quality before rounding

    def take(self, idx: np.ndarray) -> BookingDraws:
        """The draws of the bookings at positions ``idx``: a subset of bookings keeps its own draws."""
        return BookingDraws(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})


def draw_bookings(sc: Scenario, cat: CatalogArrays, category: np.ndarray, streams: Streams) -> BookingDraws:
    """Draw every per-booking quantity for bookings of the given catalog ``category`` indices."""
    n, lc = len(category), sc.lifecycle
    k = lc.max_offers
    patience = streams["patience"].exponential(lc.patience_mean_min, n)
    cv = cat.service_cv[category]
    mean = cat.service_min[category]
    sig2 = np.log1p(cv**2)
    service = mean * np.exp(np.sqrt(sig2) * streams["durations"].standard_normal(n) - sig2 / 2)
    ps2 = np.log1p(lc.price_cv**2)
    raw = cat.price_paise[category] * np.exp(np.sqrt(ps2) * streams["prices"].standard_normal(n) - ps2 / 2)
    price = np.maximum(np.round(raw / 1000.0), 1).astype(np.int64) * 1000  # whole Rs 10
    accept_u = streams["accept"].random((n, k))
    response = streams["accept"].exponential(1.0, (n, k)) * sc.workforce.response_mean_min
    cr = streams["cancels"]
    cancel_u = cr.random(n)
    cancel_frac = cr.random(n)
    rr = streams["ratings"]
    rate_u = rr.random(n)
    rate_noise = rr.normal(0.0, RATING_NOISE_SD, n)
    return BookingDraws(patience, service, price, accept_u, response, cancel_u, cancel_frac, rate_u, rate_noise)
