"""Helpline callers: phone numbers in E.164, caller records, and claiming them with a one-time code.

A helpline agent books for a caller found by phone among *caller records* (citizens with
``origin = 'helpline'``, never a self-registered account).  A self-registered citizen with
the same number sees and manages those bookings only after claiming the record: the server
sends a one-time code to the number (in the reference deployment: a row in the ``outbox``
table that admins and tests read, ``GET /v1/admin/outbox``) and the citizen sends it back.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from service import db
from service.auth import Caller
from service.errors import conflict, forbidden, unprocessable

C, OTP, X = db.citizens, db.otp_codes, db.outbox
#: The numbers the API accepts: Indian, optional +91, 91 or 0, then 10 digits (the first 1-9),
#: single spaces or dashes between.  The request schemas use the same pattern.
PHONE_PATTERN = r"^(\+91|91|0)?[ -]?[1-9](?:[ -]?[0-9]){9}$"
_PHONE = re.compile(PHONE_PATTERN)
_SEPARATORS = str.maketrans("", "", " -")
CODE_DIGITS = 6
CODE_TTL_S = 600.0
MAX_ATTEMPTS = 5


def e164(raw: str) -> str:
    """``raw`` as an E.164 number (``+919812345678``); ``ValueError`` unless it matches ``PHONE_PATTERN``.

    Within the pattern the national number is always the last 10 digits, so E.164 is ``+91``
    and those (what ``phonenumbers`` answers for every such input: ``tests/test_callers.py``
    checks it; parsing with ``phonenumbers`` cost 30 µs a number, about a quarter of a bulk preload).
    """
    if _PHONE.fullmatch(raw) is None:
        raise ValueError("not an Indian phone number (10 digits, optionally after +91, 91 or 0)")
    return e164_of_matched(raw)


def e164_of_matched(raw: str) -> str:
    """E.164 of a number already checked against ``PHONE_PATTERN`` (the request schemas check it first)."""
    return "+91" + raw.translate(_SEPARATORS)[-10:]


def caller_record(conn: Connection, name: str, phone: str, district: str, lat: float, lon: float,
                  now: float) -> int:
    """The helpline caller record of ``phone`` (E.164), created on first call; its citizen id."""
    cid = conn.execute(select(C.c.id).where(C.c.phone == phone, C.c.origin == "helpline")
                       .order_by(C.c.id).limit(1)).scalar()
    if cid is None:
        cid = conn.execute(insert(C).values(name=name, phone=phone, district=district, lat=lat, lon=lon,
                                            created_at=now, origin="helpline")).inserted_primary_key[0]
    return cid


def owns(conn: Connection, caller: Caller, citizen_id: int) -> bool:
    """True if ``caller`` is citizen ``citizen_id`` or has claimed that caller record."""
    if caller.role != "citizen":
        return False
    if caller.id == citizen_id:
        return True
    return conn.execute(select(C.c.claimed_by).where(C.c.id == citizen_id)).scalar() == caller.id


def _digest(citizen_id: int, code: str) -> str:
    return hashlib.sha256(f"{citizen_id}:{code}".encode()).hexdigest()


def claim(conn: Connection, caller: Caller, citizen_id: int, code: str | None, now: float) -> tuple[int, dict]:
    """Without ``code``: send a new one-time code (202).  With it: claim the records (200)."""
    if not (caller.role == "citizen" and caller.id == citizen_id):
        raise forbidden("only the citizen may claim helpline bookings for their own number")
    phone = conn.execute(select(C.c.phone).where(C.c.id == citizen_id)).scalar_one()
    if code is None:
        new = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        conn.execute(delete(OTP).where(OTP.c.citizen_id == citizen_id))
        conn.execute(insert(OTP).values(citizen_id=citizen_id, code_hash=_digest(citizen_id, new),
                                      expires_at=now + CODE_TTL_S, attempts=0))
        conn.execute(insert(X).values(phone=phone, body=f"Sewa Mitra: your code is {new}", created_at=now))
        return 202, {"citizen_id": citizen_id, "sent_to": phone[:-4] + "****", "expires_in_s": CODE_TTL_S}
    otp = conn.execute(select(OTP).where(OTP.c.citizen_id == citizen_id).with_for_update()).first()
    if otp is None or otp.expires_at < now or otp.attempts >= MAX_ATTEMPTS:
        raise conflict("no valid code: ask for a new one")
    if not secrets.compare_digest(otp.code_hash, _digest(citizen_id, code)):
        conn.execute(update(OTP).where(OTP.c.citizen_id == citizen_id).values(attempts=OTP.c.attempts + 1))
        return 422, {"detail": "code: wrong code"}
    conn.execute(delete(OTP).where(OTP.c.citizen_id == citizen_id))
    records = [r for (r,) in conn.execute(select(C.c.id).where(
        C.c.phone == phone, C.c.origin == "helpline", C.c.claimed_by.is_(None)))]
    if records:
        conn.execute(update(C).where(C.c.id.in_(records)).values(claimed_by=citizen_id))
    return 200, {"citizen_id": citizen_id, "claimed": records}


def outbox(conn: Connection, phone: str | None, limit: int) -> list[dict[str, Any]]:
    """Messages sent (newest first), optionally to one number."""
    q = select(X).order_by(X.c.id.desc()).limit(limit)
    if phone:
        try:
            q = q.where(X.c.phone == e164(phone))
        except ValueError as e:
            raise unprocessable(f"phone: {e}") from None
    return [{"id": r.id, "phone": r.phone, "body": r.body, "created_at": r.created_at} for r in conn.execute(q)]
