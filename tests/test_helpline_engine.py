"""The FCFS call engine: identical to a bare SimPy model, and exact on hand-made cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy

from sim.helpline.queue import Redials, Shifts, serve_constant, serve_shifts


def simpy_waits(arrive, handle, patience, agents):
    """Reference event-driven model: Resource request raced against patience."""
    env = simpy.Environment()
    desk = simpy.Resource(env, capacity=agents)
    wait = np.full(len(arrive), np.nan)
    served = np.zeros(len(arrive), dtype=bool)

    def call(i):
        yield env.timeout(arrive[i] - env.now)
        t0 = env.now
        req = desk.request()
        got = yield req | env.timeout(patience[i])
        wait[i] = env.now - t0
        if req in got:
            served[i] = True
            yield env.timeout(handle[i])
            desk.release(req)
        else:
            req.cancel()

    def source():
        for i in range(len(arrive)):
            yield env.timeout(arrive[i] - env.now)
            env.process(call(i))

    env.process(source())
    env.run()
    return wait, served


@pytest.mark.parametrize("agents,seed", [(1, 0), (3, 1), (12, 2)])
def test_engine_equals_bare_simpy(agents, seed):
    rng = np.random.default_rng(seed)
    n = 3000
    arrive = np.cumsum(rng.exponential(1.0, n))
    handle = rng.exponential(0.95 * agents, n)
    patience = rng.exponential(2.0, n)
    w_ref, s_ref = simpy_waits(arrive, handle, patience, agents)
    w, s = serve_constant(arrive, handle, patience, agents)
    np.testing.assert_array_equal(s, s_ref)
    assert s.sum() > n * 0.5 and (~s).sum() > 20  # both outcomes are exercised
    np.testing.assert_allclose(np.where(s, w, patience), w_ref, rtol=0, atol=1e-9)


def test_shift_engine_with_constant_staff_equals_fast_path():
    rng = np.random.default_rng(5)
    n = 2000
    arrive = np.cumsum(rng.exponential(1.0, n))
    handle = rng.exponential(4.5, n)
    patience = rng.exponential(3.0, n)
    w, s = serve_constant(arrive, handle, patience, 5)
    out = serve_shifts(arrive, handle, patience, Shifts(np.array([5]), 60.0))
    np.testing.assert_array_equal(out.answered, s)
    np.testing.assert_allclose(out.wait[s], w[s], atol=1e-12)
    np.testing.assert_allclose(out.wait[~s], patience[~s])
    assert not out.closed.any() and (out.redial_of == -1).all()


def run(arrive, handle, patience, pattern, slot=10.0, **kw):
    return serve_shifts(np.asarray(arrive, float), np.asarray(handle, float), np.asarray(patience, float),
                        Shifts(np.asarray(pattern), slot), **kw)


def test_agent_finishes_call_after_shift_then_goes_off():
    # one seat on duty in [0,10), off in [10,20), on again from 20
    out = run([5.0, 12.0], [10.0, 1.0], [100.0, 100.0], [1, 0, 1, 1], message_when_closed=False)
    assert out.start[0] == 5.0                # answered, ends at 15 (after the shift)
    assert out.start[1] == 20.0               # queued through the closure
    assert out.wait[1] == pytest.approx(8.0)


def test_queued_call_abandons_at_closing_and_closed_calls_hear_a_message():
    out = run([5.0, 6.0, 13.0], [8.0, 1.0, 1.0], [100.0, 3.0, 100.0], [1, 0, 1, 1])
    assert out.answered[0] and out.abandoned[1] and out.wait[1] == 3.0  # seat busy till 13, off after
    assert out.closed[2] and not out.answered[2] and not out.abandoned[2]


def test_two_seats_one_goes_off():
    # pattern: 2 seats in [0,10), 1 seat afterwards; seat 1's caller keeps it past 10.
    out = run([0.0, 1.0, 11.0, 11.5], [30.0, 12.0, 1.0, 1.0], [99.0] * 4, [2, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    assert list(out.start[:2]) == [0.0, 1.0]
    # seat 0 busy till 30; seat 1 finishes at 13 but is off duty -> both later calls wait for seat 0
    assert out.start[2] == 30.0 and out.start[3] == 31.0
    # with the pattern repeating every 20, seat 1 is back on at 20
    out = run([0.0, 1.0, 11.0, 11.5], [30.0, 12.0, 1.0, 1.0], [99.0] * 4, [2, 1])
    assert out.start[2] == 20.0 and out.start[3] == 21.0


def test_redials_link_to_the_abandoned_call():
    rows = np.array([[0.0, 5.0, 1.0, 50.0]] * 8)  # u=0 (always redial), delay 5, handle 1, patience 50
    red = Redials(prob=1.0, max_redials=2, draw=lambda k: rows[:k] if k <= len(rows) else np.tile(rows[:1], (k, 1)))
    out = run([0.0, 1.0], [20.0, 1.0], [100.0, 2.0], [1], slot=1000.0, redials=red)
    # call 1 abandons at 3, redials at 8 (still busy till 20), patience 50 -> answered at 20
    assert out.abandoned[1] and out.redial_of[2] == 1 and out.source[2] == 1
    assert out.arrive[2] == pytest.approx(8.0) and out.start[2] == pytest.approx(20.0)
    assert len(out.arrive) == 3


def test_redials_stop_after_max_redials():
    rows = np.array([[0.0, 1.0, 1.0, 0.5]])  # every redial is impatient too
    red = Redials(prob=1.0, max_redials=2, draw=lambda k: np.tile(rows, (k, 1)))
    out = run([0.0, 1.0], [1000.0, 1.0], [1e9, 0.5], [1], slot=1e6, redials=red)
    assert out.abandoned.sum() == 3          # original + 2 redials
    assert list(out.redial_of) == [-1, -1, 1, 2]


def test_callback_keeps_place_and_never_abandons():
    out = run([0.0, 1.0, 2.0], [10.0, 2.0, 2.0], [1e9, 0.5, 0.5], [1], slot=1e6,
              callback_after=5.0, callback_u=np.array([0.0, 0.1, 0.9]), callback_prob=0.5, callback_extra=1.0)
    assert out.callback[1] and out.answered[1] and out.start[1] == 10.0 and out.handle[1] == 3.0
    assert out.abandoned[2] and not out.callback[2]   # declined the offer, then hung up


def test_no_agents_ever_means_everyone_abandons_or_hears_message():
    out = run([1.0, 2.0], [1.0, 1.0], [5.0, 5.0], [0], message_when_closed=False)
    assert out.abandoned.all() and np.isnan(out.start).all()
    out = run([1.0, 2.0], [1.0, 1.0], [5.0, 5.0], [0])
    assert out.closed.all()


def test_next_on_duty():
    sh = Shifts(np.array([0, 2, 1, 0]), 10.0, offset=1)   # slot 0 uses pattern[1]
    assert sh.on_duty(0.0) == 2 and sh.on_duty(15.0) == 1 and sh.on_duty(25.0) == 0
    assert sh.next_on(1, 12.0) == 40.0       # slots 1-3 have < 2 seats; slot 4 = pattern[1] again
    assert sh.next_on(0, 25.0) == 40.0
    assert sh.next_on(0, 3.0) == 3.0
    assert math.isinf(Shifts(np.array([1]), 1.0).next_on(1, 0.0))


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(pattern=st.lists(st.integers(0, 4), min_size=1, max_size=8).filter(lambda p: max(p) > 0),
       seed=st.integers(0, 10_000), offset=st.integers(0, 7), closed_message=st.booleans())
def test_every_call_gets_the_earliest_possible_answer(pattern, seed, offset, closed_message):
    """Replay the engine's seat choices: each answer is the earliest any seat could give (FCFS),
    on a seat on duty at that moment; each abandonment had no seat within its patience."""
    rng = np.random.default_rng(seed)
    n = 150
    arrive = np.cumsum(rng.exponential(0.5, n))
    handle = rng.exponential(2.0, n)
    patience = rng.exponential(3.0, n)
    sh = Shifts(np.array(pattern), 5.0, offset)
    out = serve_shifts(arrive, handle, patience, sh, message_when_closed=closed_message)
    free = [0.0] * sh.seats
    for i in range(n):
        if closed_message and sh.on_duty(arrive[i]) == 0:
            assert out.closed[i]
            continue
        best = min(sh.next_on(k, max(free[k], arrive[i])) for k in range(sh.seats))
        if best - arrive[i] > patience[i]:
            assert out.abandoned[i] and out.seat[i] == -1
            continue
        k = out.seat[i]
        assert out.answered[i] and out.start[i] == pytest.approx(best, abs=1e-9)
        assert sh.next_on(k, max(free[k], arrive[i])) == pytest.approx(best, abs=1e-9)
        assert sh.on_duty(out.start[i]) > k
        free[k] = out.start[i] + handle[i]
    assert (np.diff(out.start[out.answered]) >= -1e-12).all()  # first come, first served
