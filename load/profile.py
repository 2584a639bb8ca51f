"""Target profiles: how the trace's actions become HTTP requests of one particular API.

A profile is a YAML file (``load/profiles/<name>.yaml`` or any path) validated here with
pydantic; ``load_profile("reference")`` is the built-in profile of the reference deployment.
It says, for each trace action, the method, path template, acting identity (its token goes in
the actor's auth header), body template and where the ids come back; how to preload workers,
the helpline agent and helpline callers (``bulk``, ``one_by_one`` or ``csv`` = already there);
how a booking reads (field names and status words); and how to read the deployment's
configuration and live state.

Templates: a string that is exactly ``"{name}"`` becomes the variable with its JSON type
(number, bool, list); any other string is formatted (``"/v1/bookings/{booking_id}/accept"``).
The variables each action may use are listed in ``VARIABLES``; an unknown name is an error
when the profile is loaded, not halfway through a run.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.errors import InputError

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
ACTORS = ("admin", "citizen", "worker", "agent", "anonymous")
#: The canonical booking states the replay and the twin check reason about.
STATES = ("pending", "offered", "accepted", "in_progress", "completed", "cancelled", "unfulfilled")
_ROW = ("seq", "t_min", "booking_ref", "worker_ref", "citizen_ref", "offer_index", "district", "category",
        "channel", "lat", "lon")
_BOOKING = ("booking_id",)
#: Template variables each request may use (trace columns, the twin's refs, live ids).
VARIABLES: dict[str, tuple[str, ...]] = {
    "register_citizen": _ROW + ("citizen_name", "citizen_phone"),
    "create_booking": _ROW,
    "helpline_booking": _ROW + ("caller_name", "caller_phone"),
    "status": _ROW + ("worker_id", "available"),
    "payout": _ROW + ("worker_id", "amount_paise"),
    "accept": _ROW + _BOOKING + ("worker_id",),
    "decline": _ROW + _BOOKING + ("worker_id",),
    "start": _ROW + _BOOKING + ("worker_id",),
    "complete": _ROW + _BOOKING + ("worker_id",),
    "cancel": _ROW + _BOOKING,
    "pay": _ROW + _BOOKING + ("amount_paise", "method"),
    "rate": _ROW + _BOOKING + ("stars",),
    "get_booking": _BOOKING,
}
#: Variables of one preloaded item.
ITEM_VARIABLES = {
    "workers": ("worker_ref", "name", "phone", "district", "lat", "lon", "skills"),
    "callers": ("citizen_ref", "caller_name", "caller_phone", "district", "lat", "lon"),
}
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Auth(_Strict):
    """How an actor's token travels: ``<header>: <prefix><token>``."""

    header: str = "Authorization"
    prefix: str = "Bearer "


class Call(_Strict):
    """One HTTP request template.

    Attributes:
        method: HTTP method.
        path: path template (``/v1/bookings/{booking_id}/accept``).
        actor: whose token authenticates it (``anonymous``: none).
        body: JSON body template (``None``: no body).
        idempotency_key: template of an ``Idempotency-Key`` header (``None``: none).
        returns: variable → dotted path in the JSON response (``{booking_id: data.ref}``).
        name: the request's name in Locust's statistics (default: the path, ``{x}`` → ``[id]``).
        diverged_status: answers meaning "the live state moved on" for this request (default: the
            profile's ``diverged_status``), counted as divergences, not failures.
    """

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str = Field(pattern=r"^/")
    actor: Literal["admin", "citizen", "worker", "agent", "anonymous"] = "anonymous"
    body: Any = None
    idempotency_key: str | None = None
    returns: dict[str, str] = Field(default_factory=dict)
    name: str | None = None
    diverged_status: list[int] | None = None

    @property
    def label(self) -> str:
        """Statistics name: ids replaced by their placeholder names."""
        return self.name or re.sub(r"\{\w+\}", "[id]", self.path)

    def variables(self) -> set[str]:
        """Every template variable the path, body and key use."""
        return template_variables([self.path, self.body, self.idempotency_key])


class Preload(_Strict):
    """How one kind of actor gets into the deployment before the clock starts.

    ``bulk``: ``call``'s body holds ``"{items}"``, the list of ``item`` bodies, ``chunk`` at a
    time; ``ids``/``tokens`` are dotted paths to lists in the response.  ``one_by_one``:
    ``call``'s body is the item itself; ``ids``/``tokens`` paths to scalars.  ``csv``: already
    there; ``csv`` names a file with columns ``ref,live_id,token``.  ``none``: nothing to load.
    """

    mode: Literal["bulk", "one_by_one", "csv", "none"]
    call: Call | None = None
    item: Any = None
    chunk: int = Field(5000, ge=1, le=100_000)
    ids: str | None = None
    tokens: str | None = None
    csv: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> Preload:
        if self.mode in ("bulk", "one_by_one") and (self.call is None or self.ids is None):
            raise ValueError(f"mode {self.mode!r} needs 'call' and 'ids'")
        if self.mode == "bulk" and "items" not in template_variables([self.call.body if self.call else None]):
            raise ValueError("mode 'bulk' needs '{items}' in call.body")
        if self.mode == "csv" and not self.csv:
            raise ValueError("mode 'csv' needs 'csv' (a file with columns ref,live_id,token)")
        return self


