"""Analytic Erlang B / C / A: exact small cases, independent computations, stability, limits."""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import expm

from sim.errors import ScenarioError
from sim.helpline import erlang as E


def erlang_b_exact(n: int, a: Fraction) -> Fraction:
    """Textbook definition with factorials, in exact rationals."""
    terms = [a**k / math.factorial(k) for k in range(n + 1)]
    return terms[-1] / sum(terms)


@pytest.mark.parametrize("n,a", [(1, 1), (2, 1), (5, 2), (10, 5), (20, 15), (40, 37)])
def test_erlang_b_matches_exact_definition(n, a):
    assert E.erlang_b(n, float(a)) == pytest.approx(float(erlang_b_exact(n, Fraction(a))), rel=1e-12)


def test_published_table_values():
    # Erlang B tables: N=10, A=5 -> 1.84 %; M/M/1: C = rho; M/M/2 at rho=0.5: C = 1/3.
    assert E.erlang_b(10, 5.0) == pytest.approx(0.018385, abs=5e-6)
    assert E.erlang_c(1, 0.7) == pytest.approx(0.7)
    assert E.erlang_c(2, 1.0) == pytest.approx(1 / 3)
    # Classic call-centre example (A = 10 Erlang): 14 agents are the fewest for 80/20 at AHT 180 s.
    lam = 10 / 180
    assert E.erlang_c(14, 10.0) == pytest.approx(0.1741, abs=5e-4)
    assert E.agents_for_sl(lam, 180, 0.8, 20) == 14


def test_no_calls_no_queue():
    for k in (E.erlang_c_kpis(0.0, 180, 0), E.erlang_a_kpis(0.0, 180, 0, 60.0)):
        assert (k.p_wait, k.mean_wait_s, k.service_level, k.abandon_rate) == (0.0, 0.0, 1.0, 0.0)
    assert E.agents_for_sl(0.0, 180, 0.8, 20) == 0


def test_erlang_c_mm1_closed_forms():
    lam, aht = 0.5 / 60, 60.0  # rho = 0.5
    k = E.erlang_c_kpis(lam, aht, 1, t=30.0)
    assert k.p_wait == pytest.approx(0.5)
    assert k.mean_wait_s == pytest.approx(0.5 / (1 - 0.5) * aht)
    assert k.service_level == pytest.approx(1 - 0.5 * math.exp(-(1 / aht - lam) * 30))


def birth_death(lam, aht, n, patience, kmax=4000):
    """Stationary M/M/n+M distribution by direct (log-space) products; independent of A(x,y)."""
    mu, th = 1 / aht, 1 / patience
    j = np.arange(1, n + kmax + 1)
    death = np.minimum(j, n) * mu + np.maximum(j - n, 0) * th
    logp = np.concatenate(([0.0], np.cumsum(np.log(lam) - np.log(death))))
    p = np.exp(logp - logp.max())
    return p / p.sum()


def answered_within(n, aht, patience, k, t):
    """P(answered within t | k calls ahead), from the tagged caller's own Markov chain."""
    mu, th = 1 / aht, 1 / patience
    size = k + 3  # states: k..0 ahead, served, abandoned
    q = np.zeros((size, size))
    for i in range(k + 1):
        row = k - i  # state index of "i ahead" is k - i
        q[row, row + 1 if i > 0 else k + 1] += n * mu + i * th
        q[row, k + 2] += th
        q[row, row] = -(n * mu + i * th + th)
    return expm(q * t)[0, k + 1]


@pytest.mark.parametrize("lam,aht,n,pat", [(1 / 60, 180, 4, 90), (3 / 60, 200, 9, 300), (0.2, 30, 5, 10)])
def test_erlang_a_against_birth_death_and_tagged_chain(lam, aht, n, pat):
    k = E.erlang_a_kpis(lam, aht, n, pat, t=20.0)
    p = birth_death(lam, aht, n, pat)
    q = np.maximum(np.arange(p.size) - n, 0)
    assert k.p_wait == pytest.approx(p[n:].sum(), rel=1e-9)
    assert k.abandon_rate == pytest.approx(q @ p / pat / lam, rel=1e-9)
    assert k.mean_wait_s == pytest.approx(q @ p / lam, rel=1e-9)  # Little: E[W] = E[Q]/lam
    kmax = 60
    sl = p[:n].sum() + sum(p[n + j] * answered_within(n, aht, pat, j, 20.0) for j in range(kmax))
    assert k.service_level == pytest.approx(sl, abs=1e-7)


