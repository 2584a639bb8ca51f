"""``output.calls: full`` streams the per-call table to Parquet row groups; never whole in memory (issue 13)."""

from __future__ import annotations

import gc
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from sim.config import load_scenario
from sim.helpline.engine import CallRecords
from sim.model import Model
from sim.runner import run_one, write_run
from sim.seeds import Streams
from sim.spool import Spool, SpooledTable
from tests.conftest import run_cli

SMALL = Path(__file__).resolve().parent / "scenarios" / "small.yaml"
GROUP = 200  # rows per row group: a week of the small world has ~1,300 calls


@pytest.fixture(scope="module")
def sc():
    return load_scenario(str(SMALL), ["output.calls=full", "horizon_days=7"])


def test_full_calls_are_written_a_row_group_at_a_time(sc, tmp_path, monkeypatch):
    built: list[int] = []
    frame = CallRecords.frame

    def spy(self, lo=0, hi=None, bookings=None):
        out = frame(self, lo, hi, bookings)
        built.append(len(out))
        return out

    monkeypatch.setattr(CallRecords, "frame", spy)
    res = run_one(sc, seed=7, spool=Spool(tmp_path / "run", rows_per_group=GROUP))
    calls = res.tables["calls"]
    assert isinstance(calls, SpooledTable) and calls.path == tmp_path / "run" / "calls.parquet"
    meta = pq.ParquetFile(calls.path).metadata
    assert meta.num_rows == len(calls) > 3 * GROUP
    assert meta.num_row_groups == calls.row_groups == -(-len(calls) // GROUP)
    # the model never built more than a row group of the table at once
    assert max(built) == GROUP and sum(built) == len(calls)
    monkeypatch.undo()

    # the same rows as the table held in memory (a model without a spool), booking ids included
    m = Model(sc, Streams(7))
    held = m.calls
    assert isinstance(held, pd.DataFrame) and m.helpline.records is None
    pd.testing.assert_frame_equal(calls.read(), held)
    bookings = res.tables["bookings"]
    by_phone = held.dropna(subset=["booking_id"])
    assert len(by_phone) == (bookings["channel"] == "helpline").sum() > 0
    assert (bookings.loc[by_phone["booking_id"].to_numpy(), "channel"] == "helpline").all()


def test_write_run_puts_the_streamed_table_in_the_run_folder(sc, tmp_path):
    res = run_one(sc, seed=7)  # no folder given: a temporary spool file
    spooled = res.tables["calls"]
    assert isinstance(spooled, SpooledTable) and spooled.path.exists()
    out = write_run(res, tmp_path / "run")
    pd.testing.assert_frame_equal(pd.read_parquet(out / "calls.parquet"), spooled.read())
    path = spooled.path
    del res, spooled
    gc.collect()
    assert not path.exists()  # the temporary file lives as long as the result


def test_hourly_output_keeps_the_booking_calls_in_memory(sc):
    res = run_one(sc.model_copy(update={"output": sc.output.model_copy(update={"calls": "hourly"})}), seed=7)
    calls = res.tables["calls"]
    assert isinstance(calls, pd.DataFrame)
    assert len(calls) == res.summary["helpline"]["bookings"]
    assert calls["booking_id"].notna().sum() == (res.tables["bookings"]["channel"] == "helpline").sum() > 0


def test_the_cli_writes_full_calls_to_the_run_folder(small_path, tmp_path):
    out = tmp_path / "run"
    p = run_cli("run", "--scenario", str(small_path), "--set", "horizon_days=7", "--set", "output.calls=full",
                "--seed", "7", "--no-report", "--quiet", "--out", str(out))
    assert p.returncode == 0, p.stderr
    calls = pd.read_parquet(out / "calls.parquet")
    bookings = pd.read_parquet(out / "bookings.parquet")
    assert len(calls) > 3 * GROUP
    assert calls["booking_id"].notna().sum() == (bookings["channel"] == "helpline").sum() > 0
