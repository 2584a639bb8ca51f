"""``HelplineConfig``: the toll-free helpline 155330 as it runs in June 2025.

Source IDs refer to ``docs/domain-facts.md``.  Booking conversion, the arithmetic:
the baseline sends 40 % of the 11,900 bookings a year (D5) through the helpline, i.e.
4,760 a year.  2,800 fresh calls a day (D9) x 365 = 1,022,000 calls; 12 % are new-booking
calls (assumed) = 122,640; about 8.5 % arrive outside 08:00-20:00 (hour profile below) and
~1-2 % abandon, leaving ~110,000 answered new-booking calls, so the conversion is
4,760 / 110,000 ~= 0.043.  Calls per booking over all channels: 1,022,000 / 11,900 ~= 86
(D1 reports 96.6; the gap is redials and IVR-only calls the source may count).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from sim.schema import StrictModel

CALL_TYPES = ("new_booking", "booking_status", "complaint", "worker_registration", "other")
CallType = Literal["new_booking", "booking_status", "complaint", "worker_registration", "other"]

# A5: two shifts 08:00-14:00 and 14:00-20:00, seven days; S6: a 50-seat call centre.
_OPEN = tuple(25 if 8 <= h < 20 else 0 for h in range(24))
# C12 (generic contact-centre shape): morning peak 09:30-11:30, second peak 15:30-17:30,
# peak-to-trough 2.5-4x; a little traffic outside hours (hears the opening-hours message).
_HOURS = (0.04, 0.02, 0.02, 0.02, 0.03, 0.06, 0.15, 0.45, 1.0, 1.7, 2.1, 2.0,
          1.6, 1.3, 1.4, 1.7, 1.8, 1.5, 1.2, 0.8, 0.45, 0.25, 0.12, 0.06)


def _norm_shares(v: dict[str, float], total: float | None) -> dict[str, float]:
    if any(x < 0 for x in v.values()):
        raise ValueError("values must be >= 0")
    if total is not None and abs(sum(v.values()) - total) > 1e-6:
        raise ValueError(f"shares must sum to {total}")
    return v


class CallbackConfig(StrictModel):
    """Virtual-hold callback: the caller keeps their place and is called back."""

    enabled: bool = False
    offer_after_s: float = Field(120.0, ge=0, description="offered when the wait would exceed this [s]")
    accept_prob: float = Field(0.5, ge=0, le=1, description="share of offered callers who accept")
    extra_s: float = Field(20.0, ge=0, description="dialling time added to the callback's handle time [s]")


class CallCauses(StrictModel):
    """Fresh calls by cause, used when ``helpline.arrivals`` is ``causes``.

    Booking calls are the helpline channel's share of the one booking demand
    (``demand.channel_shares.helpline``); the other causes are rates per booking, per
    registration, per registered worker and per day of adoption (``sim.helpline.causes``).
    """

    followups_per_booking: float = Field(1.5, ge=0, le=100, description="booking_status calls per booking")
    complaints_per_booking: float = Field(0.3, ge=0, le=100, description="complaint calls per booking")
    followup_delay_mean_h: float = Field(24.0, gt=0, le=24 * 90, description="mean delay booking -> follow-up [h]")
    registration_calls_per_worker: float = Field(3.0, ge=0, le=1000,
                                                 description="worker_registration calls per new registration")
    enquiries_per_worker_month: float = Field(0.5, ge=0, le=1000,
                                              description="job-enquiry calls (typed other) per registered worker-month")
    info_calls_per_day: float = Field(1000.0, ge=0, le=1e8,
                                      description="information calls (typed other) per day at adoption 1")
    registrations_per_day: float = Field(
        154.0, ge=0, le=1e6,
        description="new registrations a day when the scenario has no growth block (June 2025 rate, see config)")
    switch_to_app_prob: float = Field(0.3, ge=0, le=1,
                                      description="P(a booking caller who gives up for good books in the app)")
    switch_delay_mean_min: float = Field(30.0, gt=0, le=10_080, description="mean delay before that app booking")


class HelplineConfig(StrictModel):
    """Calls, IVR, agents, caller behaviour and KPI settings of the helpline."""

    enabled: bool = True
    arrivals: Literal["fixed", "causes"] = Field(
        "fixed", description="fresh calls at calls_per_day with type_shares, or from their causes (causes:)")
    causes: CallCauses = CallCauses()
    calls_per_day: float = Field(2_800.0, ge=0, le=1e8, description="fresh calls per average day (D9)")
    type_shares: dict[CallType, float] = Field(default_factory=lambda: {
        # assumed: S23 lists booking, queries and provider calls; mix not published (§8 gap)
        "new_booking": 0.12, "booking_status": 0.18, "complaint": 0.08,
        "worker_registration": 0.37, "other": 0.25})
    ivr_self_serve: dict[CallType, float] = Field(default_factory=lambda: {
        # assumed: status look-ups and registration FAQs can end in the IVR
        "new_booking": 0.0, "booking_status": 0.35, "complaint": 0.0,
        "worker_registration": 0.15, "other": 0.25})
    ivr_s: float = Field(30.0, ge=0, le=3600, description="time in the IVR before the queue [s] (assumed)")
    booking_conversion: float = Field(0.043, ge=0, le=1,
                                      description="P(answered new_booking call books); see module doc")
    talk_mean_s: float = Field(222.0, gt=0, le=36_000, description="mean talk time [s] (C9: 3.7 min)")
    wrap_s: float = Field(46.0, ge=0, le=3600, description="wrap-up after each call [s] (C9: 25-46 s)")
    handle_dist: Literal["exponential", "lognormal"] = "lognormal"
    talk_cv: float = Field(1.0, gt=0, le=10, description="coefficient of variation of talk time (lognormal)")
    patience_mean_s: float = Field(
        90.0, gt=0, le=1e7,
        description="mean caller patience [s]; assumed so that Ozonetel-like waits (C10) give A8-range abandonment")
    redial_prob: float = Field(0.5, ge=0, le=1, description="P(an abandoned caller calls again) (assumed)")
    redial_delay_mean_min: float = Field(15.0, gt=0, le=10_080, description="mean delay before a redial [minutes]")
    max_redials: int = Field(3, ge=0, le=20)
    callback: CallbackConfig = CallbackConfig()
    agents_by_hour: tuple[int, ...] = Field(_OPEN, min_length=24, max_length=24,
                                            description="agents on duty per hour of day")
    agents_by_hour_of_week: tuple[int, ...] | None = Field(
        None, min_length=168, max_length=168, description="optional override, Monday 00:00 first")
    after_hours: Literal["message", "queue"] = Field(
        "message", description="calls while closed hear a message and end, or queue until opening")
    hour_profile: tuple[float, ...] = Field(_HOURS, min_length=24, max_length=24)
    # C12: Monday index 1.2-1.4 for contact centres; weekend lighter (assumed)
    weekday_profile: tuple[float, ...] = Field((1.25, 1.05, 1.0, 1.0, 0.95, 0.9, 0.85),
                                               min_length=7, max_length=7)
    # C5: summer busiest (UP100); A9: appliance season Apr-Jun drives service calls (assumed size)
    month_profile: tuple[float, ...] = Field((0.85, 0.85, 0.95, 1.1, 1.25, 1.25, 1.1, 1.0, 0.95, 1.0, 0.9, 0.8),
                                             min_length=12, max_length=12)
    sl_seconds: float = Field(20.0, ge=0, le=3600, description="service-level threshold [s] (A7: 80/20)")
    sl_target: float = Field(0.8, gt=0, lt=1, description="service-level target (A7)")

    @field_validator("type_shares")
    @classmethod
    def _type_shares(cls, v: dict[str, float]) -> dict[str, float]:
        return _norm_shares(v, 1.0)

    @field_validator("ivr_self_serve")
    @classmethod
    def _ivr(cls, v: dict[str, float]) -> dict[str, float]:
        if any(x > 1 for x in v.values()):
            raise ValueError("values must be <= 1")
        return _norm_shares(v, None)

    @field_validator("agents_by_hour", "agents_by_hour_of_week")
    @classmethod
    def _agents(cls, v: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if v is not None and min(v) < 0:
            raise ValueError("agents must be >= 0")
        return v

    @field_validator("hour_profile", "weekday_profile", "month_profile")
    @classmethod
    def _profile(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if min(v) < 0 or sum(v) <= 0:
            raise ValueError("values must be >= 0 and not all zero")
        return v

    @model_validator(mode="after")
    def _staffed(self) -> HelplineConfig:
        if self.enabled and self.calls_per_day > 0 and max(self.week_agents()) == 0:
            raise ValueError("agents_by_hour: no agent on duty in any hour while calls arrive")
        return self

    def week_agents(self) -> tuple[int, ...]:
        """Agents on duty per hour of the week (168 values, Monday 00:00 first)."""
        if self.agents_by_hour_of_week is not None:
            return self.agents_by_hour_of_week
        return self.agents_by_hour * 7

    def type_probs(self) -> list[float]:
        """Call-type probabilities in ``CALL_TYPES`` order."""
        return [self.type_shares.get(t, 0.0) for t in CALL_TYPES]

    def ivr_probs(self) -> list[float]:
        """IVR self-serve probability per type in ``CALL_TYPES`` order."""
        return [self.ivr_self_serve.get(t, 0.0) for t in CALL_TYPES]

    @property
    def aht_s(self) -> float:
        """Mean handle time = talk + wrap-up [s] (D11: ~268 s)."""
        return self.talk_mean_s + self.wrap_s
