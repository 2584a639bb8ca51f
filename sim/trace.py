"""Export a simulated run as a request trace, for open-model replay against a live deployment.

One row per API request the twin's actors would have sent, in send order.  Columns:

=============  =========  ==============================================================
column         dtype      meaning
=============  =========  ==============================================================
seq            int64      position in send order (0..n-1); ties in time keep causal order
t_min          float64    scheduled time [minutes since scenario start]; registrations at 0
actor          str        ``admin`` (worker registration), ``citizen``, ``worker``, ``agent``
action         str        ``register_worker``, ``register_citizen``, ``create_booking``,
                          ``accept``, ``decline``, ``start``, ``complete``, ``cancel``,
                          ``pay``, ``rate``, ``payout``, ``status``
booking_ref    Int64      the twin's booking id (every step of one booking carries it)
worker_ref     Int64      the twin's worker id (the acting or registered worker; on
                          ``create_booking`` the worker the twin finally assigned)
citizen_ref    Int64      the twin's citizen id (``register_citizen``/``create_booking``)
offer_index    Int64      0-based offer number of ``accept``/``decline`` within the booking
district       str        district of the booking or worker
category       str        service category (booking) or comma-joined skills (worker)
channel        str        ``app``/``web``/``helpline`` on booking rows
lat, lon       float64    job or worker home location [degrees]
amount_paise   Int64      payment or payout amount [paise]
method         str        ``cash``/``online`` on ``pay`` rows
stars          Int64      rating on ``rate`` rows [1-5]
available      boolean    availability on ``status`` rows (shift start/end)
name, phone    str        worker identity on ``register_worker`` rows
twin_status    str        the twin's final status on ``create_booking`` rows
=============  =========  ==============================================================

How replay maps the twin onto a live system: the twin's decision for offer *k* of a booking
(accept/decline; a timeout is sent as a decline at the time-out) is applied to whichever
worker the live system made its *k*-th offer to.  A ``withdrawn`` offer (someone else took
a broadcast) sends nothing.  Bookings that end ``unfulfilled`` send nothing after the
offers: the live platform must give up by itself.  Payments and payouts come from the
``ledger`` table when the run has one, otherwise one payment of the booking's price
(method ``cash``) at completion and no payouts.  Payments are sent with the live price (read
from the deployment), which may differ from the twin's per-booking price spread.  Rows are partitioned across load
generator processes by booking (worker rows by worker) so a booking's steps, which depend
on the live id returned at creation, stay in one process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import InputError

#: Causal order of actions that share a timestamp (a booking's rate follows its pay ...).
ACTION_RANK = {
    "register_worker": 0, "status": 1, "register_citizen": 2, "create_booking": 3, "decline": 4,
    "accept": 5, "cancel": 6, "start": 7, "complete": 8, "pay": 9, "rate": 10, "payout": 11,
}
COLUMNS = {
    "seq": "int64", "t_min": "float64", "actor": "str", "action": "str",
    "booking_ref": "Int64", "worker_ref": "Int64", "citizen_ref": "Int64", "offer_index": "Int64",
    "district": "str", "category": "str", "channel": "str", "lat": "float64", "lon": "float64",
    "amount_paise": "Int64", "method": "str", "stars": "Int64", "available": "boolean",
    "name": "str", "phone": "str", "twin_status": "str",
}
#: Requests sent before the clock starts (bulk-loaded), not replayed in time.
PRELOAD_ACTIONS = ("register_worker",)


def _frame(n: int, **cols: object) -> pd.DataFrame:
    """A block of trace rows with every column present (missing ones null)."""
    out = {}
    for c, dtype in COLUMNS.items():
        if c == "seq":
            continue
        v = cols.get(c)
        if v is None:
            out[c] = pd.Series([pd.NA] * n if dtype != "float64" else np.full(n, np.nan), dtype=dtype)
        else:
            arr = np.broadcast_to(np.asarray(v, dtype=object if dtype == "str" else None), (n,))
            out[c] = pd.Series(arr, dtype=dtype)
    return pd.DataFrame(out)


def _worker_rows(workers: pd.DataFrame, horizon_min: float) -> list[pd.DataFrame]:
    """Registrations of every worker, and shift start/end status updates of active ones [minutes]."""
    w = workers
    reg = _frame(len(w), t_min=0.0, actor="admin", action="register_worker", worker_ref=w["worker_id"],
                 district=w["district"], category=w["skills"], lat=w["lat"], lon=w["lon"],
                 name=w["name"], phone=w["phone"].astype(str))
    act = w[w["active"].astype(bool)]
    days = np.arange(int(np.ceil(horizon_min / 1440.0)))
    blocks = [reg]
    for col, avail in (("shift_start_h", True), ("shift_end_h", False)):
        t = (days[None, :] * 1440.0 + act[col].to_numpy(np.float64)[:, None] * 60.0).ravel()
        ids = np.repeat(act["worker_id"].to_numpy(np.int64), days.size)
        keep = t < horizon_min
        rep = {c: np.repeat(act[c].to_numpy(), days.size)[keep] for c in ("district", "lat", "lon")}
        blocks.append(_frame(int(keep.sum()), t_min=t[keep], actor="worker", action="status",
                             worker_ref=ids[keep], available=avail, **rep))
    return blocks


def _booking_rows(b: pd.DataFrame, offers: pd.DataFrame) -> list[pd.DataFrame]:
    """Citizen, agent and worker requests of each booking [minutes]."""
    blocks = []
    web = b[b["channel"] != "helpline"]
    blocks.append(_frame(len(web), t_min=web["created_min"], actor="citizen", action="register_citizen",
                         booking_ref=web["booking_id"], citizen_ref=web["citizen_id"],
                         district=web["district"], lat=web["lat"], lon=web["lon"]))
    actor = np.where(b["channel"] == "helpline", "agent", "citizen")
    blocks.append(_frame(len(b), t_min=b["created_min"], actor=actor, action="create_booking",
                         booking_ref=b["booking_id"], citizen_ref=b["citizen_id"], worker_ref=b["worker_id"],
                         district=b["district"], category=b["category"], channel=b["channel"],
                         lat=b["lat"], lon=b["lon"], twin_status=b["status"]))
    o = offers[offers["outcome"] != "withdrawn"].copy()
    if len(o):
        # The offer number within a booking: offers are logged in time order per booking.
        allo = offers.assign(_k=offers.groupby("booking_id").cumcount())
        o = allo[allo["outcome"] != "withdrawn"]
        o = o.merge(b[["booking_id", "district", "category"]], on="booking_id", how="left")
        blocks.append(_frame(len(o), t_min=o["responded_min"], actor="worker",
                             action=np.where(o["outcome"] == "accepted", "accept", "decline"),
                             booking_ref=o["booking_id"], worker_ref=o["worker_id"], offer_index=o["_k"],
                             district=o["district"], category=o["category"]))
    for action, col, mask in (
        ("start", "started_min", b["started_min"].notna()),
        ("complete", "completed_min", b["completed_min"].notna()),
    ):
        s = b[mask]
        blocks.append(_frame(len(s), t_min=s[col], actor="worker", action=action, booking_ref=s["booking_id"],
                             worker_ref=s["worker_id"], district=s["district"], category=s["category"]))
    c = b[b["status"] == "cancelled"]
    blocks.append(_frame(len(c), t_min=c["ended_min"], actor=np.where(c["channel"] == "helpline", "agent",
                                                                     "citizen"),
                         action="cancel", booking_ref=c["booking_id"], citizen_ref=c["citizen_id"],
                         district=c["district"]))
    r = b[b["rating"].notna() & b["completed_min"].notna()]
    # The twin does not time ratings; the citizen rates right after paying.
    blocks.append(_frame(len(r), t_min=r["completed_min"], actor="citizen", action="rate",
                         booking_ref=r["booking_id"], citizen_ref=r["citizen_id"], worker_ref=r["worker_id"],
                         district=r["district"], stars=r["rating"].round().astype("int64")))
    return blocks


def _money_rows(b: pd.DataFrame, ledger: pd.DataFrame | None) -> list[pd.DataFrame]:
    """Payments (per completed booking) and worker payouts [paise]."""
    done = b[b["completed_min"].notna()]
    if ledger is None or not len(ledger) or "kind" not in ledger:
        return [_frame(len(done), t_min=done["completed_min"], actor="citizen", action="pay",
                       booking_ref=done["booking_id"], citizen_ref=done["citizen_id"],
                       district=done["district"], amount_paise=done["price_paise"], method="cash")]
    kinds = ledger["kind"].astype(str)
    blocks = []
    # One payment per transaction: its positive legs sum to the amount paid.
    pay = ledger[kinds.str.startswith("payment") & (ledger["amount_paise"] > 0)]
    pay = pay.groupby("txn_id", sort=True).agg(t_min=("time_min", "min"), booking_id=("booking_id", "first"),
                                               amount=("amount_paise", "sum"), kind=("kind", "first"))
    pay = pay.merge(b[["booking_id", "citizen_id", "district"]], on="booking_id", how="inner")
    method = np.where(pay["kind"].str.contains("cash"), "cash", "online")
    blocks.append(_frame(len(pay), t_min=pay["t_min"], actor="citizen", action="pay",
                         booking_ref=pay["booking_id"], citizen_ref=pay["citizen_id"], district=pay["district"],
                         amount_paise=pay["amount"], method=method))
    # A payout's wallet leg is negative: wallet:<worker> → transit (sim.ledger.payout_legs).
    po = ledger[(kinds == "payout") & (ledger["amount_paise"] < 0)]
    wid = po["account"].astype(str).str.extract(r"^wallet:(\d+)$")[0]
    po = po.assign(worker_id=pd.to_numeric(wid, errors="coerce")).dropna(subset=["worker_id"])
    po = po.groupby("txn_id", sort=True).agg(t_min=("time_min", "min"), worker_id=("worker_id", "first"),
                                             amount=("amount_paise", "sum"))
    blocks.append(_frame(len(po), t_min=po["t_min"], actor="worker", action="payout",
                         worker_ref=po["worker_id"].astype("int64"), amount_paise=-po["amount"]))
    return blocks


def build_trace(tables: dict[str, pd.DataFrame], horizon_min: float) -> pd.DataFrame:
    """The request trace of a run's tables (``bookings``, ``offers``, ``workers``, optional ``ledger``)."""
    b = tables["bookings"]
    blocks = _worker_rows(tables["workers"], horizon_min)
    blocks += _booking_rows(b, tables["offers"])
    blocks += _money_rows(b, tables.get("ledger"))
    tr = pd.concat([x for x in blocks if len(x)], ignore_index=True)
    rank = tr["action"].map(ACTION_RANK).to_numpy()
    keys = (tr["worker_ref"].fillna(-1).to_numpy(np.int64), tr["offer_index"].fillna(-1).to_numpy(np.int64),
            tr["booking_ref"].fillna(-1).to_numpy(np.int64), rank, tr["t_min"].to_numpy())
    tr = tr.iloc[np.lexsort(keys)].reset_index(drop=True)
    tr.insert(0, "seq", np.arange(len(tr), dtype=np.int64))
    return tr


