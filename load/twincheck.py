"""Twin check: what a live deployment did with a replayed trace vs what the twin predicted.

The twin's prediction is in the trace itself (``create_booking`` rows carry the twin's final
status and worker; ``accept``/``decline`` rows its offers).  The live side is the replay's
booking log (``<locust-csv>_replay*.csv``), each booking read back through the target
profile's ``get_booking`` when the profile says the deployment can be read (``live_state:
endpoint``).  The verdict, in the order it is reported:

1. configuration: the deployment's policy, parameters, radius, offer time-out, scenario and
   seed (the profile's ``config`` read) against the trace's metadata; a difference means the
   check would measure the difference in configuration, not in implementation;
2. completeness: every trace row dispatched, no request failed, every booking created live;
3. agreement: created, offered, completed, cancelled and unfulfilled bookings overall and per
   district within ``max(abs, rel × twin)``, and the share of bookings both assigned that went
   to the same worker at least ``same_worker_min``.

Where twin and live can legitimately differ: the twin's decision for offer *k* is applied to
whichever worker live offered (dropped when live offered nobody); the live service's own
clocks (offer time-out, retry, giving up) are not the twin's; compressed replay and schedule
lag can reorder events the twin placed seconds apart; bookings in flight at the horizon.
"""

from __future__ import annotations

import glob
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from load.actions import HELD
from load.profile import Profile, dig
from load.setup import send
from sim.errors import InputError

METRICS = ("created", "offered", "accepted", "completed", "cancelled", "unfulfilled")
#: Metrics with a tolerance, hence a verdict (``accepted`` is shown, not judged).
JUDGED = ("created", "offered", "completed", "cancelled", "unfulfilled")
CONFIG_KEYS = ("policy", "radius_km", "accept_timeout_min", "retry_interval_min", "max_search_min", "max_offers",
               "time_scale", "scenario", "seed")


@dataclass(frozen=True)
class Tolerance:
    """Largest allowed ``|live − twin|``: ``max(abs_n, rel × twin)`` [bookings]."""

    abs_n: float
    rel: float

    def allows(self, twin: int, live: int) -> bool:
        """Whether ``live`` is close enough to ``twin``."""
        return abs(live - twin) <= max(self.abs_n, self.rel * twin) + 1e-9

    def __str__(self) -> str:
        return f"±max({self.abs_n:g}, {self.rel:.0%})"


DEFAULT_TOLERANCES = {
    "created": Tolerance(0, 0.0), "offered": Tolerance(2, 0.05), "completed": Tolerance(3, 0.10),
    "cancelled": Tolerance(3, 0.15), "unfulfilled": Tolerance(3, 0.25),
}
SAME_WORKER_MIN = 0.8


def parse_tolerances(items: list[str]) -> tuple[dict[str, Tolerance], float]:
    """``metric=ABS:REL`` items (``same_worker=0.7`` for the share) over the defaults."""
    tol = dict(DEFAULT_TOLERANCES)
    same = SAME_WORKER_MIN
    for item in items:
        key, _, val = item.partition("=")
        try:
            if key == "same_worker":
                same = float(val)
                continue
            if key not in tol:
                raise KeyError(key)
            a, _, r = val.partition(":")
            tol[key] = Tolerance(float(a), float(r or 0))
        except (KeyError, ValueError):
            raise InputError(f"--tolerance: {item!r}: expected metric=ABS:REL with metric in "
                                f"{', '.join(JUDGED)}, or same_worker=SHARE") from None
    return tol, same


def twin_bookings(trace: pd.DataFrame) -> pd.DataFrame:
    """One row per booking of the trace: district, twin status and worker, offered/accepted flags."""
    cr = trace[trace["action"] == "create_booking"]
    out = pd.DataFrame({"booking_ref": cr["booking_ref"].astype("int64").to_numpy(),
                        "district": cr["district"].to_numpy(), "twin_status": cr["twin_status"].to_numpy(),
                        "twin_worker_ref": cr["worker_ref"].to_numpy()})
    resp = trace[trace["action"].isin(["accept", "decline"])]
    offered = set(resp["booking_ref"].astype("int64"))
    accepted = set(resp.loc[resp["action"] == "accept", "booking_ref"].astype("int64"))
    out["twin_offered"] = out["booking_ref"].isin(offered)
    out["twin_accepted"] = out["booking_ref"].isin(accepted)
    return out


