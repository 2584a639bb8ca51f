"""The money block of a scenario: payment modes, UPI failures, commission, fees, payouts.

Defaults are the baseline.  Figures cite ``docs/domain-facts.md`` ids (D2, P2, P4, S18, U10 …);
values without a source are marked *assumed*.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import Field, field_validator

from sim.errors import ScenarioError
from sim.ledger import BP_PER_UNIT
from sim.schema import StrictModel

MAX_UPI_RETRIES = 5


class MoneyConfig(StrictModel):
    """How bookings are paid and how workers get their money.

    Attributes:
        enabled: run the money model (ledger, wallets, payouts).
        online_share: share of bookings whose citizen chooses to pay online (UPI) instead of
            cash to the worker.  Calibrated so that wallet credit per booking ≈ Rs 69 (D2):
            credit/booking = online_share × completed share × mean ticket × (1 − commission).
            The baseline completes ≈ 77 % of bookings at a mean ticket ≈ Rs 575 (catalogue
            prices with their seasonal mix), so 69 / (0.77 × 575) ≈ 0.156 — inside A3/D19's
            10–20 %.  Re-derive it if prices, completion or commission change.
        prepaid_share: share of online bookings paid at booking time (held in escrow) rather
            than after the job (*assumed*).
        upi_failure_prob: chance that one UPI attempt is technically declined.  P2: monthly
            averages 1.89–3.66 % (Mar 2022–Feb 2023); default is their midpoint.  A declined
            attempt moves no money (no debit-then-reversal is modelled).
        upi_retries: further attempts after a declined one; when all fail, a prepayment turns
            into pay-after-the-job and a payment after the job falls back to cash.
        upi_retry_delay_min: time between attempts [minutes] (*assumed*).
        duplicate_callback_prob: chance that the gateway reports a success twice (a webhook
            retry); the second report is posted with the same idempotency key and must have
            no effect (*assumed*; exercises idempotency in every run).
        commission_bp: platform commission on online jobs [basis points, 1 bp = 0.01 %].  S18:
            Sewa Mitra's commission is not published, so 0; Urban Company's is 850–2500 (U9).
        commission_bp_by_category: per-category overrides of ``commission_bp``.
        cancel_fee_paise: fee a citizen forfeits when cancelling a prepaid booking after a worker
            was assigned [paise]; taken from the prepayment (capped at it), passed fully to the
            worker (U10).  0 = none (not published for Sewa Mitra).
        worker_cancel_penalty_paise: penalty taken from a worker's wallet when the worker
            cancels an accepted job [paise], capped at the wallet balance (U10 caps them).
        payout_policy: ``"schedule"`` (whole balance every ``payout_every_days``) or
            ``"threshold"`` (withdraw as soon as the balance reaches ``payout_threshold_paise``).
        payout_every_days: schedule period [days] (weekly by default, *assumed*; U16: UC pays
            three times a week).
        payout_hour: hour of day the scheduled payout runs [hour].
        payout_threshold_paise: balance that triggers a withdrawal [paise].
        min_payout_paise: smallest balance a scheduled payout withdraws [paise].
        settlement_delay_days: days from withdrawal to the bank credit (T+n) [days].  P4: the
            payment-gateway default is T+2; T+0..T+2 allowed.
        payout_failure_prob: chance a payout bounces (wrong account, bank down); the money
            returns to the wallet at settlement time and is withdrawn again later (*assumed*).
    """

    enabled: bool = True
    online_share: float = Field(0.155, ge=0, le=1)
    prepaid_share: float = Field(0.5, ge=0, le=1)
    upi_failure_prob: float = Field(0.028, ge=0, le=1)
    upi_retries: int = Field(2, ge=0, le=MAX_UPI_RETRIES)
    upi_retry_delay_min: float = Field(2.0, ge=0, le=24 * 60)
    duplicate_callback_prob: float = Field(0.02, ge=0, le=1)
    commission_bp: int = Field(0, ge=0, le=BP_PER_UNIT)
    commission_bp_by_category: dict[str, int] = Field(default_factory=dict)
    cancel_fee_paise: int = Field(0, ge=0, le=10_000_000)
    worker_cancel_penalty_paise: int = Field(0, ge=0, le=10_000_000)
    payout_policy: Literal["schedule", "threshold"] = "schedule"
    payout_every_days: float = Field(7.0, gt=0, le=366)
    payout_hour: float = Field(10.0, ge=0, lt=24)
    payout_threshold_paise: int = Field(100_000, gt=0)
    min_payout_paise: int = Field(100, gt=0)
    settlement_delay_days: int = Field(2, ge=0, le=2)
    payout_failure_prob: float = Field(0.01, ge=0, le=1)

    @field_validator("commission_bp_by_category")
    @classmethod
    def _rates_in_range(cls, v: dict[str, int]) -> dict[str, int]:
        for key, bp in v.items():
            if not 0 <= bp <= BP_PER_UNIT:
                raise ValueError(f"{key}: commission must be 0..{BP_PER_UNIT} basis points, got {bp}")
        return v

    def commission_rate_bp(self, category: str) -> int:
        """Commission on a category's online jobs [basis points]."""
        return self.commission_bp_by_category.get(category, self.commission_bp)

    def check_categories(self, keys: Iterable[str]) -> None:
        """Raise ``ScenarioError`` if a commission override names a category not in ``keys``."""
        known = set(keys)
        for key in sorted(self.commission_bp_by_category):
            if key not in known:
                raise ScenarioError(f"money.commission_bp_by_category.{key}: unknown category")
