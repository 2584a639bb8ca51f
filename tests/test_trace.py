"""The request trace exported from a simulated run (sim/trace.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.config import load_scenario
from sim.errors import InputError
from sim.runner import run_one
from sim.trace import ACTION_RANK, COLUMNS, build_trace, partition, read_trace, write_trace

SMALL = ["horizon_days=1", "demand.scale=40", "geography.districts=[Lucknow, Kanpur Nagar]",
         "workforce.registered=2000"]


@pytest.fixture(scope="module")
def run():
    return run_one(load_scenario("baseline", SMALL))


@pytest.fixture(scope="module")
def trace(run):
    return build_trace(run.tables, run.scenario.horizon_min)


def test_columns_and_order(trace):
    assert list(trace.columns) == list(COLUMNS)
    assert (trace["seq"].to_numpy() == np.arange(len(trace))).all()
    assert trace["t_min"].is_monotonic_increasing
    assert set(trace["action"]) <= set(ACTION_RANK)
    assert set(trace["actor"]) <= {"admin", "citizen", "worker", "agent"}


def test_one_create_per_booking_and_counts_match_tables(run, trace):
    b, o = run.tables["bookings"], run.tables["offers"]
    cr = trace[trace["action"] == "create_booking"]
    assert sorted(cr["booking_ref"]) == list(b["booking_id"])
    assert (trace["action"] == "register_worker").sum() == len(run.tables["workers"])
    assert (trace["action"] == "accept").sum() == (o["outcome"] == "accepted").sum()
    assert (trace["action"] == "decline").sum() == o["outcome"].isin(["declined", "timeout"]).sum()
    assert (trace["action"] == "complete").sum() == b["completed_min"].notna().sum()
    assert (trace["action"] == "cancel").sum() == (b["status"] == "cancelled").sum()
    if "ledger" in run.tables:
        led = run.tables["ledger"]
        assert (trace["action"] == "pay").sum() == led.loc[led["kind"].str.startswith("payment"), "txn_id"].nunique()
    else:
        assert (trace["action"] == "pay").sum() == b["completed_min"].notna().sum()
    # create rows carry the twin's outcome
    merged = cr.merge(b, left_on="booking_ref", right_on="booking_id")
    assert (merged["twin_status"] == merged["status"]).all()
    helpline = cr[cr["channel"] == "helpline"]
    assert (helpline["actor"] == "agent").all()
    assert (trace["action"] == "register_citizen").sum() == (b["channel"] != "helpline").sum()


def test_each_booking_chain_is_causal(trace):
    """Within a booking, steps come in lifecycle order: created before offers before start ... before rate."""
    steps = trace[trace["booking_ref"].notna()]
    for _, g in steps.groupby("booking_ref"):
        ranks = g["action"].map(ACTION_RANK).to_list()
        assert g["action"].iloc[0] in {"register_citizen", "create_booking"}
        # online payments may come before the job starts; the job steps are ordered
        order = [r for r in ranks if r >= ACTION_RANK["cancel"] and r != ACTION_RANK["pay"]]
        assert order == sorted(order)
        k = g.loc[g["offer_index"].notna(), "offer_index"].to_list()
        assert k == sorted(k)
        assert (g["action"] == "accept").sum() <= 1


def test_status_rows_follow_shifts(run, trace):
    w = run.tables["workers"]
    st = trace[trace["action"] == "status"]
    assert set(st["worker_ref"]) == set(w.loc[w["active"], "worker_id"])
    on = st[st["available"].astype(bool)]
    hours = (on["t_min"] % 1440) / 60
    shift = w.set_index("worker_id").loc[on["worker_ref"].to_numpy(np.int64), "shift_start_h"].to_numpy()
    assert np.allclose(hours.to_numpy(), shift)


@pytest.mark.parametrize("parts", [1, 2, 3])
def test_partition_covers_every_timed_row_once_and_keeps_bookings_whole(trace, parts):
    pieces = [partition(trace, parts, i) for i in range(parts)]
    seqs = np.concatenate([p["seq"].to_numpy() for p in pieces])
    timed = trace[trace["action"] != "register_worker"]["seq"].to_numpy()
    assert sorted(seqs) == sorted(timed)
    owners = {}
    for i, p in enumerate(pieces):
        for ref in p["booking_ref"].dropna().unique():
            assert owners.setdefault(int(ref), i) == i


def test_partition_rejects_bad_index(trace):
    with pytest.raises(InputError):
        partition(trace, 2, 2)


def test_round_trip_and_determinism(tmp_path, run, trace):
    write_trace(trace, tmp_path / "t.parquet", {"scenario": "x"})
    back, meta = read_trace(tmp_path / "t.parquet")
    assert meta == {"scenario": "x"}
    pd.testing.assert_frame_equal(back, trace, check_dtype=False)
    again = build_trace(run_one(run.scenario).tables, run.scenario.horizon_min)
    pd.testing.assert_frame_equal(again, trace)


def test_ledger_payments_and_payouts_when_present(run):
    b = run.tables["bookings"]
    done = b[b["completed_min"].notna()].head(2)
    rows = []
    for i, r in enumerate(done.itertuples()):
        rows += [(2 * i, i, r.completed_min, "citizen:cash", -int(r.price_paise), "payment_cash", r.booking_id),
                 (2 * i + 1, i, r.completed_min, f"cash:{int(r.worker_id)}", int(r.price_paise),
                  "payment_cash", r.booking_id)]
    rows += [(99, 50, 1000.0, "wallet:3", -5000, "payout", pd.NA),
             (100, 50, 1000.0, "platform:payout_transit", 5000, "payout", pd.NA)]
    ledger = pd.DataFrame(rows, columns=["entry_id", "txn_id", "time_min", "account", "amount_paise", "kind",
                                         "booking_id"])
    tables = {k: v for k, v in run.tables.items() if k != "ledger"}
    tr = build_trace({**tables, "ledger": ledger}, run.scenario.horizon_min)
    pay = tr[tr["action"] == "pay"]
    assert len(pay) == len(done)
    assert sorted(pay["amount_paise"]) == sorted(done["price_paise"].astype(int))
    assert (pay["method"] == "cash").all()
    po = tr[tr["action"] == "payout"]
    assert po["worker_ref"].to_list() == [3] and po["amount_paise"].to_list() == [5000]


def test_cli_writes_trace(tmp_path, capsys):
    from run_sim import main

    out = tmp_path / "tr.parquet"
    args = ["trace", "--scenario", "baseline", "--days", "1", "--out", str(out)]
    for s in SMALL[1:]:
        args += ["--set", s]
    assert main(args) == 0
    assert "create_booking" in capsys.readouterr().out
    tr, meta = read_trace(out)
    assert meta["scenario"] == "baseline" and meta["horizon_min"] == 1440.0
    assert main(["trace", "--days", "-1", "--out", str(out)]) == 2
    assert main(["twin-check", "--trace", str(tmp_path / "missing.parquet"), "--service-url",
                 "http://127.0.0.1:9", "--locust-csv", str(tmp_path / "lc")]) == 2


def test_sample_workers_keeps_every_touched_worker_and_all_booking_rows(trace, run):
    from sim.trace import sample_workers, touched_workers

    touched = set(touched_workers(trace))
    s = sample_workers(trace, 0.3, run.seed)
    assert (s["seq"].to_numpy() == np.arange(len(s))).all()
    regs = set(s.loc[s["action"] == "register_worker", "worker_ref"])
    assert touched <= regs < set(trace.loc[trace["action"] == "register_worker", "worker_ref"])
    assert set(s.loc[s["action"] == "status", "worker_ref"]) <= regs
    booking = trace[trace["booking_ref"].notna()]
    assert len(s[s["booking_ref"].notna()]) == len(booking)
    pd.testing.assert_frame_equal(s, sample_workers(trace, 0.3, run.seed))  # same seed, same workers
    assert len(sample_workers(trace, 1.0, run.seed)) == len(trace)
    with pytest.raises(InputError, match="--sample-workers"):
        sample_workers(trace, 1.5, 0)


def test_bookings_only_drops_untouched_workers_and_payouts(trace):
    from sim.trace import bookings_only, touched_workers

    b = bookings_only(trace)
    assert "payout" not in set(b["action"])
    assert set(b.loc[b["action"] == "register_worker", "worker_ref"]) == set(touched_workers(trace))
    assert (b["action"] == "create_booking").sum() == (trace["action"] == "create_booking").sum()


def test_compress_idle_shrinks_hours_without_bookings_only(trace):
    from sim.trace import compress_idle

    c, tmap = compress_idle(trace, 1.0)
    assert c["t_min"].is_monotonic_increasing and list(c["seq"]) == list(trace["seq"])
    assert c["t_min"].max() < trace["t_min"].max()
    # inside a busy hour the gaps between bookings are kept
    cr, cc = trace[trace["action"] == "create_booking"], c[c["action"] == "create_booking"]
    hour = np.floor(cr["t_min"] / 60)
    same = hour.to_numpy()[1:] == hour.to_numpy()[:-1]
    np.testing.assert_allclose(np.diff(cc["t_min"])[same], np.diff(cr["t_min"])[same])
    starts = np.array([m[1] for m in tmap])
    assert set(np.round(np.diff(starts), 9)) <= {1.0, 60.0}