def _flags(status: pd.Series, offered: pd.Series, accepted: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({
        "created": True, "offered": offered.astype(bool), "accepted": accepted.astype(bool),
        "completed": status == "completed", "cancelled": status == "cancelled",
        "unfulfilled": ~status.isin(["completed", "cancelled"]),
    })


def compare(book: pd.DataFrame, tol: dict[str, Tolerance] | None = None) -> pd.DataFrame:
    """Tidy table ``district, metric, twin, live, diff, tolerance, ok`` (district ``ALL`` = overall)."""
    tol = tol or DEFAULT_TOLERANCES
    tw = _flags(book["twin_status"].replace({"open": "unfulfilled"}), book["twin_offered"], book["twin_accepted"])
    lv = _flags(book["live_status"].fillna("not created"), book["live_offered"], book["live_accepted"])
    lv["created"] = book["live_id"].notna()
    rows = []
    for name, idx in [("ALL", book.index), *book.groupby("district").groups.items()]:
        for m in METRICS:
            t, v = int(tw.loc[idx, m].sum()), int(lv.loc[idx, m].sum())
            tm = tol.get(m)
            rows.append({"district": name, "metric": m, "twin": t, "live": v, "diff": v - t,
                         "tolerance": str(tm) if tm else "", "ok": tm.allows(t, v) if tm else True})
    return pd.DataFrame(rows)


def same_worker(book: pd.DataFrame) -> dict[str, float]:
    """Share of bookings the twin assigned that live assigned to the same worker (and of both assigned)."""
    tw = book["twin_worker_ref"].notna()
    both = tw & book["live_worker_ref"].notna()
    same = both & (book["twin_worker_ref"].astype("Int64") == book["live_worker_ref"].astype("Int64"))
    return {"twin_assigned": int(tw.sum()), "both_assigned": int(both.sum()), "same_worker": int(same.sum()),
            "share_of_twin_assigned": float(same.sum() / tw.sum()) if tw.any() else float("nan"),
            "share_of_both_assigned": float(same.sum() / both.sum()) if both.any() else float("nan")}


def read_replay_log(prefix: str) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The replay's booking log (all parts), live worker id map and summary written by the locustfile."""
    files = sorted(glob.glob(f"{prefix}_replay.csv") + glob.glob(f"{prefix}_replay.part*.csv"))
    if not files:
        raise InputError(f"--locust-csv: no replay log {prefix}_replay*.csv (run locust with --csv {prefix})")
    log = pd.concat([pd.read_csv(f, dtype={"live_id": str}) for f in files], ignore_index=True)
    wfile = Path(f"{prefix}_workers.csv")
    workers = (pd.read_csv(wfile, dtype={"live_id": str}) if wfile.exists()
               else pd.DataFrame({"worker_ref": [], "live_id": []}))
    sfile = Path(f"{prefix}_replay_summary.json")
    summary = json.loads(sfile.read_text()) if sfile.exists() else {}
    return log, workers, summary


def live_state(c: httpx.Client | None, prof: Profile, log: pd.DataFrame, workers: pd.DataFrame,
               admin_token: str | None) -> pd.DataFrame:
    """Each replayed booking's final live status, worker (as the twin's id) and offered flag.

    With a client, every booking is read back through the profile's ``get_booking`` (one
    request per booking of the log: bounded); without, the replay log alone is used.
    """
    ref_of = {str(k): int(v) for k, v in zip(workers["live_id"], workers["worker_ref"], strict=True)}
    rows = []
    for r in log.itertuples(index=False):
        row = {"booking_ref": int(r.booking_ref), "live_id": r.live_id if pd.notna(r.live_id) else None,
               "live_status": r.live_status if isinstance(r.live_status, str) else None,
               "live_worker_ref": r.live_worker_ref, "live_offered": isinstance(r.live_offers_ref, str)}
        if row["live_id"] is not None and c is not None:
            body = send(c, prof, prof.actions["get_booking"], {"booking_id": _id(row["live_id"])},  # type: ignore[index]
                        admin_token, "read back booking")
            v = prof.booking
            st = v.state(dig(body, v.status))
            row["live_status"] = st
            wid = dig(body, v.worker_id)
            if wid is not None and st in HELD:
                row["live_worker_ref"] = ref_of.get(str(wid))
            # otherwise keep the worker whose accept the replay saw (cancelled after assignment)
            row["live_offered"] = row["live_offered"] or dig(body, v.offered_at) is not None or st in ("offered", *HELD)
        rows.append(row)
    out = pd.DataFrame(rows, columns=["booking_ref", "live_id", "live_status", "live_worker_ref", "live_offered"])
    out["live_accepted"] = out["live_status"].isin(HELD) | out["live_worker_ref"].notna()
    return out


def _id(x: Any) -> Any:
    """A live id from a CSV cell (integers stay integers, as the API gave them)."""
    s = str(x)
    return int(s) if s.isdigit() else s


def deployment_config(c: httpx.Client, prof: Profile, admin_token: str | None) -> tuple[dict[str, Any], str]:
    """The deployment's configuration by the profile's ``config`` read, and a note when unknown."""
    if prof.config is None:
        return {}, f"profile {prof.name!r} has no config read"
    try:
        body = send(c, prof, prof.config.call, {}, admin_token, "config")
    except InputError as e:
        return {}, str(e)
    return {k: dig(body, p) for k, p in prof.config.fields.items()}, ""


def trace_config(meta: dict, speedup: float | None = None) -> dict[str, Any]:
    """The twin's configuration from the trace's metadata; ``time_scale`` is the replay's speedup."""
    params = dict(meta.get("policy_params") or {})
    out = {k: meta.get(k) for k in CONFIG_KEYS}
    return out | {"policy_params": params, "radius_km": params.get("radius_km"), "time_scale": speedup}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-9)
    return a == b


