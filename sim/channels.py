"""One booking demand, channels assigned afterwards; the helpline in between (``arrivals: causes``).

Every booking attempt comes from the one demand process of ``sim.demand`` (trend, seasons,
surges and festivals move all channels alike); each attempt then picks its channel with
``demand.channel_shares``.  App and web attempts are bookings at once.  A helpline attempt
is a ``new_booking`` call into the queue (with every other call of ``sim.helpline.causes``):
answered, it becomes a booking when the call ends; a caller who abandons redials
(``helpline.redial_prob``), and one who gives up for good switches to the app with
``causes.switch_to_app_prob`` (after an exponential delay) or is lost.  So helpline
bookings follow demand while the helpline keeps up, and fall when it is overloaded.
"""

from __future__ import annotations

import numpy as np

from sim.calendar import MIN_PER_HOUR, Calendar
from sim.config import Scenario
from sim.demand import CHANNELS, Arrivals, DemandModel, merge
from sim.helpline.causes import NEW_BOOKING, cause_calls
from sim.helpline.engine import HelplineResult, simulate_helpline
from sim.seeds import Streams
from sim.workforce import Workforce

APP, HELPLINE = CHANNELS.index("app"), CHANNELS.index("helpline")


def take(a: Arrivals, idx: np.ndarray) -> Arrivals:
    """The arrivals at positions ``idx`` (in that order)."""
    return Arrivals(**{k: getattr(a, k)[idx] for k in Arrivals.__dataclass_fields__})


def _registered_per_hour(sc: Scenario, wf: Workforce, streams: Streams, hours: int) -> tuple[np.ndarray, np.ndarray]:
    """(registration times of the run's workers [minutes], registered workers in each hour)."""
    if wf.registered_min is not None:
        reg = np.sort(wf.registered_min)
        return reg, np.searchsorted(reg, np.arange(hours) * MIN_PER_HOUR + MIN_PER_HOUR / 2).astype(np.float64)
    # Steady state: registrations at a constant rate, the sub-state run getting its population share.
    rate = sc.helpline.causes.registrations_per_day * len(wf) / max(sc.workforce.registered, 1)
    rng = streams["registrations"]
    reg = np.sort(rng.random(rng.poisson(rate * sc.horizon_days)) * sc.horizon_min)
    return reg, np.full(hours, float(len(wf)))


def arrivals_by_channel(sc: Scenario, demand: DemandModel, cal: Calendar, streams: Streams,
                        wf: Workforce) -> tuple[Arrivals, HelplineResult]:
    """Bookings of every channel and the helpline run that produced the helpline ones."""
    horizon = sc.horizon_min
    shares = sc.demand.channel_shares
    p = np.array([shares.get(c, 0.0) for c in CHANNELS])
    attempts = demand.sample(horizon, streams, 1.0, tuple(range(len(CHANNELS))), p / p.sum())
    hours = max(1, int(np.ceil(horizon / MIN_PER_HOUR)))
    reg_t, registered = _registered_per_hour(sc, wf, streams, hours)
    growth = demand.growth
    adoption = np.ones(hours) if growth is None else growth.adoption(np.arange(hours) * MIN_PER_HOUR + 30.0)
    cfg = sc.helpline.model_copy(update={"booking_conversion": 1.0})  # an answered booking call books
    t_other, ty_other = cause_calls(cfg, cal, horizon, streams["helpline_causes"], attempts.t_min, reg_t,
                                    registered, adoption, demand.state_share)
    hl = np.flatnonzero(attempts.channel == HELPLINE)
    t = np.concatenate([attempts.t_min[hl], t_other])
    ty = np.concatenate([np.full(hl.size, NEW_BOOKING, dtype=np.int8), ty_other])
    attempt_of = np.concatenate([hl, np.full(t_other.size, -1, dtype=np.int64)])
    order = np.lexsort((ty, t))
    res = simulate_helpline(cfg, streams, horizon, cal, calls=sc.output.calls, fresh=(t[order], ty[order]))
    attempt_of = attempt_of[order]
    booked = attempt_of[res.booking_fresh]
    by_phone = take(attempts, booked)
    by_phone.t_min = np.asarray(res.booking_times_min, dtype=np.float64)
    by_phone.call_id = np.asarray(res.booking_call_ids, dtype=np.int64)
    keep = by_phone.t_min < horizon
    by_phone = take(by_phone, np.flatnonzero(keep))
    # Callers who never got through: some book in the app instead, the rest are lost.
    failed = np.setdiff1d(hl, booked)
    srng = streams["channel_switch"]
    c = sc.helpline.causes
    switch = failed[srng.random(failed.size) < c.switch_to_app_prob]
    to_app = take(attempts, switch)
    to_app.t_min = to_app.t_min + srng.exponential(c.switch_delay_mean_min, switch.size)
    to_app.channel = np.full(switch.size, APP, dtype=to_app.channel.dtype)
    to_app = take(to_app, np.flatnonzero(to_app.t_min < horizon))
    direct = take(attempts, np.flatnonzero(attempts.channel != HELPLINE))
    res.summary["booking_attempts"] = int(hl.size)
    res.summary["attempts_lost"] = int(failed.size - switch.size)
    res.summary["attempts_to_app"] = int(switch.size)
    return merge(merge(direct, by_phone), to_app), res