def test_erlang_a_tends_to_erlang_c_with_infinite_patience():
    c = E.erlang_c_kpis(0.25, 180, 50)
    a = E.erlang_a_kpis(0.25, 180, 50, patience=1e9)
    for f in ("p_wait", "mean_wait_s", "service_level", "occupancy"):
        assert getattr(a, f) == pytest.approx(getattr(c, f), rel=1e-5)
    assert a.abandon_rate < 1e-7


@pytest.mark.parametrize("n", [1000, 2000, 5000])
@pytest.mark.parametrize("rho", [0.3, 0.95, 1.0, 1.3])
@pytest.mark.parametrize("pat", [1.0, 60.0, 1e6])
def test_stable_for_thousands_of_agents(n, rho, pat):
    aht = 240.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        k = E.erlang_a_kpis(rho * n / aht, aht, n, pat, t=20.0)
    for v in (k.p_wait, k.service_level, k.abandon_rate, k.occupancy):
        assert 0.0 <= v <= 1.0 and math.isfinite(v)
    assert k.abandon_rate <= k.p_wait + 1e-12
    if rho > 1:  # fluid limit: at least the excess load abandons
        assert k.abandon_rate >= 1 - 1 / rho - 1e-9
    if rho < 1:
        c = E.erlang_c_kpis(rho * n / aht, aht, n)
        assert k.p_wait <= c.p_wait + 1e-12


@settings(max_examples=40, deadline=None)
@given(a=st.floats(0.1, 400), pat=st.one_of(st.none(), st.floats(5, 5000)), t=st.floats(0, 120),
       target=st.floats(0.5, 0.95))
def test_agents_for_sl_is_the_fewest(a, pat, t, target):
    aht = 200.0
    lam = a / aht
    n = E.agents_for_sl(lam, aht, target, t, pat)
    assert E.kpis(lam, aht, n, t, pat).service_level >= target
    if n > 1 and (pat is not None or n - 1 > a):
        assert E.kpis(lam, aht, n - 1, t, pat).service_level < target


def test_abandonment_cap_adds_agents():
    lam, aht, pat = 300 / 3600, 268.0, 90.0
    n = E.agents_for_sl(lam, aht, 0.8, 20, pat)
    m = E.agents_for_sl(lam, aht, 0.8, 20, pat, max_abandon=0.005)
    assert m >= n and E.kpis(lam, aht, m, 20, pat).abandon_rate <= 0.005
    assert E.kpis(lam, aht, m - 1, 20, pat).abandon_rate > 0.005 or m == n


@settings(max_examples=30, deadline=None)
@given(a=st.floats(0.5, 200), pat=st.floats(5, 2000))
def test_more_agents_never_hurt(a, pat):
    aht, lam = 200.0, a / 200.0
    n0 = max(1, int(a * 0.7))
    ks = [E.erlang_a_kpis(lam, aht, n, pat) for n in (n0, n0 + 1, n0 + 5)]
    for lo, hi in zip(ks, ks[1:], strict=False):
        assert hi.p_wait <= lo.p_wait + 1e-12
        assert hi.service_level >= lo.service_level - 1e-12
        assert hi.abandon_rate <= lo.abandon_rate + 1e-12


@pytest.mark.parametrize("call", [
    lambda: E.erlang_c_kpis(-1.0, 180, 5),
    lambda: E.erlang_c_kpis(0.1, 0, 5),
    lambda: E.erlang_c_kpis(0.1, 180, 0),
    lambda: E.erlang_c_kpis(0.1, 180, 10),      # 18 Erlang on 10 agents, no abandonment
    lambda: E.erlang_a_kpis(0.1, 180, 10, 0.0),
    lambda: E.agents_for_sl(0.1, 180, 1.0, 20),
])
def test_bad_input_names_the_field(call):
    with pytest.raises(ScenarioError, match=r"^\w+: "):
        call()