def config_mismatches(live: dict[str, Any], twin: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Settings that differ (``"radius_km: deployment 15, trace 20"``) and settings not known on one side."""
    bad, unknown = [], []
    keys = list(CONFIG_KEYS)
    lp, tp = live.get("policy_params") or {}, twin.get("policy_params") or {}
    pairs = [(k, live.get(k), twin.get(k)) for k in keys]
    if isinstance(lp, dict):
        pairs += [(f"policy_params.{k}", lp[k], tp[k]) for k in sorted(set(lp) & set(tp)) if k != "radius_km"]
    for k, a, b in pairs:
        if a is None or b is None:
            unknown.append(k)
        elif not _same(a, b):
            bad.append(f"{k}: deployment {a!r}, {'replay speedup' if k == 'time_scale' else 'trace'} {b!r}")
    return bad, unknown


def incomplete(summary: dict, book: pd.DataFrame) -> list[str]:
    """Why the replay did not deliver the whole trace (empty: complete)."""
    out = []
    rows = summary.get("rows", {})
    if not summary:
        out.append("no replay summary (<locust-csv>_replay_summary.json): cannot tell what was sent")
    elif rows.get("dispatched", 0) < rows.get("expected", 0):
        out.append(f"only {rows.get('dispatched', 0)} of {rows.get('expected', 0)} trace rows were sent "
                   f"before the run stopped (--run-time too short or --days cut?)")
    failed = summary.get("failed") or {}
    if failed:
        out.append(f"{sum(failed.values())} requests were not acknowledged: {failed}")
    missing = int(book["live_id"].isna().sum())
    if missing:
        out.append(f"{missing} of {len(book)} bookings were not created live")
    return out


def plot(table: pd.DataFrame, path: Path) -> None:
    """Twin vs live per metric (overall) and completed bookings per district."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    ov = table[table["district"] == "ALL"].set_index("metric").loc[list(METRICS)].fillna(0)
    x = range(len(ov))
    a.bar([i - 0.2 for i in x], ov["twin"], 0.4, label="twin")
    a.bar([i + 0.2 for i in x], ov["live"], 0.4, label="live")
    a.set_xticks(list(x), ov.index, rotation=30)
    a.set_ylabel("bookings")
    a.set_title("overall")
    a.legend()
    d = table[(table["district"] != "ALL") & (table["metric"] == "completed")].dropna()
    b.scatter(d["twin"], d["live"])
    hi = max(1, int(d[["twin", "live"]].to_numpy().max())) if len(d) else 1
    b.plot([0, hi], [0, hi], color="grey", lw=1)
    b.set_xlabel("completed, twin")
    b.set_ylabel("completed, live")
    b.set_title("per district")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
