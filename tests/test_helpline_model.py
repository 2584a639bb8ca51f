"""The scenario-level helpline: conservation, links, CRN, determinism, config, CLI."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from sim.calendar import Calendar
from sim.helpline.config import CALL_TYPES, HelplineConfig
from sim.helpline.engine import simulate_helpline
from sim.helpline.staffing import parse_sl, simulated_agents, week_rates
from sim.seeds import Streams

ROOT = Path(__file__).resolve().parent.parent
CAL = Calendar(dt.date(2025, 7, 7))  # a Monday
DAYS = 14


def with_(cfg: HelplineConfig, **update) -> HelplineConfig:
    """A validated copy with some fields replaced."""
    return HelplineConfig(**{**cfg.model_dump(), **update})


def sim(cfg: HelplineConfig, seed: int = 1, days: float = DAYS):
    return simulate_helpline(cfg, Streams(seed), days * 1440.0, CAL)


@pytest.fixture(scope="module")
def busy():
    """Under-staffed so that queues, abandonment and redials all happen."""
    cfg = HelplineConfig(agents_by_hour=tuple(14 if 8 <= h < 20 else 0 for h in range(24)))
    return cfg, sim(cfg)


def test_every_call_accounted_for(busy):
    cfg, r = busy
    c, s = r.calls, r.summary
    assert s["calls"] == len(c) == s["ivr_resolved"] + s["after_hours"] + s["offered"]
    assert s["offered"] == s["answered"] + s["abandoned"]
    assert s["abandoned"] > 0 and s["redials"] > 0 and s["after_hours"] > 0
    h = r.hourly
    assert len(h) == DAYS * 24
    assert h["offered"].sum() == s["offered"] and h["answered"].sum() == s["answered"]
    assert h["calls"].sum() == len(c)
    assert set(c.columns) >= {"call_id", "created_min", "type", "ivr_resolved", "answered", "wait_s",
                              "handle_s", "abandoned", "redial_of", "callback", "booking_id"}
    assert not (c["answered"] & c["abandoned"]).any()
    assert (c.loc[c["ivr_resolved"], "answered"] == False).all()  # noqa: E712


def test_daily_table_reweights_hours(busy):
    cfg, r = busy
    d = r.daily
    assert len(d) == DAYS and d["offered"].sum() == r.summary["offered"]
    c = r.calls[~r.calls["ivr_resolved"] & (r.calls["answered"] | r.calls["abandoned"])]
    # day of the call's queue arrival (created + IVR for fresh calls; within a minute of created)
    day0 = c[c["created_min"] < 1440 - 1]
    sl0 = (day0["answered"] & (day0["wait_s"] <= cfg.sl_seconds)).mean()
    assert d["service_level"].iloc[0] == pytest.approx(sl0, abs=0.01)
    assert d["abandon_rate"].iloc[0] == pytest.approx(day0["abandoned"].mean(), abs=0.01)


def test_ids_follow_creation_and_redials_point_back(busy):
    _, r = busy
    c = r.calls
    assert (c["call_id"].to_numpy() == np.arange(len(c))).all()
    assert (np.diff(c["created_min"].to_numpy()) >= 0).all()
    red = c[c["redial_of"].notna()]
    orig = c.set_index("call_id").loc[red["redial_of"].astype(int)]
    assert orig["abandoned"].all()
    assert (orig["created_min"].to_numpy() < red["created_min"].to_numpy()).all()
    assert (orig["type"].to_numpy() == red["type"].to_numpy()).all()


def test_bookings_come_from_answered_new_booking_calls(busy):
    cfg, r = busy
    assert len(r.booking_times_min) == r.summary["bookings"] > 0
    assert (np.diff(r.booking_times_min) >= 0).all()
    b = r.calls.set_index("call_id").loc[r.booking_call_ids]
    assert b["answered"].all() and (b["type"] == "new_booking").all()
    ends = b["created_min"] + cfg.ivr_s / 60 * b["redial_of"].isna() + (b["wait_s"] + b["handle_s"]) / 60
    np.testing.assert_allclose(ends.to_numpy(), r.booking_times_min, rtol=1e-9)
    answered_nb = ((r.calls["type"] == "new_booking") & r.calls["answered"]).sum()
    # conversion is a Bernoulli(p) per answered new-booking call: 5-sigma band
    p = cfg.booking_conversion
    assert abs(len(b) - p * answered_nb) < 5 * np.sqrt(answered_nb * p * (1 - p)) + 1


def test_volume_and_mix_match_the_config():
    cfg = HelplineConfig(redial_prob=0.0)
    r = sim(cfg, days=28)
    days = 28
    expected = float(week_rates(cfg).sum() / 7 * days)  # 4 whole weeks, month factor of July
    mp = np.asarray(cfg.month_profile) / np.mean(cfg.month_profile)
    expected *= mp[6]
    assert abs(len(r.calls) - expected) < 5 * np.sqrt(expected)
    shares = r.calls["type"].value_counts(normalize=True)
    for t, p in cfg.type_shares.items():
        assert abs(shares[t] - p) < 0.01
    assert list(r.calls["type"].cat.categories) == list(CALL_TYPES)


def test_same_seed_same_tables_and_crn_across_callback_settings(busy):
    cfg, r = busy
    again = sim(cfg)
    pd.testing.assert_frame_equal(r.calls, again.calls)
    pd.testing.assert_frame_equal(r.hourly, again.hourly)
    with_cb = sim(with_(cfg, callback={"enabled": True, "accept_prob": 1.0, "offer_after_s": 30}))
    fresh = r.calls[r.calls["redial_of"].isna()]
    fresh_cb = with_cb.calls[with_cb.calls["redial_of"].isna()]
    np.testing.assert_array_equal(fresh["created_min"].to_numpy(), fresh_cb["created_min"].to_numpy())
    assert with_cb.summary["callbacks"] > 0
    assert with_cb.summary["abandoned"] < r.summary["abandoned"]


def test_more_agents_answer_more_and_faster(busy):
    cfg, r = busy
    more = sim(with_(cfg, agents_by_hour=tuple(30 if 8 <= h < 20 else 0 for h in range(24))))
    assert more.summary["abandon_rate"] < r.summary["abandon_rate"]
    assert more.summary["service_level"] > r.summary["service_level"]
    assert more.summary["occupancy"] < r.summary["occupancy"]


def test_hourly_output_keeps_only_booking_calls(busy):
    cfg, r = busy
    h = simulate_helpline(cfg, Streams(1), DAYS * 1440.0, CAL, calls="hourly")
    assert set(h.calls["call_id"]) == set(r.booking_call_ids)
    pd.testing.assert_frame_equal(h.hourly, r.hourly)


def test_after_hours_queue_mode_waits_for_opening():
    cfg = HelplineConfig(after_hours="queue", patience_mean_s=1e7, redial_prob=0.0)
    r = sim(cfg, days=3)
    assert r.summary["after_hours"] == 0
    night = r.calls[(r.calls["created_min"] % 1440 < 6 * 60) & ~r.calls["ivr_resolved"]]
    # patience ~ 116 days on average: nearly everyone holds on until 08:00
    assert night["answered"].mean() > 0.95
    assert (night.loc[night["answered"], "wait_s"] > 2 * 3600 - 60).all()


@pytest.mark.parametrize("update", [
    {"calls_per_day": -1}, {"talk_mean_s": 0}, {"patience_mean_s": 0}, {"redial_prob": 1.5},
    {"type_shares": {"new_booking": 0.5, "other": 0.4}}, {"agents_by_hour": (0,) * 24},
    {"agents_by_hour": (-1,) + (5,) * 23}, {"hour_profile": (1.0,) * 23}, {"surprise": 1},
])
def test_bad_config_is_rejected(update):
    with pytest.raises(ValidationError):
        HelplineConfig(**update)


def test_parse_sl():
    assert parse_sl("80/20") == (0.8, 20.0)
    from sim.errors import ScenarioError
    for bad in ("80", "120/20", "80/-1", "x/y"):
        with pytest.raises(ScenarioError, match="^sl: "):
            parse_sl(bad)


def test_simulation_corrects_analytic_staffing():
    cfg = HelplineConfig()
    n, s, _ = simulated_agents(cfg, 200.0, 1, 0.8, 20.0, reps=3, hours=20, seed=1)
    assert s >= 0.8 and n > 5
    n2, _, _ = simulated_agents(cfg, 200.0, n + 6, 0.8, 20.0, reps=3, hours=20, seed=1)
    assert n2 == n  # same seed for every count: the search is exact from both sides
    n3, s3, ab3 = simulated_agents(cfg, 200.0, n, 0.8, 20.0, reps=3, hours=20, seed=1, max_abandon=0.002)
    assert n3 >= n and ab3 <= 0.002 and s3 >= 0.8


def run_cli(*args):
    return subprocess.run([sys.executable, str(ROOT / "run_sim.py"), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_cli_json_shape():
    p = run_cli("helpline", "--arrivals-per-hour", "300", "--aht-seconds", "180", "--agents", "17",
                "--patience-seconds", "120", "--hours", "20", "--reps", "4", "--seed", "3", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    keys = {"mean_wait_s", "p_wait", "service_level", "abandon_rate"}
    assert set(out["sim"]) == keys | {"calls", "occupancy", "ci95"}
    assert set(out["sim"]["ci95"]) == keys and all(len(v) == 2 for v in out["sim"]["ci95"].values())
    assert out["analytic"]["model"] == "erlang_a" and set(out["analytic"]) >= keys | {"occupancy"}
    c = run_cli("helpline", "--arrivals-per-hour", "300", "--aht-seconds", "180", "--agents", "17",
                "--hours", "20", "--reps", "2", "--json")
    res = json.loads(c.stdout)
    assert res["analytic"]["model"] == "erlang_c" and res["analytic"]["abandon_rate"] == 0


def run_main(*args):
    """``run_sim.main`` in-process (same code path as the script, without interpreter start-up)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_sim", ROOT / "run_sim.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main(list(args))


