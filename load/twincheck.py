"""``run_sim.py twin-check``: what the live deployment did with a trace vs what the twin predicted.

The twin's prediction is in the trace itself (``create_booking`` rows carry the twin's final
status and worker; ``accept``/``decline`` rows its offers).  The live side comes from the
deployment's ``/v1/admin/stats`` and, when the replay wrote its booking log
(``<locust-csv>_replay*.csv``), from each replayed booking read back as admin.

Where they disagree, and why (the same policy, workers and order otherwise agree):

1. Offers: the twin's decision for offer *k* is applied to whichever worker the live system
   offered; if live offered nobody at that moment, the decision is dropped (see skips).
2. Giving up: the twin ends a booking ``unfulfilled`` after ``max_offers`` or ``max_search_min``
   and cancels on citizen patience while searching; the live service has no such clock, so
   such bookings stay ``pending``/``offered`` (counted live as unfulfilled).
3. Re-dispatch: the twin retries a waiting booking every ``retry_interval_min`` or when a
   worker with the skill frees up; the live service re-dispatches when a worker frees up or
   comes on shift, so a waiting booking can meet a different worker.
4. Time: compressed replay and schedule lag can reorder events the twin placed seconds apart.
5. Bookings still in flight at the horizon (or cut off by ``--run-time``).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
from pathlib import Path

import pandas as pd

from sim.errors import ScenarioError
from sim.trace import read_trace

METRICS = ("created", "offered", "accepted", "completed", "cancelled", "unfulfilled")
LIVE_ACCEPTED = ("accepted", "in_progress", "completed")


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


def compare(book: pd.DataFrame) -> pd.DataFrame:
    """Tidy table ``district, metric, twin, live, diff`` (district ``ALL`` = overall)."""
    tw = _flags(book["twin_status"].replace({"open": "unfulfilled"}), book["twin_offered"], book["twin_accepted"])
    lv = _flags(book["live_status"].fillna("not created"), book["live_offered"], book["live_accepted"])
    lv["created"] = book["live_id"].notna()
    rows = []
    for name, idx in [("ALL", book.index), *book.groupby("district").groups.items()]:
        for m in METRICS:
            t, v = int(tw.loc[idx, m].sum()), int(lv.loc[idx, m].sum())
            rows.append({"district": name, "metric": m, "twin": t, "live": v, "diff": v - t})
    return pd.DataFrame(rows)


def same_worker(book: pd.DataFrame) -> dict[str, float]:
    """Share of bookings the twin assigned that live assigned to the same worker (and of both assigned)."""
    tw = book["twin_worker_ref"].notna()
    both = tw & book["live_worker_ref"].notna()
    same = both & (book["twin_worker_ref"].astype("Int64") == book["live_worker_ref"].astype("Int64"))
    return {"twin_assigned": int(tw.sum()), "both_assigned": int(both.sum()), "same_worker": int(same.sum()),
            "share_of_twin_assigned": float(same.sum() / tw.sum()) if tw.any() else float("nan"),
            "share_of_both_assigned": float(same.sum() / both.sum()) if both.any() else float("nan")}


def read_replay_log(prefix: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The replay's booking log (all parts) and live worker id map written by the locustfile."""
    files = sorted(glob.glob(f"{prefix}_replay.csv") + glob.glob(f"{prefix}_replay.part*.csv"))
    if not files:
        raise ScenarioError(f"--locust-csv: no replay log {prefix}_replay*.csv (run locust with --csv {prefix})")
    log = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    wfile = Path(f"{prefix}_workers.csv")
    workers = pd.read_csv(wfile) if wfile.exists() else pd.DataFrame(columns=["worker_ref", "live_id"])
    return log, workers


def live_state(client, log: pd.DataFrame, workers: pd.DataFrame, token: str) -> pd.DataFrame:  # noqa: ANN001
    """Each replayed booking's final live status, worker (as the twin's id) and offered flag."""
    ref_of = dict(zip(workers["live_id"].astype(int), workers["worker_ref"].astype(int), strict=True))
    rows = []
    for r in log.itertuples(index=False):
        row = {"booking_ref": int(r.booking_ref), "live_id": r.live_id, "live_status": r.live_status,
               "live_worker_ref": r.live_worker_ref, "live_offered": isinstance(r.live_offers_ref, str)}
        if pd.notna(r.live_id) and token:
            resp = client.get(f"/v1/bookings/{int(r.live_id)}", headers={"Authorization": f"Bearer {token}"})
            if resp.status_code == 200:
                b = resp.json()
                row["live_status"] = b["status"]
                wid = b.get("worker_id")
                if wid is not None and b["status"] in LIVE_ACCEPTED:
                    row["live_worker_ref"] = ref_of.get(int(wid))
                # otherwise keep the worker whose accept the replay saw (cancelled after assignment)
                row["live_offered"] = row["live_offered"] or b.get("offered_at") is not None
        rows.append(row)
    out = pd.DataFrame(rows, columns=["booking_ref", "live_id", "live_status", "live_worker_ref", "live_offered"])
    out["live_accepted"] = out["live_status"].isin(LIVE_ACCEPTED) | out["live_worker_ref"].notna()
    return out


