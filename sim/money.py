"""The twin's money flows on top of the double-entry ledger (``sim.ledger``).

``Money`` is driven by the booking lifecycle in ``sim.model`` through ``on_booking_*`` calls at
simulated times, and runs its own SimPy processes for UPI retries, scheduled payouts and
settlements.  Everything is posted to one ``Ledger`` with idempotency keys (``pay:<b>``,
``done:<b>``, ``po:<w>:<k>`` …), so a duplicated callback or retried call never has a second
effect.

Common random numbers: every per-booking draw (pay online? prepaid? each UPI attempt, a
duplicated callback) comes from a block of the ``payments`` stream keyed by booking id, and
every payout draw from the ``payouts`` stream keyed by (worker, payout number) — so another
dispatch policy changes neither who pays online nor whose UPI attempts fail.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import simpy

from sim import ledger as lg
from sim.money_config import MAX_UPI_RETRIES, MoneyConfig
from sim.money_report import check_invariants, wallet_summary
from sim.records import PayMode, Settled, Status
from sim.seeds import Streams

__all__ = ["Money", "MoneyConfig"]

BLOCK = 1024  # bookings per block of pre-drawn uniforms
ATTEMPTS = 1 + MAX_UPI_RETRIES  # columns per payment phase, fixed so ``upi_retries`` shifts no draw
U_ONLINE, U_PREPAID, U_DUP, U_PRE0 = 0, 1, 2, 3
U_LATER0 = U_PRE0 + ATTEMPTS
U_WIDTH = U_LATER0 + ATTEMPTS
DAY_MIN = 1440.0
# Plain ints for the per-booking int8 columns: comparing or storing a numpy scalar against an
# IntEnum member makes numpy probe the enum class for array protocols (~3 µs a time).
_OPEN, _COMPLETED, _CANCELLED, _UNFULFILLED = (int(Status.OPEN), int(Status.COMPLETED), int(Status.CANCELLED),
                                              int(Status.UNFULFILLED))
_CASH, _PREPAID, _LATER = int(PayMode.CASH), int(PayMode.PREPAID), int(PayMode.LATER)
_SETTLED_CASH, _SETTLED_ONLINE = int(Settled.CASH), int(Settled.ONLINE)


class _Columns:
    """Growable per-booking numpy columns indexed by booking id."""

    I64, I8 = np.int64, np.int8
    SPEC = {"citizen": (-1, I64), "price": (0, I64), "commission": (0, I64), "worker": (-1, I64),
            "held": (0, I64), "refunded": (0, I64), "fee": (0, I64), "mode": (PayMode.CASH, I8),
            "status": (Status.OPEN, I8), "settled": (Settled.NONE, I8), "seen": (0, I8), "dup": (0, I8),
            "pre_ok": (-1, I8), "later_ok": (-1, I8)}  # first UPI attempt that goes through, -1 = none

    def __init__(self, capacity: int = BLOCK) -> None:
        self.n = 0
        self.cols = {k: np.full(max(capacity, 1), v, dtype=t) for k, (v, t) in self.SPEC.items()}

    def ensure(self, b: int) -> None:
        cap = len(self.cols["price"])
        if b >= cap:
            new = max(2 * cap, b + 1)
            for k, (v, t) in self.SPEC.items():
                grown = np.full(new, v, dtype=t)
                grown[:cap] = self.cols[k]
                self.cols[k] = grown
        self.n = max(self.n, b + 1)

    def __getitem__(self, k: str) -> np.ndarray:
        return self.cols[k]


class Money:
    """Payments, escrow, commission, wallets and payouts of one run (a lifecycle listener).

    Args:
        cfg: the scenario's money block.
        env: the run's SimPy environment (times in [minutes]).
        streams: the run's seed tree (uses ``payments`` and ``payouts`` only).
        n_workers: registered workers (ids ``0..n_workers-1``).
        worker_district: district of each worker (index or name).
        district_names: names for integer ``worker_district`` values (optional).
        n_bookings: bookings expected (booking ids ``0..n_bookings-1``); the columns grow past it if needed.
    """

    def __init__(self, cfg: MoneyConfig, env: simpy.Environment, streams: Streams, n_workers: int,
                 worker_district: np.ndarray, district_names: Sequence[str] | None = None,
                 n_bookings: int = BLOCK) -> None:
        self.section = "wallet"  # its key in summary.json
        self.cfg, self.env = cfg, env
        self.ledger = lg.Ledger()
        self._pay_ss = streams.seed_sequence("payments")
        self._payout_ss = streams.seed_sequence("payouts")
        self._blocks: dict[int, dict[str, np.ndarray]] = {}
        self.per_booking = _Columns(n_bookings)  # sized for the run's bookings: no doubling copies
        self._cats: dict[str, int] = {}
        self._pending_pay: dict[int, simpy.Process] = {}
        self._collecting: set[int] = set()
        self.n_workers = int(n_workers)
        wd = np.asarray(worker_district)
        if district_names is not None:
            wd = np.asarray(district_names, dtype=object)[wd.astype(np.int64)]
        self.worker_district = wd.astype(object) if wd.dtype.kind in "OUS" else wd.astype(np.int64)
        if len(self.worker_district) != self.n_workers:
            raise ValueError("worker_district: needs one entry per worker")
        z = lambda: np.zeros(self.n_workers, dtype=np.int64)  # noqa: E731
        self.credited, self.commission, self.withdrawn, self.cash = z(), z(), z(), z()  # credited: wallet credit
        self.penalties, self.in_transit, self.n_payouts = z(), z(), z()
        self._funded: set[int] = set()  # workers whose wallet may be positive
        self.counts = dict.fromkeys(
            ["upi_attempts", "upi_failures", "prepay_fallbacks", "cash_fallbacks", "duplicates_absorbed",
             "payouts", "payouts_failed", "payouts_failed_paise"], 0)

    # -- random numbers (keyed, not sequential) ---------------------------------------
    def _block(self, k: int) -> dict[str, np.ndarray]:
        """Payment decisions of bookings ``k*BLOCK … (k+1)*BLOCK-1``, from uniforms keyed by ``k``.

        ``mode``; ``pre_ok``/``later_ok``: first UPI attempt that goes through (-1 = none of
        ``1 + upi_retries``); ``dup``: the success callback arrives twice.
        """
        blk = self._blocks.get(k)
        if blk is None:
            cfg = self.cfg
            ss = np.random.SeedSequence(self._pay_ss.entropy, spawn_key=(*self._pay_ss.spawn_key, k))
            u = np.random.Generator(np.random.PCG64(ss)).random((BLOCK, U_WIDTH))
            mode = np.where(u[:, U_PREPAID] < cfg.prepaid_share, PayMode.PREPAID, PayMode.LATER)
            blk = {"mode": np.where(u[:, U_ONLINE] < cfg.online_share, mode, PayMode.CASH).astype(np.int8),
                   "dup": (u[:, U_DUP] < cfg.duplicate_callback_prob).astype(np.int8)}
            n_try = 1 + cfg.upi_retries
            for col, u0 in (("pre_ok", U_PRE0), ("later_ok", U_LATER0)):
                ok = u[:, u0:u0 + n_try] >= cfg.upi_failure_prob
                blk[col] = np.where(ok.any(axis=1), ok.argmax(axis=1), -1).astype(np.int8)
            self._blocks[k] = blk
        return blk

    def _payout_u(self, w: int, k: int) -> tuple[float, float]:
        """(failure, duplicate-callback) uniforms of worker ``w``'s ``k``-th payout."""
        ss = np.random.SeedSequence(self._payout_ss.entropy, spawn_key=(*self._payout_ss.spawn_key, w, k))
        st = ss.generate_state(2, np.uint64)
        return float(st[0] >> np.uint64(11)) / 2.0**53, float(st[1] >> np.uint64(11)) / 2.0**53

    # -- posting helpers --------------------------------------------------------------
    def _post(self, key: str, legs: list[lg.Leg], kind: str, now: float, b: int | None, dup: bool) -> None:
        """Post once; if ``dup`` the gateway reports it twice (the second report must do nothing)."""
        txn = self.ledger.post(key, legs, kind, now, b)
        if dup:
            before = self.ledger.n_txns
            if self.ledger.post(key, legs, kind, now, b) != txn or self.ledger.n_txns != before:
                raise AssertionError(f"{key}: a duplicate callback had an effect")
            self.counts["duplicates_absorbed"] += 1

    def _credit(self, w: int, amount: int, now: float) -> None:
        self.credited[w] += amount
        self._funded.add(w)
        if self.cfg.payout_policy == "threshold":
            bal = self.ledger.balance(lg.account("wallet", w))
            if bal >= self.cfg.payout_threshold_paise:
                self._payout(w, bal, now)

    # -- lifecycle hooks (called by the model) ----------------------------------------
    def on_booking_created(self, booking_id: int, citizen_id: int, category: str, price_paise: int,
                           now_min: float) -> None:
        """Choose the payment mode; a prepaid online booking starts paying now."""
        b = int(booking_id)
        self.per_booking.ensure(b)
        c = self.per_booking.cols  # after ensure: it may have grown the columns
        if c["seen"][b]:
            return  # a repeated call: no second effect
        c["seen"][b] = 1
        c["citizen"][b], c["price"][b] = int(citizen_id), int(price_paise)
        c["commission"][b] = lg.commission_paise(int(price_paise), self.cfg.commission_rate_bp(category))
        blk, i = self._block(b // BLOCK), b % BLOCK
        for col in ("mode", "pre_ok", "later_ok", "dup"):
            c[col][b] = blk[col][i]
        if int(c["mode"][b]) == _PREPAID:
            self._pending_pay[b] = self.env.process(self._prepay(b))

    def on_booking_assigned(self, booking_id: int, worker_id: int, now_min: float) -> None:
        """Remember who will be paid."""
        self.per_booking["worker"][int(booking_id)] = int(worker_id)

    def on_booking_completed(self, booking_id: int, worker_id: int, now_min: float) -> None:
        """Collect payment if not prepaid, take commission, credit the wallet."""
        b, c = int(booking_id), self.per_booking.cols
        if int(c["status"][b]) != _OPEN:
            return
        w = int(worker_id)
        c["status"][b], c["worker"][b] = _COMPLETED, w
        if b in self._pending_pay or int(c["mode"][b]) == _LATER:  # UPI attempts take time
            self._collecting.add(b)
            self.env.process(self._collect(b, w))
        else:
            self._settle_booking(b, w)

    def on_booking_cancelled(self, booking_id: int, now_min: float, by: str) -> None:
        """Refund a prepayment, less a late-cancellation fee to the assigned worker if set."""
        b, c = int(booking_id), self.per_booking.cols
        if int(c["status"][b]) != _OPEN:
            return
        c["status"][b] = _CANCELLED
        w = int(c["worker"][b])
        if by == "citizen" and w >= 0 and c["held"][b] > 0 and self.cfg.cancel_fee_paise > 0:
            fee = min(self.cfg.cancel_fee_paise, int(c["held"][b]))
            self.ledger.post(f"fee:{b}", lg.cancellation_fee_legs(fee, w), "cancellation_fee", now_min, b)
            c["held"][b] -= fee
            c["fee"][b] = fee
            self._credit(w, fee, now_min)
        if by == "worker" and w >= 0 and self.cfg.worker_cancel_penalty_paise > 0:
            amt = min(self.cfg.worker_cancel_penalty_paise, self.ledger.balance(lg.account("wallet", w)))
            if amt > 0:
                self.ledger.post(f"pen:{b}", lg.penalty_legs(w, amt), "penalty", now_min, b)
                self.penalties[w] += amt
        self._refund(b, now_min)

    def on_booking_unfulfilled(self, booking_id: int, now_min: float) -> None:
        """Refund a prepayment in full."""
        b, c = int(booking_id), self.per_booking.cols
        if int(c["status"][b]) != _OPEN:
            return
        c["status"][b] = _UNFULFILLED
        self._refund(b, now_min)

    def _refund(self, b: int, now: float) -> None:
        held = int(self.per_booking["held"][b])
        if held > 0:
            self.ledger.post(f"refund:{b}", lg.refund_legs(int(self.per_booking["citizen"][b]), held), "refund", now, b)
            self.per_booking["held"][b] = 0
            self.per_booking["refunded"][b] = held

    # -- processes --------------------------------------------------------------------
    def _try_upi(self, b: int, phase: str):
        """UPI attempts with retries; returns True once one goes through (a generator)."""
        cfg, ok_at = self.cfg, int(self.per_booking[phase][b])
        for i in range(1 + cfg.upi_retries):
            if i:
                yield self.env.timeout(cfg.upi_retry_delay_min)
            if phase == "pre_ok" and int(self.per_booking["status"][b]) != _OPEN:
                return False  # the booking ended while a prepayment was being retried
            self.counts["upi_attempts"] += 1
            if i == ok_at:
                return True
            self.counts["upi_failures"] += 1
        return False

    def _pay_online(self, b: int) -> None:
        c = self.per_booking
        legs = lg.online_payment_legs(int(c["citizen"][b]), int(c["price"][b]))
        self._post(f"pay:{b}", legs, "payment_online", self.env.now, b, bool(c["dup"][b]))
        c["held"][b] = c["price"][b]

    def _prepay(self, b: int):
        ok = yield from self._try_upi(b, "pre_ok")
        if ok:
            self._pay_online(b)
        elif int(self.per_booking["status"][b]) == _OPEN or b in self._collecting:
            self.per_booking["mode"][b] = _LATER
            self.counts["prepay_fallbacks"] += 1
        self._pending_pay.pop(b, None)

    def _collect(self, b: int, w: int):
        c = self.per_booking
        pending = self._pending_pay.get(b)
        if pending is not None:
            yield pending
        if int(c["mode"][b]) == _LATER:
            ok = yield from self._try_upi(b, "later_ok")
            if ok:
                self._pay_online(b)
            else:
                c["mode"][b] = _CASH
                self.counts["cash_fallbacks"] += 1
        self._settle_booking(b, w)
        self._collecting.discard(b)

    def _settle_booking(self, b: int, w: int) -> None:
        """Release the online payment to the wallet (less commission), or record the cash."""
        c, now = self.per_booking.cols, self.env.now
        price = int(c["price"][b])
        if c["held"][b] > 0:
            com = int(c["commission"][b])
            self.ledger.post(f"done:{b}", lg.completion_legs(w, price, com), "completion", now, b)
            c["held"][b] = 0
            c["settled"][b] = _SETTLED_ONLINE
            self.commission[w] += com
            if price > com:
                self._credit(w, price - com, now)
        else:
            legs = lg.cash_payment_legs(int(c["citizen"][b]), w, price)
            self.ledger.post(f"cash:{b}", legs, "payment_cash", now, b)
            c["settled"][b] = _SETTLED_CASH
            self.cash[w] += price

    def _payout(self, w: int, amount: int, now: float) -> None:
        k = int(self.n_payouts[w])
        self.ledger.post(f"po:{w}:{k}", lg.payout_legs(w, amount), "payout", now, None)
        self.n_payouts[w] += 1
        self.in_transit[w] += amount
        self.counts["payouts"] += 1
        if self.ledger.balance(lg.account("wallet", w)) == 0:
            self._funded.discard(w)
        ev = self.env.timeout(self.cfg.settlement_delay_days * DAY_MIN)
        ev.callbacks.append(lambda _ev: self._settle(w, k, amount))

    def _settle(self, w: int, k: int, amount: int) -> None:
        u_fail, u_dup = self._payout_u(w, k)
        now, dup = self.env.now, u_dup < self.cfg.duplicate_callback_prob
        self.in_transit[w] -= amount
        if u_fail < self.cfg.payout_failure_prob:
            self._post(f"pof:{w}:{k}", lg.payout_failed_legs(w, amount), "payout_failed", now, None, dup)
            self.counts["payouts_failed"] += 1
            self.counts["payouts_failed_paise"] += amount
            self._funded.add(w)
        else:
            self._post(f"pos:{w}:{k}", lg.payout_settled_legs(amount), "payout_settled", now, None, dup)
            self.withdrawn[w] += amount

    def _schedule(self):
        cfg, env = self.cfg, self.env
        period = cfg.payout_every_days * DAY_MIN
        yield env.timeout(period + cfg.payout_hour * 60.0)
        while True:
            for w in sorted(self._funded):  # sorted: a stable order, never set order
                bal = self.ledger.balance(lg.account("wallet", w))
                if bal >= cfg.min_payout_paise:
                    self._payout(w, bal, env.now)
            yield env.timeout(period)

    def start(self) -> None:
        """Start the payout schedule (called once, before ``env.run``)."""
        if self.cfg.payout_policy == "schedule":
            self.env.process(self._schedule())

    # -- results ----------------------------------------------------------------------
    def tables(self) -> dict[str, pd.DataFrame]:
        """``{"ledger": one row per leg, "wallets": one row per worker}``."""
        wallets = pd.DataFrame({
            "worker_id": np.arange(self.n_workers, dtype=np.int64),
            "district": self.worker_district,
            "credited_paise": self.credited.copy(),
            "commission_paise": self.commission.copy(),
            "withdrawn_paise": self.withdrawn.copy(),
            "balance_paise": self.wallet_balances(),
            "cash_paise": self.cash.copy(),
        })
        return {"ledger": self.ledger.to_frame(), "wallets": wallets}

    def wallet_balances(self) -> np.ndarray:
        """Wallet balance of every worker now [paise]."""
        out = np.zeros(self.n_workers, dtype=np.int64)
        for name, bal in self.ledger.balances().items():
            if name.startswith("wallet:"):
                out[int(name[7:])] = bal
        return out

    @property
    def collecting(self) -> int:
        """Completed bookings whose payment is still being collected (UPI attempts under way)."""
        return len(self._collecting)

    def summary(self) -> dict[str, Any]:
        """The ``wallet`` section of ``summary.json`` (money in [paise])."""
        return wallet_summary(self)

    def check_invariants(self) -> None:
        """Raise ``AssertionError`` if the books, the bookings and the wallets disagree."""
        check_invariants(self)
