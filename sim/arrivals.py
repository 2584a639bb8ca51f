"""The run's bookings in creation order: app and web demand, plus helpline calls' bookings.

With the helpline on, its calls are simulated first (``sim.helpline.engine``); each call that
ends in a booking becomes an arrival at that time, placed like any other booking.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.calendar import Calendar
from sim.config import Scenario
from sim.demand import CHANNELS, Arrivals, DemandModel, merge
from sim.records import Channel
from sim.seeds import Streams

if TYPE_CHECKING:
    from sim.helpline.engine import HelplineResult
    from sim.workforce import Workforce


def build_arrivals(sc: Scenario, demand: DemandModel, cal: Calendar, streams: Streams,
                   wf: Workforce | None = None) -> tuple[Arrivals, HelplineResult | None]:
    """``(arrivals, helpline run or None)`` over the scenario's horizon.

    With ``helpline.arrivals: causes`` every booking comes from one demand and calls from
    their causes (``sim.channels``; worker-caused calls need the workforce ``wf``).
    """
    shares = sc.demand.channel_shares
    hl_on = sc.helpline.enabled and shares.get("helpline", 0) > 0
    if hl_on and sc.helpline.arrivals == "causes" and wf is not None:
        from sim.channels import arrivals_by_channel

        return arrivals_by_channel(sc, demand, cal, streams, wf)
    chans = ("app", "web") if hl_on else CHANNELS
    p = np.array([shares.get(c, 0.0) for c in chans])
    total = p.sum()
    idx = tuple(CHANNELS.index(c) for c in chans)
    own = demand.sample(sc.horizon_min, streams, total, idx,
                        p / total if total > 0 else np.full(len(idx), 1 / len(idx)))
    if not hl_on:
        return own, None
    from sim.helpline.engine import simulate_helpline

    # Calls follow the demand: a sub-state run gets its districts' share, a what-if its scale.
    # The agent schedule is kept as configured (the call centre is statewide).
    factor = demand.state_share * sc.demand.scale
    cfg = sc.helpline.model_copy(update={"calls_per_day": sc.helpline.calls_per_day * factor})
    helpline = simulate_helpline(cfg, streams, sc.horizon_min, cal, calls=sc.output.calls)
    t = np.asarray(helpline.booking_times_min, dtype=np.float64)
    keep = t < sc.horizon_min
    t = t[keep]
    crng = streams["categories"]
    cats = demand.categories_at(t, crng)
    dist = crng.choice(len(demand.districts), size=t.size, p=demand.district_share)
    hl = demand.place(t, cats, dist, np.full(t.size, int(Channel.HELPLINE)), streams)
    hl.call_id = np.asarray(helpline.booking_call_ids, dtype=np.int64)[keep]
    return merge(own, hl), helpline
