"""Helpline calls from their causes (``helpline.arrivals: causes``).

Every fresh call has a cause, with its own rate (``helpline.causes``, ``CallCauses``):

- **booking calls** (type ``new_booking``): the helpline channel's share of the one booking
  demand — one call per booking attempt, at the attempt's time (``sim.channels``);
- **follow-ups and complaints** (``booking_status``, ``complaint``): Poisson numbers per
  booking attempt, a day or so later (exponential delay), at an hour drawn from the
  helpline's hour profile;
- **worker calls**: registration help (``worker_registration``) per new registration,
  within weeks of it; job enquiries (typed ``other``) per registered worker-month;
- **information calls** (typed ``other``): a rate per day that grows with citizens'
  adoption of the platform (``sim.growth``).

The published ~97 calls per booking (D1) is not an input anywhere: it is what these rates
add up to, and the history calibration fits the rates to the cumulative call count.
"""

from __future__ import annotations

import numpy as np

from sim.calendar import MIN_PER_DAY, MIN_PER_HOUR, Calendar
from sim.helpline.config import CALL_TYPES, CallCauses, HelplineConfig

MIN_PER_MONTH = 30.4375 * MIN_PER_DAY
NEW_BOOKING, STATUS, COMPLAINT, REGISTRATION, OTHER = (CALL_TYPES.index(t) for t in CALL_TYPES)
#: Mean delay from registration to a registration-help call [days] (assumed).
REGISTRATION_CALL_DELAY_DAYS = 7.0


def expected_calls_per_hour(causes: CallCauses, bookings_per_hour: float, helpline_share: float,
                            registrations_per_hour: float, registered_workers: float,
                            adoption: float = 1.0) -> dict[str, float]:
    """Expected fresh calls per hour by type, from their causes (before redials).

    Args:
        causes: the scenario's ``helpline.causes``.
        bookings_per_hour: booking attempts per hour over all channels (the one demand).
        helpline_share: share of attempts made through the helpline (``demand.channel_shares``).
        registrations_per_hour: new worker registrations per hour.
        registered_workers: workers registered at that time.
        adoption: citizens' adoption factor (1 on the growth block's reference date).

    Returns:
        ``{call type: calls per hour}`` over ``CALL_TYPES``.  Follow-ups and complaints lag
        their bookings by about a day, so this is the steady-state rate.  The planner
        (issue 14) derives agents from a demand change with it: scale ``bookings_per_hour``
        and read the booking-related rows.
    """
    return {
        "new_booking": bookings_per_hour * helpline_share,
        "booking_status": bookings_per_hour * causes.followups_per_booking,
        "complaint": bookings_per_hour * causes.complaints_per_booking,
        "worker_registration": registrations_per_hour * causes.registration_calls_per_worker,
        "other": registered_workers * causes.enquiries_per_worker_month * MIN_PER_HOUR / MIN_PER_MONTH
        + causes.info_calls_per_day / 24.0 * adoption,
    }


def _hour_shape(cfg: HelplineConfig, cal: Calendar, hours: int) -> np.ndarray:
    """Hour x weekday x month shape of calls, each profile with mean 1 (one value per hour)."""
    t = np.arange(hours) * MIN_PER_HOUR
    hp = np.asarray(cfg.hour_profile) / np.mean(cfg.hour_profile)
    wp = np.asarray(cfg.weekday_profile) / np.mean(cfg.weekday_profile)
    mp = np.asarray(cfg.month_profile) / np.mean(cfg.month_profile)
    return hp[cal.hour_of(t)] * wp[cal.weekday_of(t)] * mp[cal.month_of(t) - 1]


def _poisson_times(rate_per_hour: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A non-homogeneous Poisson process, piecewise constant per hour [minutes]."""
    counts = rng.poisson(np.maximum(rate_per_hour, 0.0))
    starts = np.repeat(np.arange(rate_per_hour.size) * MIN_PER_HOUR, counts)
    return starts + MIN_PER_HOUR * rng.random(starts.size)


def _at_calling_hour(t: np.ndarray, cfg: HelplineConfig, rng: np.random.Generator) -> np.ndarray:
    """Move each time to its own day, at an hour drawn from the helpline hour profile."""
    hp = np.asarray(cfg.hour_profile, dtype=np.float64)
    hour = rng.choice(24, size=t.size, p=hp / hp.sum())
    return np.floor(t / MIN_PER_DAY) * MIN_PER_DAY + (hour + rng.random(t.size)) * MIN_PER_HOUR


def _repeat_after(t0: np.ndarray, per_event: float, delay_mean_min: float, cfg: HelplineConfig,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Poisson(``per_event``) calls after each event time (exponential delay); (times, event index)."""
    k = rng.poisson(per_event, t0.size)
    src = np.repeat(np.arange(t0.size), k)
    t = t0[src] + rng.exponential(delay_mean_min, src.size)
    return _at_calling_hour(t, cfg, rng), src


def cause_calls(cfg: HelplineConfig, cal: Calendar, horizon_min: float, rng: np.random.Generator,
                booking_t: np.ndarray, registration_t: np.ndarray, registered_per_hour: np.ndarray,
                adoption_per_hour: np.ndarray, info_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Fresh calls of every cause except booking calls: (times [minutes], type codes), unsorted.

    Args:
        cfg: the helpline block (its ``causes`` and hour/weekday/month profiles).
        cal: the run's calendar.
        horizon_min: calls at or after it are dropped [minutes].
        rng: the ``helpline_causes`` stream.
        booking_t: times of all booking attempts (every channel) [minutes].
        registration_t: registration times of the run's workers [minutes].
        registered_per_hour: registered workers in each hour of the horizon.
        adoption_per_hour: adoption factor in each hour (1 without growth).
        info_scale: share of statewide information calls this run gets (sub-state runs).
    """
    c = cfg.causes
    hours = registered_per_hour.size
    shape = _hour_shape(cfg, cal, hours)
    delay = c.followup_delay_mean_h * MIN_PER_HOUR
    parts = [
        (_repeat_after(booking_t, c.followups_per_booking, delay, cfg, rng)[0], STATUS),
        (_repeat_after(booking_t, c.complaints_per_booking, delay, cfg, rng)[0], COMPLAINT),
        (_repeat_after(registration_t, c.registration_calls_per_worker,
                       REGISTRATION_CALL_DELAY_DAYS * MIN_PER_DAY, cfg, rng)[0], REGISTRATION),
        (_poisson_times(shape * (registered_per_hour * c.enquiries_per_worker_month * MIN_PER_HOUR / MIN_PER_MONTH
                                 + c.info_calls_per_day / 24.0 * info_scale * adoption_per_hour), rng), OTHER),
    ]
    t = np.concatenate([p[0] for p in parts])
    ty = np.concatenate([np.full(p[0].size, p[1], dtype=np.int8) for p in parts])
    keep = (t >= 0) & (t < horizon_min)
    return t[keep], ty[keep]
