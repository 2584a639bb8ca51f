"""The synthetic workforce: exact counts, homes inside their district, stable prefixes."""

from __future__ import annotations

import numpy as np

from sim.config import load_scenario
from sim.geography import district_map
from sim.model import Model
from sim.seeds import Streams


def build(overrides):
    return Model(load_scenario("baseline", ["helpline.enabled=false", *overrides]), Streams(4))


def test_counts_locations_and_identities():
    m = build(["geography.districts=[Lucknow, Sonbhadra]"])
    wf = m.wf
    dmap = district_map()
    for i, d in enumerate(m.districts):
        mine = wf.district_idx == i
        pts = np.column_stack([wf.lon[mine], wf.lat[mine]])
        assert dmap[d.name].polygon.contains_points(pts).all()
    assert len(set(wf.names)) > 0.5 * len(wf)
    assert ((wf.phones >= 6_000_000_000) & (wf.phones <= 9_999_999_999)).all()
    assert ((wf.skill2 == -1) | (wf.skill2 != wf.skill1)).all()
    assert (wf.shift_start_h < wf.shift_end_h).all() and (wf.shift_end_h <= 24).all()


def test_more_workers_keep_the_first_ones_in_place():
    small = build(["geography.districts=[Lucknow]", "workforce.active_counts={Lucknow: {plumber: 7}}"])
    large = build(["geography.districts=[Lucknow]", "workforce.active_counts={Lucknow: {plumber: 150}}"])
    p = small.cat.index("plumber")
    a, b = small.wf, large.wf
    ia, ib = np.flatnonzero(a.skill1 == p), np.flatnonzero(b.skill1 == p)
    assert a.active[ia].sum() == 7 and b.active[ib].sum() == 150
    k = len(ia)
    for col in ("lat", "lon", "accept_prob", "quality", "shift_start_h", "shift_end_h", "phones"):
        assert np.array_equal(getattr(a, col)[ia], getattr(b, col)[ib][:k]), col
    # Other cells are untouched by the plumber count.
    e = small.cat.index("electrician")
    assert np.array_equal(a.lat[a.skill1 == e], b.lat[b.skill1 == e])


def test_point_in_polygon_agrees_with_matplotlib():
    from matplotlib.path import Path

    rng = np.random.default_rng(0)
    for d in list(district_map().values())[::7]:
        v = d.polygon.vertices
        lo, hi = v.min(axis=0), v.max(axis=0)
        pts = rng.uniform(lo, hi, size=(4000, 2))
        ours = d.polygon.contains_points(pts)
        ref = Path(v).contains_points(pts)
        assert (ours != ref).mean() < 1e-3  # only points on an edge may differ
        assert 0 < ours.sum() < len(pts)
