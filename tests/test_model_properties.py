"""Properties over many seeds: terminal states, no double-booked worker, monotone times."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.config import load_scenario
from sim.runner import run_one

TERMINAL = {"completed", "cancelled", "unfulfilled"}


def busy_intervals(t: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every interval in which a worker was held: offers out, and jobs from assignment to end."""
    o = t["offers"]
    offers = pd.DataFrame({"worker_id": o["worker_id"], "start": o["offered_min"], "end": o["responded_min"],
                           "kind": "offer", "booking_id": o["booking_id"]})
    b = t["bookings"].dropna(subset=["assigned_min"])
    jobs = pd.DataFrame({"worker_id": b["worker_id"].astype("int64"), "start": b["assigned_min"],
                         "end": b["ended_min"], "kind": "job", "booking_id": b["booking_id"]})
    # The accepted offer and its job are one holding, so drop accepted offers.
    acc = o["outcome"] == "accepted"
    return pd.concat([offers[~acc.to_numpy()], jobs], ignore_index=True)


@pytest.mark.parametrize("seed", range(8))
def test_properties_hold_for_any_seed(small_path, seed):
    sc = load_scenario(small_path, ["horizon_days=7", "dispatch.params={radius_km: 8}"])
    res = run_one(sc, seed=seed)
    bk = res.tables["bookings"]
    assert len(bk) > 100
    # Exactly one terminal state each (the run drains after the horizon).
    assert set(bk["status"]) <= TERMINAL
    assert bk["ended_min"].notna().all()
    # Times never decrease along a booking.
    seq = bk[["created_min", "assigned_min", "started_min", "completed_min", "ended_min"]].to_numpy()
    for i in range(seq.shape[1] - 1):
        a, b = seq[:, i], seq[:, i + 1]
        ok = np.isnan(a) | np.isnan(b) | (b >= a - 1e-9)
        assert ok.all()
    assert (bk["ended_min"] >= bk["created_min"]).all()
    done = bk["status"] == "completed"
    assert bk.loc[done, ["worker_id", "assigned_min", "started_min", "completed_min"]].notna().all().all()
    assert (bk.loc[done, "completed_min"] == bk.loc[done, "ended_min"]).all()
    # No worker ever holds two jobs (or an offer and a job) at once.
    iv = busy_intervals(res.tables).sort_values(["worker_id", "start", "end"], kind="stable")
    same = iv["worker_id"].to_numpy()[1:] == iv["worker_id"].to_numpy()[:-1]
    overlap = iv["start"].to_numpy()[1:] < iv["end"].to_numpy()[:-1] - 1e-9
    assert not (same & overlap).any()
    # Counts agree between tables.
    wk = res.tables["workers"]
    assert wk["jobs"].sum() == done.sum()
    assert wk["gross_paise"].sum() == bk.loc[done, "price_paise"].sum()
    s = res.summary
    assert s["completed"] + s["cancelled"] + s["unfulfilled"] == s["bookings"]