class Preloads(_Strict):
    """Preload of workers (needed), the helpline agent (a call returning ``token``) and callers."""

    workers: Preload
    agent: Call | None = None
    callers: Preload = Preload(mode="none")


class BookingView(_Strict):
    """Where a booking's fields are in a response, and what its status words mean.

    ``status_map`` maps the API's words to ``STATES``; words not listed must already be one.
    """

    id: str = "id"
    status: str = "status"
    worker_id: str = "worker_id"
    price_paise: str | None = "price_paise"
    offered_at: str | None = None
    status_map: dict[str, Literal[STATES]] = Field(default_factory=dict)  # type: ignore[valid-type]

    def state(self, word: Any) -> str | None:
        """The canonical state of a status word (``None`` if absent)."""
        if word is None:
            return None
        return self.status_map.get(str(word), str(word))


class ConfigRead(_Strict):
    """Where the deployment says how it is configured: dotted paths of each setting."""

    call: Call
    fields: dict[Literal["policy", "policy_params", "radius_km", "accept_timeout_min", "retry_interval_min",
                         "max_search_min", "max_offers", "time_scale", "scenario", "seed"], str]


class Profile(_Strict):
    """A deployment's API as the replay sees it."""

    name: str
    description: str = ""
    auth: Auth = Auth()
    auth_by_actor: dict[Literal["admin", "citizen", "worker", "agent"], Auth] = Field(default_factory=dict)
    health: Call | None = None
    admin_check: Call | None = None
    preload: Preloads
    actions: dict[Literal[tuple(VARIABLES)], Call]  # type: ignore[valid-type]
    booking: BookingView = BookingView()
    diverged_status: list[int] = Field(default_factory=lambda: [409])
    config: ConfigRead | None = None
    live_state: Literal["endpoint", "replay_log"] = "endpoint"

    @model_validator(mode="after")
    def _variables_known(self) -> Profile:
        for action, call in self.actions.items():
            unknown = call.variables() - set(VARIABLES[action])
            if unknown:
                raise ValueError(f"actions.{action}: unknown template variables {sorted(unknown)} "
                                 f"(known: {', '.join(VARIABLES[action])})")
        for kind in ("workers", "callers"):
            pre = getattr(self.preload, kind)
            unknown = template_variables([pre.item]) - set(ITEM_VARIABLES[kind])
            if unknown:
                raise ValueError(f"preload.{kind}.item: unknown template variables {sorted(unknown)} "
                                 f"(known: {', '.join(ITEM_VARIABLES[kind])})")
        needed = {"create_booking", "get_booking"}
        if not needed <= set(self.actions):
            raise ValueError(f"actions: {sorted(needed - set(self.actions))} missing")
        return self

    def auth_for(self, actor: str) -> Auth:
        """The auth header of ``actor``."""
        return self.auth_by_actor.get(actor, self.auth)  # type: ignore[arg-type]


def template_variables(parts: list[Any]) -> set[str]:
    """Names used by ``{name}`` fields anywhere in nested templates."""
    out: set[str] = set()
    for p in parts:
        if isinstance(p, str):
            out |= {f for _, f, _, _ in string.Formatter().parse(p) if f}
        elif isinstance(p, dict):
            out |= template_variables(list(p.values()))
        elif isinstance(p, list):
            out |= template_variables(p)
    return out


def render(t: Any, v: dict[str, Any]) -> Any:
    """Fill a template: ``"{x}"`` alone keeps ``x``'s type; other strings are formatted."""
    if isinstance(t, str):
        if t.startswith("{") and t.endswith("}") and _FIELD.match(t[1:-1]):
            return v[t[1:-1]]
        return t.format(**v)
    if isinstance(t, dict):
        return {k: render(x, v) for k, x in t.items()}
    if isinstance(t, list):
        return [render(x, v) for x in t]
    return t


def compile_item(t: Any) -> Callable[[dict[str, Any]], Any]:
    """``render`` for many items: a flat ``{key: "{var}"}`` template becomes one dict comprehension."""
    if isinstance(t, dict) and all(isinstance(x, str) and _FIELD.match(x[1:-1] or "-") and x[:1] + x[-1:] == "{}"
                                   for x in t.values()):
        pairs = [(k, x[1:-1]) for k, x in t.items()]
        return lambda v: {k: v[name] for k, name in pairs}
    return lambda v: render(t, v)


def dig(body: Any, path: str | None) -> Any:
    """The value at dotted ``path`` in parsed JSON (``None`` when absent); ``""`` is the body itself."""
    if path is None:
        return None
    cur = body
    for part in path.split(".") if path else []:
        if isinstance(cur, dict):
            cur = cur.get(part)
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return None
    return cur


def load_profile(spec: str) -> Profile:
    """The profile named ``spec`` (in ``load/profiles/``) or at path ``spec``; ``InputError`` if invalid."""
    path = Path(spec)
    if not path.suffix:
        path = PROFILES_DIR / f"{spec}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))
        raise InputError(f"--profile: no profile {spec!r} (built in: {', '.join(known)}; or a YAML path)")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise InputError(f"--profile: {path}: not YAML: {e}") from None
    try:
        return Profile.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = "".join(f"{x}: " for x in [".".join(str(x) for x in err["loc"])] if x)
        raise InputError(f"--profile: {path.name}: {where}{err['msg'].removeprefix('Value error, ')}") from None
