"""A worker's rating as the platform shows it: citizens' stars shrunk towards a prior.

``(prior_mean × prior_weight + sum of stars) / (prior_weight + number of ratings)`` [stars]:
a new worker shows ``prior_mean`` (the workforce's mean quality, ``workforce.quality_mean``),
and each rating moves the figure less once many are in.  The twin (``WorkerState``) and the
reference deployment's candidate query use this one function, so a rating-aware policy ranks
the same workers the same way in both.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

Num = TypeVar("Num", float, np.ndarray)


def rating_with_prior(stars_sum: Num, count: Num, prior_mean: float, prior_weight: float) -> Num:
    """The shown rating [stars] from the sum and number of citizens' ratings (scalars or arrays)."""
    den = prior_weight + count
    if isinstance(den, np.ndarray):
        safe = np.where(den > 0, den, 1.0)
        return np.where(den > 0, (prior_mean * prior_weight + stars_sum) / safe, prior_mean)
    return (prior_mean * prior_weight + stars_sum) / den if den > 0 else prior_mean
