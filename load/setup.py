"""Before the clock starts: check the target, then load the trace's actors into the deployment.

``preflight`` finds a dead host, a missing or refused admin token within seconds, so a run
never idles through its run time.  ``preload`` registers the trace's workers (every one
starts unavailable: the trace's shift-start ``status`` rows make them available, as in the
twin), the helpline agent and the helpline callers the way the profile says: a bulk endpoint,
one request each, or "already there" (ids and tokens from a CSV).  Plain ``httpx`` so the
same code serves the Locust master, a single process, the twin check and tests.
"""

from __future__ import annotations

import ipaddress
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pandas as pd

from load.actions import LiveIds, Request, _py, citizen_phone
from load.profile import Call, Preload, Profile, compile_item, dig, render
from sim.errors import InputError

CONNECT_TIMEOUT_S = 3.0
#: Bulk preload requests in flight at once: the next chunk is encoded and sent while the
#: deployment stores the last one (a 52,349-worker preload has to fit in about 3 s).
BULK_IN_FLIGHT = 2


def check_loopback(url: str, allow_remote: bool = False) -> None:
    """``InputError`` unless ``url`` points at this machine (or remote targets are allowed)."""
    host = urlsplit(url).hostname or ""
    if allow_remote:
        return
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = host == "localhost"
    if not ok:
        raise InputError(f"--host: {url!r} is not a loopback address (use --allow-remote-host to target it)")


def client(base_url: str, timeout_s: float = 120.0) -> httpx.Client:
    """An HTTP client for set-up calls (short connect time-out: a dead host fails fast)."""
    return httpx.Client(base_url=base_url, timeout=httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S))


def send(c: httpx.Client, prof: Profile, call: Call, v: dict[str, Any], token: str | None,
         what: str) -> Any:
    """Send one set-up call; ``InputError`` naming the URL and the problem unless it succeeds."""
    req = Request(call.method, render(call.path, v), call.label, call.actor, render(call.body, v), token,
                  render(call.idempotency_key, v) if call.idempotency_key else None, what, prof.auth_for(call.actor))
    url = f"{c.base_url}{req.path}"
    headers = req.headers()
    content = None
    if req.body is not None:
        content = orjson.dumps(req.body, option=orjson.OPT_SERIALIZE_NUMPY)
        headers = headers | {"Content-Type": "application/json"}
    try:
        r = c.request(req.method, req.path, content=content, headers=headers)
    except httpx.HTTPError as e:
        raise InputError(f"{what}: {url}: cannot connect ({type(e).__name__}: {e})") from None
    if r.status_code in (401, 403):
        why = "missing admin token (--admin-token or SEWAMITRA_ADMIN_TOKEN)" if not token else "token refused"
        raise InputError(f"{what}: {url}: {why} ({r.status_code})")
    if r.status_code >= 300:
        raise InputError(f"{what}: {url}: refused with {r.status_code}: {r.text[:200]}")
    try:
        return r.json() if r.content else None
    except ValueError:
        raise InputError(f"{what}: {url}: answer is not JSON") from None


def preflight(c: httpx.Client, prof: Profile, admin_token: str | None) -> None:
    """Fail at once (``InputError``) if the host is down or the admin token is missing or refused."""
    if prof.health is not None:
        send(c, prof, prof.health, {}, None, "health check")
    if prof.admin_check is not None:
        send(c, prof, prof.admin_check, {}, admin_token, "admin check")


def _items(cols: dict[str, list]) -> list[dict[str, Any]]:
    """Column lists → one dict per row (built column-wise: the preload of 52,349 workers is hot)."""
    keys = list(cols)
    return [dict(zip(keys, vals, strict=True)) for vals in zip(*cols.values(), strict=True)]


def _worker_items(trace: pd.DataFrame) -> tuple[list[int], list[dict[str, Any]]]:
    reg = trace[trace["action"] == "register_worker"]
    refs = reg["worker_ref"].astype("int64").tolist()
    return refs, _items({
        "worker_ref": refs, "name": reg["name"].astype(str).tolist(), "phone": reg["phone"].astype(str).tolist(),
        "district": reg["district"].astype(str).tolist(), "lat": reg["lat"].astype(float).tolist(),
        "lon": reg["lon"].astype(float).tolist(), "skills": [c.split(",") for c in reg["category"].astype(str)]})


def _caller_items(trace: pd.DataFrame) -> tuple[list[int], list[dict[str, Any]]]:
    hl = trace[(trace["action"] == "create_booking") & (trace["channel"] == "helpline")]
    hl = hl.drop_duplicates("citizen_ref")
    refs = [int(x) for x in hl["citizen_ref"]]
    items = [{"citizen_ref": ref, "caller_name": f"Caller {ref}", "caller_phone": citizen_phone(ref),
              "district": r.district, "lat": _py(r.lat), "lon": _py(r.lon)}
             for ref, r in zip(refs, hl.itertuples(index=False), strict=True)]
    return refs, items