def partition(trace: pd.DataFrame, parts: int, index: int) -> pd.DataFrame:
    """The rows one of ``parts`` replay processes sends: its bookings, then its workers' own rows.

    A booking's rows all go to process ``booking_ref % parts`` (they depend on the live id
    returned by its creation); rows without a booking go by ``worker_ref % parts``.
    Preloaded rows (worker registrations) belong to no partition.
    """
    if parts < 1 or not 0 <= index < parts:
        raise InputError(f"partition: need 0 <= index < parts (got {index} of {parts})")
    key = trace["booking_ref"].fillna(trace["worker_ref"]).fillna(-1).to_numpy(np.int64)
    mine = (key % parts == index) & ~trace["action"].isin(PRELOAD_ACTIONS).to_numpy()
    return trace[mine]


def touched_workers(trace: pd.DataFrame) -> np.ndarray:
    """Twin ids of the workers some booking touches (offered, assigned, started, completed, rated)."""
    rows = trace[trace["booking_ref"].notna() & trace["worker_ref"].notna()]
    return np.unique(rows["worker_ref"].to_numpy(np.int64))


def sample_workers(trace: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    """Keep the rows of a random ``fraction`` of workers and of every worker a booking touches.

    Rows of dropped workers (registration, shift status, payouts) go; booking rows all stay.
    The draw is the run seed's ``trace-sample`` stream, so the same seed keeps the same workers.
    """
    from sim.seeds import Streams

    if not 0.0 <= fraction <= 1.0:
        raise InputError(f"--sample-workers: {fraction} is not a fraction in [0, 1]")
    reg = trace.loc[trace["action"] == "register_worker", "worker_ref"].to_numpy(np.int64)
    keep = np.unique(reg)
    keep = keep[Streams(seed)["trace-sample"].random(keep.size) < fraction]
    keep = np.union1d(keep, touched_workers(trace))
    own = trace["booking_ref"].isna() & trace["worker_ref"].notna()
    out = trace[~own | trace["worker_ref"].isin(keep)]
    return _renumber(out)


def bookings_only(trace: pd.DataFrame) -> pd.DataFrame:
    """Bookings and their steps, and only the workers they touch (their registration and shifts); no payouts."""
    out = sample_workers(trace, 0.0, 0)
    return _renumber(out[out["action"] != "payout"])


def compress_idle(trace: pd.DataFrame, keep_min: float = 1.0) -> tuple[pd.DataFrame, list[list[float]]]:
    """Shrink every simulated hour without booking activity (nights) to ``keep_min`` minutes.

    Time inside busy hours is untouched; an idle hour's rows (shift changes) keep their order
    and relative place.  Returns the trace and the map ``[[hour_start_min, new_start_min], ...]``
    of every hour (for the metadata).
    """
    if not 0 < keep_min <= 60:
        raise InputError(f"--compress-idle: {keep_min} minutes is not in (0, 60]")
    t = trace["t_min"].to_numpy(np.float64)
    hours = np.floor(t / 60.0).astype(np.int64)
    n = int(hours.max()) + 1 if len(hours) else 0
    busy = np.zeros(n, dtype=bool)
    busy[np.unique(hours[trace["booking_ref"].notna().to_numpy()])] = True
    length = np.where(busy, 60.0, keep_min)
    start = np.concatenate([[0.0], np.cumsum(length)[:-1]])
    out = trace.copy()
    out["t_min"] = start[hours] + (t - hours * 60.0) * length[hours] / 60.0
    return out, [[h * 60.0, float(start[h])] for h in range(n)]


def _renumber(trace: pd.DataFrame) -> pd.DataFrame:
    out = trace.reset_index(drop=True)
    out["seq"] = np.arange(len(out), dtype=np.int64)
    return out


def trace_meta(sc: Any, seed: int) -> dict[str, Any]:
    """What a deployment must match for a fair twin check: policy with resolved parameters, clocks, seed."""
    from sim.policies import make_policy

    lc = sc.lifecycle
    params = make_policy(sc.dispatch.policy, sc.dispatch.params).params.model_dump(mode="json")
    return {"scenario": sc.name, "seed": int(seed), "horizon_min": sc.horizon_min,
            "start_date": sc.start_date.isoformat(), "policy": sc.dispatch.policy, "policy_params": params,
            "accept_timeout_min": lc.accept_timeout_min, "retry_interval_min": lc.retry_interval_min,
            "max_search_min": lc.max_search_min, "max_offers": lc.max_offers}


def write_trace(trace: pd.DataFrame, path: str | Path, meta: dict) -> Path:
    """Write a trace as parquet with ``meta`` (scenario, seed, horizon) in the file's metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(trace, preserve_index=False)
    md = dict(table.schema.metadata or {})
    md[b"sewamitra.trace"] = json.dumps(meta, sort_keys=True).encode()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.replace_schema_metadata(md), p, compression="zstd")
    return p


def read_trace(path: str | Path) -> tuple[pd.DataFrame, dict]:
    """Read a trace and its metadata; ``InputError`` if it is not a trace file."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as e:
        raise InputError(f"--trace: cannot read {str(path)!r}: {e}") from None
    missing = set(COLUMNS) - set(table.column_names)
    if missing:
        raise InputError(f"--trace: {str(path)!r} lacks trace columns {sorted(missing)}")
    meta = json.loads((table.schema.metadata or {}).get(b"sewamitra.trace", b"{}"))
    return table.to_pandas(), meta