def test_cli_bad_input_subprocess_exits_2():
    p = run_cli("helpline", "--arrivals-per-hour", "-5", "--aht-seconds", "180", "--agents", "3", "--json")
    assert p.returncode == 2
    assert p.stderr.strip() == "error: arrivals_per_hour: must be a finite number >= 0 (got -5.0)"


@pytest.mark.parametrize("args,field", [
    (["--arrivals-per-hour", "5", "--aht-seconds", "180", "--agents", "0"], "agents"),
    (["--arrivals-per-hour", "5", "--aht-seconds", "180", "--agents", "3", "--patience-seconds", "0"],
     "patience_seconds"),
    (["--arrivals-per-hour", "5", "--aht-seconds", "-1", "--agents", "3"], "aht_seconds"),
    (["--arrivals-per-hour", "500", "--aht-seconds", "180", "--agents", "3"], "agents"),
    (["--arrivals-per-hour", "5", "--aht-seconds", "180", "--agents", "3", "--reps", "0"], "reps"),
])
def test_cli_bad_input_exits_2_naming_the_field(args, field, capsys):
    assert run_main("helpline", *args, "--json") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {field}: ") and len(err.splitlines()) == 1


def test_staff_cli_writes_csv_and_plot(tmp_path):
    p = run_cli("staff", "--scenario", "baseline", "--sl", "80/20", "--out", str(tmp_path), "--reps", "2",
                "--hours", "4", "--min-calls", "500", "--set", "helpline.calls_per_day=300")
    assert p.returncode == 0, p.stderr
    t = pd.read_csv(tmp_path / "staffing.csv")
    assert (tmp_path / "staffing.png").stat().st_size > 10_000
    assert (t["period"] == "typical_week").sum() == 168 and (t["period"] == "peak_day").sum() == 24
    busy = t[t["offered_per_hour"] > 0]
    assert (busy["agents_simulated"] >= 1).all() and (busy["sim_service_level"] >= 0.8).all()
    assert "Mon" in p.stdout and "peak day" in p.stdout


@pytest.mark.parametrize("override,field", [
    ("helpline.calls_per_day=-5", "helpline.calls_per_day"),
    ("helpline.patience_mean_s=0", "helpline.patience_mean_s"),
    ("helpline.type_shares={new_booking: 2}", "helpline.type_shares"),
    ("helpline.callback.accept_prob=3", "helpline.callback.accept_prob"),
])
def test_scenario_overrides_name_the_helpline_field(override, field, capsys):
    assert run_main("staff", "--scenario", "baseline", "--set", override) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {field}: ") and len(err.splitlines()) == 1


def test_cli_readable_table(capsys):
    assert run_main("helpline", "--arrivals-per-hour", "100", "--aht-seconds", "180", "--agents", "6",
                    "--patience-seconds", "60", "--hours", "20", "--reps", "3") == 0
    out = capsys.readouterr().out
    assert "Erlang A" in out and "service_level" in out and "95% CI" in out