def _load(c: httpx.Client, prof: Profile, pre: Preload, kind: str, refs: list[int], items: list[dict],
          admin_token: str | None) -> tuple[dict[int, Any], dict[int, str]]:
    """Live id and token of each ref, by the preload's mode."""
    if pre.mode == "none" or not refs:
        return {}, {}
    if pre.mode == "csv":
        return _from_csv(pre.csv or "", kind, refs)
    call = pre.call
    assert call is not None
    token = admin_token if call.actor == "admin" else None
    ids: list[Any] = []
    toks: list[Any] = []
    if pre.mode == "bulk":
        fill = compile_item(pre.item)
        chunks = ([fill(it) for it in items[lo:lo + pre.chunk]] for lo in range(0, len(items), pre.chunk))
        with ThreadPoolExecutor(BULK_IN_FLIGHT) as pool:
            # answers come back in the chunks' order, whatever order the deployment stored them in
            answers = pool.map(lambda chunk: (chunk, send(c, prof, call, {"items": chunk}, token,
                                                          f"preload {kind}")), chunks)
            try:
                for chunk, out in answers:
                    got_ids, got_toks = dig(out, pre.ids) or [], dig(out, pre.tokens) if pre.tokens else None
                    if len(got_ids) != len(chunk) or (got_toks is not None and len(got_toks) != len(chunk)):
                        raise InputError(f"preload {kind}: {c.base_url}{call.path}: answered {len(got_ids)} ids "
                                         f"for {len(chunk)} {kind} (profile paths ids={pre.ids!r} "
                                         f"tokens={pre.tokens!r})")
                    ids += got_ids
                    toks += got_toks if got_toks is not None else [None] * len(chunk)
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)  # a refused chunk: send no more of them
                raise
    else:
        for it in items:
            body = render(pre.item, it) if pre.item is not None else None
            out = send(c, prof, call, it | {"item": body}, token, f"preload {kind}")
            ids.append(dig(out, pre.ids))
            toks.append(dig(out, pre.tokens))
            if ids[-1] is None:
                raise InputError(f"preload {kind}: {c.base_url}{call.path}: no id at {pre.ids!r} in the answer")
    live = dict(zip(refs, ids, strict=True))
    return live, {r: t for r, t in zip(refs, toks, strict=True) if t is not None}


def _from_csv(path: str, kind: str, refs: list[int]) -> tuple[dict[int, Any], dict[int, str]]:
    """Actors already in the deployment: ``ref,live_id,token`` rows for every ref of the trace."""
    try:
        df = pd.read_csv(path, dtype={"live_id": str, "token": str})
    except OSError as e:
        raise InputError(f"preload {kind}: cannot read {path!r}: {e}") from None
    if not {"ref", "live_id"} <= set(df.columns):
        raise InputError(f"preload {kind}: {path!r} needs columns ref,live_id[,token]")
    df = df.set_index("ref")
    missing = [r for r in refs if r not in df.index]
    if missing:
        raise InputError(f"preload {kind}: {path!r} lacks {len(missing)} of the trace's refs (first {missing[0]})")
    live = {r: _num(df.at[r, "live_id"]) for r in refs}
    toks = {r: str(df.at[r, "token"]) for r in refs if "token" in df and pd.notna(df.at[r, "token"])}
    return live, toks


def _num(x: str) -> Any:
    """CSV ids that look like integers become integers (what a JSON API would answer)."""
    return int(x) if str(x).isdigit() else x


def preload(base_url: str, trace: pd.DataFrame, prof: Profile, admin_token: str | None,
            timeout_s: float = 120.0) -> LiveIds:
    """Check the target, load workers, the agent and helpline callers; return the live identities."""
    with client(base_url, timeout_s) as c:
        preflight(c, prof, admin_token)
        refs, items = _worker_items(trace)
        live, tok = _load(c, prof, prof.preload.workers, "workers", refs, items, admin_token)
        agent = None
        if prof.preload.agent is not None:
            out = send(c, prof, prof.preload.agent, {}, admin_token, "preload agent")
            agent = dig(out, prof.preload.agent.returns.get("token", "token"))
        crefs, citems = _caller_items(trace)
        _, callers = _load(c, prof, prof.preload.callers, "callers", crefs, citems, admin_token)
    return LiveIds(live, {live[r]: t for r, t in tok.items()}, agent, admin_token or None, callers)


def ids_to_message(ids: LiveIds, t0: float, part: int, parts: int) -> dict:
    """The setup message the master sends each worker process (msgpack-able)."""
    refs = sorted(ids.worker_id)
    return {"refs": refs, "live": [ids.worker_id[r] for r in refs],
            "tokens": [ids.worker_token.get(ids.worker_id[r]) for r in refs],
            "agent": ids.agent_token, "admin": ids.admin_token, "t0": t0, "part": part, "parts": parts,
            "callers": [[k, v] for k, v in sorted(ids.caller_token.items())]}


def ids_from_message(m: dict) -> tuple[LiveIds, float, int, int]:
    """Inverse of ``ids_to_message``: live ids, the schedule start [unix s], partition."""
    wid = dict(zip(m["refs"], m["live"], strict=True))
    tok = {k: v for k, v in zip(m["live"], m["tokens"], strict=True) if v is not None}
    callers = {int(k): v for k, v in m.get("callers", [])}
    return LiveIds(wid, tok, m["agent"], m["admin"], callers), float(m["t0"]), int(m["part"]), int(m["parts"])


def start_time(lead_s: float = 1.0) -> float:
    """The common schedule start of every replay process [unix s], a little ahead of now."""
    return time.time() + lead_s
