"""Before the clock starts: load the trace's workers (and a helpline agent) into the deployment.

Uses the admin bulk loader ``POST /v1/admin/workers:bulk`` in chunks; every worker starts
unavailable (shift-start ``status`` rows of the trace make them available), matching the
twin where a worker takes jobs only on shift.  Plain ``httpx`` so the same code serves the
Locust master, a single process, the twin check and tests.
"""

from __future__ import annotations

import ipaddress
import time
from urllib.parse import urlsplit

import httpx
import pandas as pd

from load.actions import LiveIds, citizen_phone
from sim.errors import ScenarioError

BULK_CHUNK = 5000


def check_loopback(url: str, allow_remote: bool = False) -> None:
    """``ScenarioError`` unless ``url`` points at this machine (or remote targets are allowed)."""
    host = urlsplit(url).hostname or ""
    if allow_remote:
        return
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = host == "localhost"
    if not ok:
        raise ScenarioError(f"--host: {url!r} is not a loopback address (use --allow-remote-host to target it)")


def _post(client: httpx.Client, path: str, body: dict, token: str | None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = client.post(path, json=body, headers=headers)
    if r.status_code >= 300:
        raise ScenarioError(f"preload: {path} answered {r.status_code}: {r.text[:200]}")
    return r.json()


def preload(base_url: str, trace: pd.DataFrame, admin_token: str, timeout_s: float = 120.0) -> LiveIds:
    """Register the trace's workers and one helpline agent; return the live identities."""
    reg = trace[trace["action"] == "register_worker"]
    wid: dict[int, int] = {}
    tok: dict[int, str] = {}
    with httpx.Client(base_url=base_url, timeout=timeout_s) as c:
        for lo in range(0, len(reg), BULK_CHUNK):
            part = reg.iloc[lo:lo + BULK_CHUNK]
            body = {"workers": [
                {"name": r.name, "phone": str(r.phone), "district": r.district, "lat": float(r.lat),
                 "lon": float(r.lon), "skills": str(r.category).split(",")}
                for r in part.itertuples(index=False)]}
            out = _post(c, "/v1/admin/workers:bulk", body, admin_token)
            for ref, i, t in zip(part["worker_ref"], out["ids"], out["tokens"], strict=True):
                wid[int(ref)] = int(i)
                tok[int(i)] = t
        agent = _post(c, "/v1/admin/agents", {"name": "Replay agent"}, admin_token)["token"]
        callers = _preload_callers(c, trace, admin_token)
    return LiveIds(wid, tok, agent, admin_token, callers)


def _preload_callers(c: httpx.Client, trace: pd.DataFrame, admin_token: str) -> dict[int, str]:
    """Register helpline callers up front (the service finds them by phone when an agent books).

    Without their tokens the replay could not send a caller's cancel, payment or rating: the
    API gives those to citizens only.
    """
    hl = trace[(trace["action"] == "create_booking") & (trace["channel"] == "helpline")]
    out: dict[int, str] = {}
    for lo in range(0, len(hl), BULK_CHUNK):
        part = hl.iloc[lo:lo + BULK_CHUNK]
        body = {"citizens": [
            {"name": f"Caller {int(r.citizen_ref)}", "phone": citizen_phone(int(r.citizen_ref)),
             "district": r.district, "lat": float(r.lat), "lon": float(r.lon)}
            for r in part.itertuples(index=False)], "origin": "helpline"}
        got = _post(c, "/v1/admin/citizens:bulk", body, admin_token)
        out.update(zip((int(x) for x in part["citizen_ref"]), got["tokens"], strict=True))
    return out


def ids_to_message(ids: LiveIds, t0: float, part: int, parts: int) -> dict:
    """The setup message the master sends each worker process (msgpack-able)."""
    refs = sorted(ids.worker_id)
    return {"refs": refs, "live": [ids.worker_id[r] for r in refs],
            "tokens": [ids.worker_token[ids.worker_id[r]] for r in refs],
            "agent": ids.agent_token, "admin": ids.admin_token, "t0": t0, "part": part, "parts": parts,
            "callers": [[k, v] for k, v in sorted(ids.caller_token.items())]}


def ids_from_message(m: dict) -> tuple[LiveIds, float, int, int]:
    """Inverse of ``ids_to_message``: live ids, the schedule start [unix s], partition."""
    wid = dict(zip(m["refs"], m["live"], strict=True))
    tok = dict(zip(m["live"], m["tokens"], strict=True))
    callers = {int(k): v for k, v in m.get("callers", [])}
    return LiveIds(wid, tok, m["agent"], m["admin"], callers), float(m["t0"]), int(m["part"]), int(m["parts"])


def start_time(lead_s: float = 1.0) -> float:
    """The common schedule start of every replay process [unix s], a little ahead of now."""
    return time.time() + lead_s
