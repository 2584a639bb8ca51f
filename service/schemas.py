"""Request and response bodies of API v1.

Requests forbid unknown fields, so a client can never set a price, a status or a worker
through the body.  The OpenAPI description is as strict as the validation: places inside
Uttar Pradesh's bounding box, and (added by :func:`strict_openapi`) districts and the
scenario's categories as enums.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from service.callers import PHONE_PATTERN, e164_of_matched
from service.reference import UP_BBOX

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100,
                                        pattern=r"^[^\x00-\x1f\x7f]+$")]
#: An Indian number: optional +91, 91 or 0, then 10 digits (spaces or dashes between), stored as E.164.
Phone = Annotated[str, StringConstraints(pattern=PHONE_PATTERN), AfterValidator(e164_of_matched)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=40)]
# Places must lie in Uttar Pradesh (its bounding box): the schema says what the service accepts.
Lat = Annotated[float, Field(ge=UP_BBOX[0], le=UP_BBOX[1], allow_inf_nan=False, description="[degrees]")]
Lon = Annotated[float, Field(ge=UP_BBOX[2], le=UP_BBOX[3], allow_inf_nan=False, description="[degrees]")]
Paise = Annotated[int, Field(gt=0, le=10**12, description="[paise]")]


class Request(BaseModel):
    """Base of request bodies: unknown fields are an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class WorkerIn(Request):
    """A worker registering; ``skills`` are category keys of the scenario's catalog."""

    name: Name
    phone: Phone
    district: Key
    lat: Lat
    lon: Lon
    skills: list[Key] = Field(min_length=1, max_length=40, json_schema_extra={"uniqueItems": True})


class CitizenIn(Request):
    """A citizen registering."""

    name: Name
    phone: Phone
    district: Key
    lat: Lat
    lon: Lon


class AgentIn(Request):
    """A helpline agent."""

    name: Name


class WorkersBulkIn(Request):
    """Many workers at once (admin; loading a scenario's workforce before a replay)."""

    workers: list[WorkerIn] = Field(min_length=1, max_length=20_000)
    available: bool = Field(False, description="mark them available at once")


class CitizensBulkIn(Request):
    """Many citizens at once (admin)."""

    citizens: list[CitizenIn] = Field(min_length=1, max_length=20_000)
    origin: Literal["app", "helpline"] = Field(
        "app", description="helpline: caller records with tokens (a replay cancels, pays and rates for them)")


class StatusIn(Request):
    """A worker's availability and position."""

    available: bool
    lat: Lat
    lon: Lon


class BookingIn(Request):
    """A citizen's booking."""

    category: Key
    district: Key
    lat: Lat
    lon: Lon
    channel: Literal["app", "web"] = "app"


class HelplineBookingIn(Request):
    """A booking a helpline agent makes for a caller (found by phone, else registered)."""

    caller_name: Name
    caller_phone: Phone
    category: Key
    district: Key
    lat: Lat
    lon: Lon


class ClaimIn(Request):
    """Claim helpline caller records with this citizen's number: no code asks for one."""

    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")] | None = None


class RatingIn(Request):
    """The citizen's rating of a completed booking."""

    stars: int = Field(ge=1, le=5)


class PaymentIn(Request):
    """Payment of a booking: the amount must equal the booking's price."""

    method: Literal["cash", "online"]
    amount_paise: Paise


class PayoutIn(Request):
    """A worker withdrawing from the wallet to the bank."""

    amount_paise: Paise


class OutboxQuery(BaseModel):
    """``GET /v1/admin/outbox``'s query: ``phone`` (E.164 or local) filters; at most ``limit`` messages."""

    phone: str | None = Field(None, max_length=25)
    limit: int = Field(100, ge=1, le=1000)


class Created(BaseModel):
    """A new citizen, worker or agent and its bearer token (shown once)."""

    id: int
    token: str


class CreatedMany(BaseModel):
    """Ids and tokens of a bulk load, in the request's order."""

    ids: list[int]
    tokens: list[str]


class WorkerOut(BaseModel):
    """A worker's public state."""

    id: int
    district: str
    available: bool
    lat: float
    lon: float
    active_booking_id: int | None


class BookingOut(BaseModel):
    """A booking; times are unix seconds, ``None`` until they happen."""

    id: int
    status: Literal["pending", "offered", "accepted", "in_progress", "completed", "cancelled",
                    "unfulfilled"]
    worker_id: int | None = None  # left out while pending
    citizen_id: int | None = None
    category: str | None = None
    district: str | None = None
    channel: str | None = None
    price_paise: int | None = None
    paid_paise: int | None = None
    rating: int | None = None
    created_at: float | None = None
    offered_at: float | None = None


class PaymentOut(BaseModel):
    """An accepted payment (the ledger transaction that recorded it)."""

    booking_id: int
    txn_id: int
    method: str
    amount_paise: int


class WalletOut(BaseModel):
    """A worker's wallet [paise]."""

    worker_id: int
    balance_paise: int
    credited_paise: int  # put into the wallet by completed online jobs (price − commission)
    withdrawn_paise: int


class PayoutOut(BaseModel):
    """A payout on its way to the bank."""

    worker_id: int
    txn_id: int
    amount_paise: int
    balance_paise: int


class ConfigOut(BaseModel):
    """The deployment's rules (``GET /v1/admin/config``); times in minutes of deployment time."""

    policy: str
    policy_params: dict
    radius_km: float = Field(description="[km]")
    offer_timeout_min: float = Field(description="[minutes]")
    max_offers: int
    retry_interval_min: float = Field(description="[minutes]")
    max_search_min: float = Field(description="[minutes]")
    settlement_delay_days: float = Field(description="payout settlement T+n [days]")
    time_scale: float = Field(description="deployment minutes per wall-clock minute")
    scenario: str
    seed: int
    commission_bp: int = Field(description="[basis points]")


class ClaimOut(BaseModel):
    """A code was sent (202: ``sent_to``), or records were claimed (200: ``claimed`` citizen ids)."""

    citizen_id: int
    sent_to: str | None = None
    expires_in_s: float | None = None
    claimed: list[int] | None = None


class Message(BaseModel):
    """A message the deployment sent (to the outbox)."""

    id: int
    phone: str
    body: str
    created_at: float


class OutboxOut(BaseModel):
    """Messages in the outbox, newest first."""

    messages: list[Message]


class InvariantsOut(BaseModel):
    """Result of the consistency checks; each check lists offending ids (empty when fine)."""

    ok: bool
    checks: dict[str, list[str]]


class Problem(BaseModel):
    """Why a request was refused."""

    detail: str | list[dict] | dict


def strict_openapi(schema: dict, districts: list[str], categories: list[str]) -> dict:
    """Name the accepted districts and categories as enums in the request bodies of ``schema``."""
    for name, comp in schema.get("components", {}).get("schemas", {}).items():
        props = comp.get("properties", {})
        if not name.endswith("In"):
            continue
        if "district" in props:
            props["district"]["enum"] = districts
        if "category" in props:
            props["category"]["enum"] = categories
        if "skills" in props:
            props["skills"]["items"]["enum"] = categories
    return schema
