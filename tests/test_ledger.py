"""The double-entry rules: builders, validation, idempotency, non-negative accounts, table."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import ledger as lg
from sim.ledger import Ledger, LedgerError

BUILDERS = [
    lg.online_payment_legs(3, 45_000),
    lg.cash_payment_legs(3, 7, 45_000),
    lg.completion_legs(7, 45_000, 4_500),
    lg.completion_legs(7, 45_000, 0),
    lg.completion_legs(7, 45_000, 45_000),
    lg.refund_legs(3, 45_000),
    lg.cancellation_fee_legs(5_000),
    lg.cancellation_fee_legs(5_000, worker_id=7),
    lg.penalty_legs(7, 2_000),
    lg.payout_legs(7, 40_000),
    lg.payout_settled_legs(40_000),
    lg.payout_failed_legs(7, 40_000),
]


@pytest.mark.parametrize("legs", BUILDERS)
def test_every_builder_is_balanced_and_valid(legs):
    lg.check_legs(legs)
    assert sum(a for _, a in legs) == 0
    assert all(a != 0 for _, a in legs)


def test_account_names():
    assert lg.account("wallet", 7) == "wallet:7"
    assert lg.account("citizen", 12) == "citizen:12"
    assert lg.account("cash", np.int64(7)) == "cash:7"
    assert lg.account("platform:escrow") == "platform:escrow"
    for bad in [("wallet", None), ("wallet", -1), ("wallet", True), ("shop", 1), ("platform:escrow", 1)]:
        with pytest.raises(LedgerError):
            lg.account(*bad)


@pytest.mark.parametrize(
    "legs",
    [
        [],
        [("wallet:1", 0), ("wallet:2", 0)],
        [("wallet:1", 5)],
        [("wallet:1", 5), ("wallet:2", -4)],
        [("wallet:1", 5.0), ("wallet:2", -5.0)],
        [("wallet:1", True), ("wallet:2", -1)],
        [("wallet:1", 5), ("wallet:1", -5)],
        [("wallet:01", 5), ("wallet:2", -5)],
        [("shop:1", 5), ("wallet:2", -5)],
        [("wallet:1", 5, 0), ("wallet:2", -5)],
    ],
)
def test_check_legs_rejects(legs):
    with pytest.raises(LedgerError):
        lg.check_legs(legs)


def test_commission_rounds_down_and_validates():
    assert lg.commission_paise(45_000, 1_000) == 4_500
    assert lg.commission_paise(999, 1_500) == 149  # 149.85 → 149: the worker keeps the fraction
    assert lg.commission_paise(45_000, 0) == 0
    assert lg.commission_paise(45_000, 10_000) == 45_000
    for bad in [(-1, 10), (100, -1), (100, 10_001), (100.0, 10), (100, 1.5)]:
        with pytest.raises(LedgerError):
            lg.commission_paise(*bad)


def test_builders_reject_non_positive_amounts():
    for call in [
        lambda: lg.online_payment_legs(1, 0),
        lambda: lg.refund_legs(1, -5),
        lambda: lg.payout_legs(1, 2.5),
        lambda: lg.completion_legs(1, 100, 101),
        lambda: lg.completion_legs(1, 100, -1),
    ]:
        with pytest.raises(LedgerError):
            call()


def test_post_is_idempotent_by_key():
    led = Ledger()
    t0 = led.post("pay:1", lg.online_payment_legs(3, 500), "payment_online", 10.0, booking_id=1)
    before = (led.balances(), led.n_entries, led.n_txns)
    # same key, same legs (in any order) → the first id, no second effect
    assert led.post("pay:1", list(reversed(lg.online_payment_legs(3, 500))), "payment_online", 99.0, 1) == t0
    assert (led.balances(), led.n_entries, led.n_txns) == before
    with pytest.raises(LedgerError):
        led.post("pay:1", lg.online_payment_legs(3, 600), "payment_online", 10.0, 1)
    with pytest.raises(LedgerError):
        led.post("pay:1", lg.online_payment_legs(3, 500), "refund", 10.0, 1)
    assert (led.balances(), led.n_entries, led.n_txns) == before


def test_negative_wallet_refused_and_nothing_written():
    led = Ledger()
    led.post("pay", lg.online_payment_legs(1, 1_000), "payment_online", 0.0)
    led.post("done", lg.completion_legs(2, 1_000, 100), "completion", 1.0)
    before = (led.balances(), led.n_entries, led.n_txns)
    with pytest.raises(LedgerError, match="wallet:2"):
        led.post("po", lg.payout_legs(2, 901), "payout", 2.0)
    with pytest.raises(LedgerError, match="platform:escrow"):
        led.post("rf", lg.refund_legs(1, 1), "refund", 2.0)
    assert (led.balances(), led.n_entries, led.n_txns) == before
    assert not led.has_key("po")
    led.post("po", lg.payout_legs(2, 900), "payout", 2.0)  # the key is still free after a refusal
    assert led.balance("wallet:2") == 0


def test_post_validates_metadata():
    led = Ledger()
    legs = lg.online_payment_legs(1, 10)
    for args in [("", legs, "k", 0.0), ("a", legs, "", 0.0), ("a", legs, "k", float("nan"))]:
        with pytest.raises(LedgerError):
            led.post(*args)
    with pytest.raises(LedgerError):
        led.post("a", legs, "k", 0.0, booking_id=-3)
    assert led.n_txns == 0


def test_to_frame_columns_and_types():
    led = Ledger()
    assert list(led.to_frame().columns) == [
        "entry_id", "txn_id", "time_min", "account", "amount_paise", "kind", "booking_id"
    ]
    led.post("a", lg.online_payment_legs(1, 500), "payment_online", 5.5, booking_id=9)
    led.post("b", lg.completion_legs(4, 500, 50), "completion", 6.0, booking_id=9)
    led.post("c", lg.payout_legs(4, 450), "payout", 7.0)
    df = led.to_frame()
    assert df["entry_id"].tolist() == list(range(7))
    assert df["txn_id"].tolist() == [0, 0, 1, 1, 1, 2, 2]
    assert df["amount_paise"].dtype == np.int64
    assert str(df["booking_id"].dtype) == "Int64"
    assert df["booking_id"].isna().tolist() == [False] * 5 + [True] * 2
    assert df.groupby("txn_id")["amount_paise"].sum().eq(0).all()
    assert df.groupby("account")["amount_paise"].sum().to_dict() == {
        k: v for k, v in led.balances().items() if v != 0
    } | {"platform:escrow": 0, "wallet:4": 0}
    assert led.txn_legs(1) == [("platform:escrow", -500), ("wallet:4", 450), ("platform:commission", 50)]
    led.verify()


# ---- property test: random sequences of operations on a small world -------------------------

OPS = st.lists(
    st.tuples(
        st.sampled_from(["pay", "cash", "complete", "refund", "fee", "payout", "settle", "fail", "retry"]),
        st.integers(0, 3),  # citizen / worker id
        st.integers(1, 5_000),  # amount [paise]
        st.integers(0, 10_000),  # commission rate [bp]
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(OPS)
def test_random_operation_sequences_keep_the_books(ops):
    led = Ledger()
    done_keys: list[tuple[str, list, str]] = []
    completed_online = commission = refunds = cash = paid = 0
    for i, (op, who, amt, bp) in enumerate(ops):
        key = f"{op}:{i}"
        if op == "pay":
            legs, kind = lg.online_payment_legs(who, amt), "payment_online"
        elif op == "cash":
            legs, kind = lg.cash_payment_legs(who, who, amt), "payment_cash"
        elif op == "complete":
            c = lg.commission_paise(amt, bp)
            legs, kind = lg.completion_legs(who, amt, c), "completion"
        elif op == "refund":
            legs, kind = lg.refund_legs(who, amt), "refund"
        elif op == "fee":
            legs, kind = lg.cancellation_fee_legs(amt, who if bp % 2 else None), "cancellation_fee"
        elif op == "payout":
            legs, kind = lg.payout_legs(who, amt), "payout"
        elif op == "settle":
            legs, kind = lg.payout_settled_legs(amt), "payout_settled"
        elif op == "fail":
            legs, kind = lg.payout_failed_legs(who, amt), "payout_failed"
        else:  # re-post an earlier transaction: must have no effect
            if not done_keys:
                continue
            k, legs, kind = done_keys[amt % len(done_keys)]
            before = led.balances()
            led.post(k, legs, kind, float(i))
            assert led.balances() == before
            continue
        try:
            led.post(key, legs, kind, float(i))
        except LedgerError:
            continue
        done_keys.append((key, legs, kind))
        if op == "complete":
            completed_online += amt
            commission += lg.commission_paise(amt, bp)
        elif op == "refund":
            refunds += amt
        elif op == "cash":
            cash += amt
        elif op == "pay":
            paid += amt
        for name, bal in led.balances().items():
            assert bal >= 0 or not name.startswith(lg.NON_NEGATIVE_PREFIXES)
    led.verify()
    bal = led.balances()
    assert sum(bal.values()) == 0
    wallets = sum(v for k, v in bal.items() if k.startswith("wallet:"))
    out = bal.get("bank:payout_transit", 0) + bal.get("bank:settlement", 0)
    fees = sum(amt for _, legs, kind in done_keys if kind == "cancellation_fee" for _, amt in legs[1:])
    # conservation: what entered by UPI is in escrow, or left as refund, or reached workers/platform
    assert -sum(v for k, v in bal.items() if k.startswith("citizen:")) == paid + cash - refunds
    assert paid - refunds == bal.get("platform:escrow", 0) + completed_online + fees
    assert wallets + out + bal.get("platform:commission", 0) == completed_online + fees
    assert bal.get("platform:commission", 0) >= commission  # plus platform-kept fees
    assert sum(v for k, v in bal.items() if k.startswith("cash:")) == cash
    df = led.to_frame()
    assert df.groupby("txn_id")["amount_paise"].sum().eq(0).all()
    assert len(df) == led.n_entries


def test_balance_series_and_time_average():
    from sim.money_report import time_average

    led = Ledger()
    led.post("a", lg.online_payment_legs(1, 500), "payment_online", 10.0)
    led.post("b", lg.online_payment_legs(2, 300), "payment_online", 20.0)
    led.post("c", lg.completion_legs(4, 500, 50), "completion", 40.0)
    led.post("d", lg.payout_legs(4, 450), "payout", 50.0)
    t, esc = led.balance_series("platform:escrow")
    assert t.tolist() == [10.0, 20.0, 40.0] and esc.tolist() == [500, 800, 300]
    t, wal = led.balance_series("wallet:")
    assert t.tolist() == [40.0, 50.0] and wal.tolist() == [450, 0]
    assert led.balance_series("nothing:")[0].size == 0
    # escrow: 0 for 10 min, 500 for 10, 800 for 20, 300 for 20 → 27000 / 60
    assert time_average(*led.balance_series("platform:escrow"), 60.0) == pytest.approx(27_000 / 60)
