"""The SimPy booking lifecycle of Sewa Mitra.

request → dispatch (policy) → offer(s) → accept / decline / time-out → re-dispatch …
→ travel → service → completion → payment → rating.  Citizens cancel when they have
waited longer than their patience; a booking the platform cannot place within
``max_search_min`` or ``max_offers`` ends unfulfilled.  Each booking ends in exactly one
terminal state and a worker is reserved by at most one offer or job at a time.

Random quantities of each booking (patience, durations, price, acceptance uniforms,
response delays, rating noise) are drawn up front and indexed by booking id, so every
dispatch policy faces the same demand and the same behaviour (common random numbers).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import simpy

from sim.arrivals import build_arrivals
from sim.calendar import Calendar
from sim.catalog import catalog_arrays
from sim.config import Scenario
from sim.demand import Arrivals, DemandModel
from sim.draws import BookingDraws, draw_bookings
from sim.geography import District, district_map, haversine_km
from sim.helpline.engine import call_table
from sim.policies import JobRequest, make_policy
from sim.records import BookingRecords, LifecycleListener, OfferLog, Outcome, Status, Winner
from sim.seeds import Streams
from sim.spool import Spool
from sim.worker_index import WorkerIndex, WorkerState
from sim.workforce import Workforce, build_workforce


class Model:
    """One replication of a scenario: owns the SimPy environment and all run state."""

    def __init__(self, sc: Scenario, streams: Streams, arrivals: Arrivals | None = None,
                 workforce: Workforce | None = None, draws: BookingDraws | None = None,
                 spool: Spool | None = None, demand: DemandModel | None = None) -> None:
        """Build a run; ``arrivals``/``workforce``/``draws`` replace the sampled ones.

        (Hand-made test cases; the planner reruns a subset of a run's bookings with their own draws.)
        ``spool``: where the per-call helpline table is written a row group at a time (``calls``
        is then a ``SpooledTable``); None keeps it in memory.  ``demand``: this scenario's demand
        model, shared by runs that sample it again (it keeps its intensity grids).
        """
        self.sc = sc
        self.streams = streams
        self.env = simpy.Environment()
        self.cal = Calendar(sc.start_date)
        dmap = district_map()
        self.districts: list[District] = [dmap[n] for n in sc.geography.selected()]
        self.cat = catalog_arrays(sc.catalog)
        self.wf = workforce if workforce is not None else self._workforce()
        # New workers show the workforce's mean quality until citizens' ratings come in.
        self.state = WorkerState(len(self.wf), sc.workforce.quality_mean, sc.workforce.rating_prior_weight)
        if self.wf.registered_min is not None:  # a growing platform (sim.growth)
            from sim.growth import hold_unavailable

            hold_unavailable(self.wf, self.state.busy)
        self.index = WorkerIndex(self.wf, self.cat.keys, self.state)
        act = self.wf.active
        # Daily service window [minutes of day]: from the earliest shift start to the latest end.
        self._open_min = ((float(self.wf.shift_start_h[act].min()) * 60.0, float(self.wf.shift_end_h[act].max()) * 60.0)
                          if act.any() else (0.0, 1440.0))
        self.policy = make_policy(sc.dispatch.policy, sc.dispatch.params)
        self.policy.bind(streams["choices"])
        self.demand = demand if demand is not None else DemandModel(sc, self.districts, self.cat)
        if arrivals is None:
            self.arrivals, self.helpline = build_arrivals(sc, self.demand, self.cal, streams, self.wf)
        else:
            self.arrivals, self.helpline = arrivals, None
        #: the per-call helpline table (None without the helpline), made before the lifecycle runs
        self.calls = None if self.helpline is None else call_table(self.helpline, self.arrivals.call_id, spool)
        self.draws = draws if draws is not None else draw_bookings(sc, self.cat, self.arrivals.category, streams)
        self.index.plan(self.arrivals.category, self.arrivals.lat, self.arrivals.lon, self.policy.radius_km,
                        self.policy.nearest_needed if self.policy.batch_window_min <= 0 else None)
        self.rec = BookingRecords(len(self.arrivals))
        self.offers = OfferLog()
        self.wake = [self.env.event() for _ in self.cat.keys]
        self._batch: list[tuple[JobRequest, simpy.Event]] = []
        self.money = None
        if sc.money.enabled:
            from sim.money import Money

            self.money = Money(sc.money, self.env, streams, len(self.wf), self.wf.district_idx,
                               [d.name for d in self.districts], n_bookings=len(self.arrivals))
        #: told of every booking's lifecycle (the money model, when enabled)
        self.listeners: list[LifecycleListener] = [self.money] if self.money is not None else []

    def _workforce(self) -> Workforce:
        sc = self.sc
        if sc.growth is None:
            return build_workforce(sc, self.districts, self.cat, self.streams)
        from sim.growth import Growth, date_workforce

        # A growing platform: the workforce is everyone registered by the horizon, each dated.
        g = Growth(sc.growth, sc.start_date)
        total = g.registered_total(sc.horizon_min)
        sized = sc.model_copy(update={"workforce": sc.workforce.model_copy(update={"registered": total})})
        wf = build_workforce(sized, self.districts, self.cat, self.streams)
        date_workforce(wf, g, self.streams["registrations"], total)
        return wf

    # -- processes ---------------------------------------------------------------------
    def start(self) -> None:
        """Schedule every booking (called once, before ``env.run``)."""
        self.env.process(self._source())
        if self.wf.registered_min is not None:
            from sim.growth import availability

            self.env.process(availability(self.env, self.wf, self.state.busy))
        for listener in self.listeners:
            listener.start()

    def run(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Run to the horizon, then drain: no new arrivals, open bookings run to their end.

        ``progress(days_done, days_total)`` is called after each simulated day.
        """
        sc, env = self.sc, self.env
        self.start()
        if progress is None:  # one call: a stop a day costs more than a rare service's bookings
            env.run(until=sc.horizon_min)
        else:
            days = int(np.ceil(sc.horizon_days))
            for d in range(1, days + 1):
                env.run(until=min(d * 1440.0, sc.horizon_min))
                progress(d, days)
        end = sc.horizon_min + sc.lifecycle.drain_days * 1440.0
        while (self.rec.status == Status.OPEN).any() and env.now < end:
            env.run(until=min(env.now + 60.0, end))

    def _next_open(self, t: float) -> float:
        """``t`` if some worker can be on shift then, else the next daily opening [minutes]."""
        open_min, close_min = self._open_min
        day, minute = divmod(t, 1440.0)
        if open_min <= minute < close_min:
            return t
        return (day + (minute >= close_min)) * 1440.0 + open_min

    def _source(self):
        env, arr = self.env, self.arrivals
        for b in range(len(arr)):
            t = arr.t_min[b]
            if t > env.now:
                yield env.timeout(t - env.now)
            env.process(self._booking(b))

    def _job(self, b: int, excluded: frozenset[int]) -> JobRequest:
        a = self.arrivals
        return JobRequest(b, self.cat.keys[a.category[b]], self.districts[a.district[b]].name,
                          float(a.lat[b]), float(a.lon[b]), float(a.t_min[b]), excluded)

    def _decide(self, job: JobRequest):
        """Offers for a job now (immediate policies) or at the next batch (batching ones)."""
        window = self.policy.batch_window_min
        if window <= 0:
            cands = self.index.candidates(job, self.policy.radius_km, self.env.now, self.policy.nearest_needed)
            return self.policy.choose(job, cands, self.env.now)
        ev = self.env.event()
        if not self._batch:
            self.env.process(self._flush_batch(window))
        self._batch.append((job, ev))
        offers = yield ev
        return offers

    def _flush_batch(self, window: float):
        now = self.env.now
        yield self.env.timeout(np.ceil(now / window + 1e-9) * window - now)
        batch, self._batch = self._batch, []
        jobs = [j for j, _ in batch]
        cands = [self.index.candidates(j, self.policy.radius_km, self.env.now) for j in jobs]
        decided = self.policy.choose_batch(jobs, cands, self.env.now)
        seen: set[int] = set()
        for (_, ev), offer in zip(batch, decided, strict=True):
            clash = seen.intersection(offer)
            if clash:
                raise RuntimeError(f"policy {self.policy.name} offered workers {sorted(clash)} twice")
            seen.update(offer)
            ev.succeed(offer)

    def _release(self, w: int) -> None:
        until = self.wf.active_until
        self.state.busy[w] = until is not None and self.env.now >= until[w]  # dormant now: stays reserved
        self.state.idle_since[w] = self.env.now
        for c in (self.wf.skill1[w], self.wf.skill2[w]):
            # An event nobody waits on is kept, not fired: firing it would only schedule a no-op
            # (an event id skipped leaves the order of all other events as it was).
            if c >= 0 and self.wake[c].callbacks:
                ev, self.wake[c] = self.wake[c], self.env.event()
                ev.succeed()

    def _booking(self, b: int):
        env, lc, rec = self.env, self.sc.lifecycle, self.rec
        created = env.now
        cat = int(self.arrivals.category[b])
        # A booking made while no worker is on shift is served from the next opening, so
        # both the citizen's patience and the platform's search clock start then.
        clock0 = self._next_open(created)
        give_up = clock0 + self.draws.patience[b]
        platform_end = clock0 + lc.max_search_min
        for listener in self.listeners:
            listener.on_booking_created(b, b, self.cat.keys[cat], int(self.draws.price[b]), created)
        excluded: set[int] = set()
        job = self._job(b, frozenset())  # rebuilt when a round of offers adds exclusions
        k = 0  # offers made so far
        winner = Winner.NONE
        while winner < 0:
            now = env.now
            if now >= give_up or now >= platform_end or k >= lc.max_offers:
                # The citizen's patience ran out first, or the platform gave up.
                self._finish(b, Status.CANCELLED if now >= give_up else Status.UNFULFILLED)
                return
            if len(job.excluded) != len(excluded):
                job = self._job(b, frozenset(excluded))
            offers = yield from self._decide(job)
            offers = offers[: lc.max_offers - k]
            if not offers:
                yield env.timeout(self._retry_wait(cat, now, min(give_up, platform_end))) | self.wake[cat]
                continue
            winner = yield from self._offer(b, offers, k, give_up)
            k += len(offers)
            rec.offers[b] = k
            if winner == Winner.CANCELLED:  # the citizen gave up while the offer was out
                self._finish(b, Status.CANCELLED)
                return
            excluded.update(w for w in offers if w != winner)
        yield from self._serve(b, winner)

    def _retry_wait(self, cat: int, now: float, end: float) -> float:
        """Minutes until a booking without offers searches again (a worker freed up wakes it sooner).

        Retries come every ``lifecycle.retry_interval_min``; those falling in hours when no
        worker of the category is on shift are skipped: they would find nobody (night-time
        retries were about a sixth of a planning run's events).  A worker of the category
        coming on shift before the next retry is searched for then, as the live service's
        status update offers it the waiting bookings.  Never past ``end`` [minutes].
        """
        step = self.sc.lifecycle.retry_interval_min
        wait = step
        while now + wait < end and not self.index.staffed(cat, now + wait):
            wait += step
        return min(wait, self.index.next_shift_start(cat, now) - now, end - now)

    def _offer(self, b: int, offers: list[int], k0: int, give_up: float):
        """Offer to one or more workers at once; the first to accept wins.

        Returns the winning worker, ``Winner.NONE`` if all declined or timed out,
        ``Winner.CANCELLED`` if the citizen cancelled while the offers were out.
        """
        env, st, to = self.env, self.state, self.sc.lifecycle.accept_timeout_min
        t0 = env.now
        for w in offers:
            if st.busy[w]:
                raise RuntimeError(f"worker {w} offered booking {b} while busy")
            st.busy[w] = True
        # Scalar Python over the few offers (numpy calls on 1-3 items cost more than the work).
        n = len(offers)
        delay = self.draws.response[b, k0:k0 + n].tolist()
        u = self.draws.accept_u[b, k0:k0 + n].tolist()
        prob = self.wf.accept_prob
        # the earliest acceptance in time wins; ties go to the earlier offer
        accepted = [(delay[i], i) for i in range(n) if u[i] < prob[offers[i]] and delay[i] <= to]
        if accepted:
            span, j = min(accepted)
            winner = offers[j]
        else:
            span, winner = max(min(d, to) for d in delay), Winner.NONE
        if t0 + span > give_up:  # citizen cancels before an answer arrives
            yield env.timeout(max(give_up - t0, 0.0))
            for w in offers:
                self.offers.add(b, w, t0, env.now, Outcome.WITHDRAWN)
                self._release(w)
            return Winner.CANCELLED
        yield env.timeout(span)
        for i, w in enumerate(offers):
            if w == winner:
                outcome = Outcome.ACCEPTED
            elif winner >= 0 and delay[i] >= span:
                outcome = Outcome.WITHDRAWN  # someone else accepted first
            else:
                outcome = Outcome.DECLINED if delay[i] <= to else Outcome.TIMEOUT
            self.offers.add(b, w, t0, t0 + min(delay[i], span, to), outcome)
            if w != winner:
                self._release(w)
        return winner

    def _finish(self, b: int, status: Status, w: int = -1) -> None:
        """End booking ``b`` (``w``: the worker who completed it) and tell the listeners."""
        now = self.env.now
        self.rec.status[b] = status
        self.rec.ended[b] = now
        for listener in self.listeners:
            if status == Status.COMPLETED:
                listener.on_booking_completed(b, w, now)
            elif status == Status.CANCELLED:
                listener.on_booking_cancelled(b, now, "citizen")
            else:
                listener.on_booking_unfulfilled(b, now)

    def _serve(self, b: int, w: int):
        env, rec, sc, a = self.env, self.rec, self.sc, self.arrivals
        assigned = env.now
        rec.worker[b] = w
        rec.assigned[b] = assigned
        for listener in self.listeners:
            listener.on_booking_assigned(b, w, assigned)
        geo = sc.geography
        km = float(haversine_km(a.lat[b], a.lon[b], self.wf.lat[w], self.wf.lon[w])) * geo.road_factor
        rec.travel_km[b] = km
        speed = geo.speed_kmh_urban if a.urban[b] else geo.speed_kmh_rural
        travel = km / speed * 60.0
        dr = self.draws
        if dr.cancel_u[b] < sc.lifecycle.cancel_after_assign_prob:
            yield env.timeout(dr.cancel_frac[b] * travel)
            self.state.busy_min[w] += env.now - assigned
            self._release(w)
            self._finish(b, Status.CANCELLED)
            return
        yield env.timeout(travel)
        rec.started[b] = env.now
        yield env.timeout(dr.service[b])
        now = env.now
        rec.completed[b] = now
        st = self.state
        st.busy_min[w] += now - assigned
        st.jobs[w] += 1
        st.gross_paise[w] += dr.price[b]
        if dr.rate_u[b] < sc.lifecycle.rating_prob:
            stars = float(min(max(round(float(self.wf.quality[w] + dr.rate_noise[b])), 1), 5))  # half to even
            rec.rating[b] = stars
            st.add_rating(w, stars)
        self._finish(b, Status.COMPLETED, w)
        self._release(w)

