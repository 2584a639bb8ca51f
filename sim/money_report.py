"""The ``wallet`` summary and the conservation checks of a ``Money`` run.

Definitions used below (all money in [paise]):

- *credited*: everything put into worker wallets by jobs — completed online jobs' price minus
  commission, plus late-cancellation fees passed to workers.  Failed payouts coming back are
  not new credit.
- *refunds*: prepayments returned to citizens of cancelled or unfulfilled bookings (less any
  cancellation fee).  A completed booking is never refunded in this model, so the identity
  "credited from jobs = completed online prices − commission − refunds on completed bookings"
  holds with that last term 0; refunds instead close the escrow identity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim import ledger as lg
from sim.metrics import gini
from sim.records import Settled, Status

if TYPE_CHECKING:
    from sim.money import Money


def _kind_sums(led: pd.DataFrame) -> dict[tuple[str, str], int]:
    """Sum of legs by (kind, account class) — ``wallet``, ``cash``, ``citizen`` or the account."""
    cls = led["account"].str.split(":").str[0]
    single = led["account"].isin(lg.SINGLE_ACCOUNTS)
    cls = cls.where(~single, led["account"])
    sums = led.groupby([led["kind"], cls])["amount_paise"].sum()
    return {(str(k), str(a)): int(v) for (k, a), v in sums.items()}


def time_average(t: np.ndarray, level: np.ndarray, t_end: float) -> float:
    """Time-weighted mean over ``[0, t_end]`` of a step function (0 before ``t[0]``) [its unit]."""
    if t_end <= 0:
        return float("nan")
    dur = np.diff(np.append(np.minimum(t, t_end), t_end))
    return float((level * dur).sum() / t_end)


def wallet_summary(m: Money) -> dict[str, Any]:
    """Totals, volumes and earnings inequality (overall and per district)."""
    c, n = m.per_booking, m.per_booking.n
    bal = m.ledger.balances()
    status, settled, price = c["status"][:n], c["settled"][:n], c["price"][:n]
    seen = c["seen"][:n].astype(bool)
    credited = int(m.credited.sum())
    bookings = int(seen.sum())
    completed = int((status == Status.COMPLETED).sum())
    online = settled == Settled.ONLINE
    out: dict[str, Any] = {
        "bookings": bookings,
        "completed": completed,
        "credited_paise": credited,
        "withdrawn_paise": int(m.withdrawn.sum()),
        "in_transit_paise": int(bal.get(lg.TRANSIT, 0)),
        "wallet_balance_paise": int(sum(v for k, v in bal.items() if k.startswith("wallet:"))),
        "held_in_float_paise": int(bal.get(lg.ESCROW, 0)),
        "commission_paise": int(bal.get(lg.COMMISSION, 0)),
        "cash_volume_paise": int(price[settled == Settled.CASH].sum()),
        "online_volume_paise": int(price[online].sum()),
        "refunds_paise": int(c["refunded"][:n].sum()),
        "refunds": int((c["refunded"][:n] > 0).sum()),
        "cancellation_fees_paise": int(c["fee"][:n].sum()),
        "penalties_paise": int(m.penalties.sum()),
        "failed_payouts": m.counts["payouts_failed"],
        "failed_payouts_paise": m.counts["payouts_failed_paise"],
        "payouts": m.counts["payouts"],
        "upi_attempts": m.counts["upi_attempts"],
        "upi_failures": m.counts["upi_failures"],
        "prepay_fallbacks": m.counts["prepay_fallbacks"],
        "cash_fallbacks": m.counts["cash_fallbacks"],
        "duplicates_absorbed": m.counts["duplicates_absorbed"],
        "online_share_completed": float(online.sum() / completed) if completed else float("nan"),
        "credit_per_booking_paise": credited / bookings if bookings else float("nan"),
        "credit_per_completed_paise": credited / completed if completed else float("nan"),
        "gini_earnings": gini(m.credited),
        "share_workers_never_paid": float((m.credited == 0).mean()) if m.n_workers else float("nan"),
        "ledger_entries": m.ledger.n_entries,
    }
    for name, prefix in (("escrow", lg.ESCROW), ("wallets", "wallet:"), ("in_transit", lg.TRANSIT)):
        t, level = m.ledger.balance_series(prefix)
        out[f"{name}_avg_paise"] = time_average(t, level, m.env.now)
        out[f"{name}_max_paise"] = int(level.max()) if level.size else 0
    by = pd.DataFrame({"district": m.worker_district, "credited": m.credited})
    out["districts"] = {
        str(d): {
            "workers": int(len(g)),
            "credited_paise": int(g["credited"].sum()),
            "gini_earnings": gini(g["credited"].to_numpy()),
            "share_workers_never_paid": float((g["credited"] == 0).mean()),
        }
        for d, g in by.groupby("district", sort=True)
    }
    return out


def check_invariants(m: Money) -> None:
    """Raise ``AssertionError`` unless the ledger, per-booking state and wallets agree.

    Checks: the ledger verifies (balanced transactions, no negative wallet/escrow/commission/
    transit, balances = entries); wallet credit from jobs = completed online prices − commission;
    cash + online = completed prices (once each booking is settled); escrow = prepayments held;
    citizens paid = online + cash − refunds; each wallet = credited − penalties − payouts.
    """
    try:
        m.ledger.verify()
    except lg.LedgerError as e:
        raise AssertionError(str(e)) from e
    c, n = m.per_booking, m.per_booking.n
    status, settled = c["status"][:n], c["settled"][:n]
    price, com = c["price"][:n], c["commission"][:n]
    done = status == Status.COMPLETED
    online, cash = settled == Settled.ONLINE, settled == Settled.CASH
    unsettled = int((done & (settled == Settled.NONE)).sum())
    assert unsettled == m.collecting, f"{unsettled} completed bookings unpaid, {m.collecting} collecting"
    assert not (settled[~done] != Settled.NONE).any(), "a booking that did not complete was paid for"
    sums = _kind_sums(m.ledger.to_frame())
    job_credit = sums.get(("completion", "wallet"), 0)
    assert job_credit == int((price - com)[online].sum()), "wallet credit ≠ online prices − commission"
    assert sums.get(("completion", lg.COMMISSION), 0) == int(com[online].sum()), "commission mismatch"
    assert sums.get(("payment_cash", "cash"), 0) == int(price[cash].sum()), "cash ≠ cash-settled prices"
    assert int(price[online].sum()) + int(price[cash].sum()) == int(price[done & (settled != 0)].sum())
    bal = m.ledger.balances()
    assert bal.get(lg.ESCROW, 0) == int(c["held"][:n].sum()), "escrow ≠ prepayments held"
    paid_online = sums.get(("payment_online", lg.ESCROW), 0)
    refunds = int(c["refunded"][:n].sum())
    fees = int(c["fee"][:n].sum())
    assert paid_online == bal.get(lg.ESCROW, 0) + int(price[online].sum()) + refunds + fees, "escrow leak"
    citizens = sum(v for k, v in bal.items() if k.startswith("citizen:"))
    assert -citizens == paid_online + int(price[cash].sum()) - refunds, "citizens' payments mismatch"
    assert int(m.credited.sum()) == job_credit + sums.get(("cancellation_fee", "wallet"), 0), "credit mismatch"
    wallets = m.wallet_balances()
    expect = m.credited - m.penalties - m.withdrawn - m.in_transit
    assert (wallets == expect).all(), "a wallet ≠ credited − penalties − payouts"
    assert int(m.in_transit.sum()) == bal.get(lg.TRANSIT, 0), "payouts in transit mismatch"
    assert int(m.withdrawn.sum()) == bal.get(lg.SETTLEMENT, 0), "settled payouts mismatch"
    assert (np.asarray(wallets) >= 0).all(), "negative wallet"