def _stats_only(table: pd.DataFrame, stats: dict) -> pd.DataFrame:
    """Without the replay log only the deployment's totals (and bookings per district) are known."""
    by = stats.get("by_status", {})
    known = {("ALL", "created"): stats.get("bookings", 0), ("ALL", "completed"): by.get("completed", 0),
             ("ALL", "cancelled"): by.get("cancelled", 0),
             ("ALL", "unfulfilled"): sum(by.get(s, 0) for s in ("pending", "offered")),
             ("ALL", "accepted"): sum(by.get(s, 0) for s in LIVE_ACCEPTED)}
    known |= {(d, "created"): n for d, n in stats.get("by_district", {}).items()}
    live = [known.get((d, m)) for d, m in zip(table["district"], table["metric"], strict=True)]
    table = table.assign(live=pd.array(live, dtype="Int64"))
    return table.assign(diff=table["live"] - table["twin"])


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


def add_arguments(p: argparse.ArgumentParser, command: str) -> None:
    """Options of ``twin-check``."""
    p.add_argument("--trace", required=True, help="the replayed trace [parquet]")
    p.add_argument("--service-url", required=True, help="base URL of the deployment (loopback)")
    p.add_argument("--locust-csv", help="Locust --csv prefix of the replay (for per-booking results)")
    p.add_argument("--out", default="twin-check", help="folder for twin_check.csv and twin_check.png")
    p.add_argument("--admin-token", default=os.environ.get("SEWAMITRA_ADMIN_TOKEN", ""),
                   help="admin bearer token (default $SEWAMITRA_ADMIN_TOKEN)")
    p.add_argument("--allow-remote-host", action="store_true", help="allow a non-loopback --service-url")


def run(args: argparse.Namespace, command: str) -> int:
    """Compare, write the table and plot, print the overall lines."""
    import httpx

    from load.setup import check_loopback

    trace, _ = read_trace(args.trace)
    check_loopback(args.service_url, args.allow_remote_host)
    book = twin_bookings(trace)
    headers = {"Authorization": f"Bearer {args.admin_token}"} if args.admin_token else {}
    with httpx.Client(base_url=args.service_url, timeout=30.0) as c:
        try:
            st = c.get("/v1/admin/stats", headers=headers)
        except httpx.HTTPError as e:
            raise ScenarioError(f"--service-url: cannot reach {args.service_url}: {e}") from None
        if st.status_code != 200:
            raise ScenarioError(f"--service-url: /v1/admin/stats answered {st.status_code} (admin token?)")
        stats = st.json()
        if args.locust_csv:
            log, workers = read_replay_log(args.locust_csv)
            book = book.merge(live_state(c, log, workers, args.admin_token), on="booking_ref", how="left")
    if not args.locust_csv:
        book = book.assign(live_id=pd.NA, live_status=None, live_worker_ref=pd.NA, live_offered=False,
                           live_accepted=False)
    book["live_offered"] = book["live_offered"].fillna(False).astype(bool)
    book["live_accepted"] = book["live_accepted"].fillna(False).astype(bool)
    table = compare(book)
    if not args.locust_csv:
        table = _stats_only(table, stats)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "twin_check.csv", index=False)
    sw = same_worker(book) if args.locust_csv else {}
    pd.DataFrame([sw | {"live_bookings_total": stats.get("bookings", 0)}]).to_csv(out / "twin_check_summary.csv",
                                                                                   index=False)
    plot(table, out / "twin_check.png")
    print(table[table["district"] == "ALL"].drop(columns="district").to_string(index=False))
    print(f"deployment holds {stats.get('bookings', 0)} bookings; trace has {len(book)}")
    if sw:
        print(f"same worker live and in the twin: {sw['same_worker']} of {sw['twin_assigned']} twin-assigned "
              f"({sw['share_of_twin_assigned']:.1%}); of both assigned {sw['share_of_both_assigned']:.1%}")
    if args.locust_csv and Path(f"{args.locust_csv}_replay_summary.json").exists():
        rs = json.loads(Path(f"{args.locust_csv}_replay_summary.json").read_text())
        lag = rs["lag"]
        print(f"replay: schedule lag p50 {lag['p50_ms']:.1f} ms, p99 {lag['p99_ms']:.1f} ms, "
              f"max {lag['max_ms']:.1f} ms; steps skipped (live state differed) {rs['skipped'] or 'none'}; "
              f"409 answers {rs['diverged_409'] or 'none'}")
    print(f"written: {out / 'twin_check.csv'}, {out / 'twin_check.png'}")
    return 0
