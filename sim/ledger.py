"""Double-entry ledger in integer paise, shared by the simulation (``sim.money``) and ``service/``.

Every transaction is a list of legs ``(account, amount_paise)``; ``amount`` is the change of
that account's balance and the legs of one transaction sum to zero, so money is never created
or lost.  Citizens are the only external source (their accounts go negative by design: that is
what they paid); ``bank:settlement`` is the sink for money that reached workers' bank accounts.

API (kept stable for ``service/``):

- ``LedgerError`` – unbalanced, non-integer, zero or duplicate leg, unknown account, negative
  balance, idempotency-key clash.
- ``Leg = tuple[str, int]``; ``check_legs(legs)`` validates one transaction.
- ``account(kind, ident=None)`` – ``"wallet:7"``, ``"citizen:12"``, ``"cash:7"``,
  ``"platform:commission"``, ``"platform:escrow"``, ``"bank:settlement"``, ``"bank:payout_transit"``.
- ``NON_NEGATIVE_PREFIXES`` – accounts whose balance may never go below 0.
- ``commission_paise(price_paise, rate_bp)`` – floor of price × rate / 10 000.
- Builders (pure, balanced, zero legs omitted): ``online_payment_legs``, ``cash_payment_legs``,
  ``completion_legs``, ``refund_legs``, ``cancellation_fee_legs``, ``penalty_legs``,
  ``payout_legs``, ``payout_settled_legs``, ``payout_failed_legs``.
- ``Ledger`` – in-memory, columnar: ``post(key, legs, kind, time_min, booking_id=None) -> txn_id``
  (idempotent by key), ``balance(account)``, ``balances()``, ``txn_legs(txn_id)``,
  ``verify()``, ``to_frame()`` (columns of ``ledger.parquet``), ``n_txns``, ``n_entries``,
  ``has_key(key)``, ``txn_kind(txn_id)``, ``balance_series(prefix)`` (money in some accounts over time).

Money flows (accounts):

- online payment: ``citizen:c → platform:escrow`` (held until the job is done or refunded);
- cash payment: ``citizen:c → cash:w`` (handed to the worker; outside the wallet, recorded for
  reconciliation only);
- completion: ``platform:escrow → wallet:w`` (price − commission) ``+ platform:commission``;
- refund: ``platform:escrow → citizen:c``;
- payout: ``wallet:w → bank:payout_transit``; then settled ``→ bank:settlement`` or failed
  ``→ wallet:w`` (the money returns).
"""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Callable, Container, Sequence

import numpy as np
import pandas as pd

Leg = tuple[str, int]

PER_PERSON_KINDS = ("wallet", "citizen", "cash")
SINGLE_ACCOUNTS = ("platform:commission", "platform:escrow", "bank:settlement", "bank:payout_transit")
NON_NEGATIVE_PREFIXES = ("wallet:", "platform:escrow", "platform:commission", "bank:payout_transit")

ESCROW = "platform:escrow"
COMMISSION = "platform:commission"
SETTLEMENT = "bank:settlement"
TRANSIT = "bank:payout_transit"

BP_PER_UNIT = 10_000  # basis points in 100 %
_ACCOUNT_RE = re.compile(r"^(wallet|citizen|cash):(0|[1-9][0-9]*)$")
_NO_BOOKING = -1


class LedgerError(ValueError):
    """A transaction breaks a ledger rule; nothing was written."""


def _is_int(x: object) -> bool:
    # bool is an int subclass and numpy ints are not: accept the latter, refuse the former
    return type(x) is int or (isinstance(x, int | np.integer) and not isinstance(x, bool | np.bool_))


def valid_account(name: str) -> bool:
    """Whether ``name`` is a well-formed account name."""
    return isinstance(name, str) and (name in SINGLE_ACCOUNTS or _ACCOUNT_RE.match(name) is not None)


def account(kind: str, ident: int | None = None) -> str:
    """Name of an account: ``account("wallet", 7) == "wallet:7"``, ``account("platform:escrow")``."""
    if kind in PER_PERSON_KINDS:
        if ident is None or not _is_int(ident) or ident < 0:
            raise LedgerError(f"account: {kind!r} needs a non-negative integer id, got {ident!r}")
        return f"{kind}:{int(ident)}"
    if kind in SINGLE_ACCOUNTS and ident is None:
        return kind
    raise LedgerError(f"account: unknown account kind {kind!r} (id {ident!r})")


def check_legs(legs: Sequence[Leg], known: Container[str] = ()) -> None:
    """Raise ``LedgerError`` unless ``legs`` is one valid balanced transaction.

    Rules: at least two legs; accounts well-formed and distinct; amounts are integers
    (bool and float refused) and non-zero; amounts sum to zero.  Names in ``known`` (a
    ledger's accounts, already checked when first posted) skip the name check.
    """
    if len(legs) < 2:
        raise LedgerError("legs: a transaction needs at least two legs")
    seen: set[str] = set()
    total = 0
    for leg in legs:
        if not isinstance(leg, (tuple, list)) or len(leg) != 2:  # noqa: UP038 - the tuple form is faster
            raise LedgerError(f"legs: {leg!r} is not an (account, amount) pair")
        acct, amt = leg
        if acct not in known and not valid_account(acct):
            raise LedgerError(f"legs: bad account {acct!r}")
        if acct in seen:
            raise LedgerError(f"legs: account {acct!r} appears twice")
        seen.add(acct)
        if type(amt) is not int and not _is_int(amt):  # the common case without a call
            raise LedgerError(f"legs: amount of {acct} must be an integer number of paise, got {amt!r}")
        if amt == 0:
            raise LedgerError(f"legs: zero amount on {acct}")
        total += int(amt)
    if total != 0:
        raise LedgerError(f"legs: transaction does not balance (sum {total} paise)")


def check_non_negative(legs: Sequence[Leg], balance: Callable[[str], int]) -> None:
    """Raise ``LedgerError`` if a leg would take an account of ``NON_NEGATIVE_PREFIXES`` below 0.

    ``balance(account)`` is the account's balance before the transaction [paise].  The one
    rule, used by ``Ledger.post`` and by the reference deployment's ledger.
    """
    for acct, amt in legs:
        if amt < 0 and acct.startswith(NON_NEGATIVE_PREFIXES):
            have = balance(acct)
            if have + amt < 0:
                raise LedgerError(f"{acct}: balance {have} paise cannot cover {-amt} paise")


def commission_paise(price_paise: int, rate_bp: int) -> int:
    """Platform commission on a price [paise] at ``rate_bp`` basis points (1 bp = 0.01 %).

    Rounded **down** to the paisa, so the rounding remainder always goes to the worker.
    """
    if not _is_int(price_paise) or price_paise < 0:
        raise LedgerError(f"price_paise: must be a non-negative integer, got {price_paise!r}")
    if not _is_int(rate_bp) or not 0 <= rate_bp <= BP_PER_UNIT:
        raise LedgerError(f"rate_bp: must be an integer in 0..{BP_PER_UNIT}, got {rate_bp!r}")
    return int(price_paise) * int(rate_bp) // BP_PER_UNIT


def _np(buf: array) -> np.ndarray:
    """A numpy copy of a columnar buffer (``array('q')`` → int64, ``array('d')`` → float64)."""
    return np.array(buf, dtype=np.int64 if buf.typecode == "q" else np.float64)


def _positive(name: str, amount: int) -> int:
    if not _is_int(amount) or amount <= 0:
        raise LedgerError(f"{name}: must be a positive integer number of paise, got {amount!r}")
    return int(amount)


def _transfer(src: str, dst: str, amount: int) -> list[Leg]:
    return [(src, -amount), (dst, amount)]


def online_payment_legs(citizen_id: int, amount: int) -> list[Leg]:
    """A citizen pays online (UPI) into the platform's escrow."""
    return _transfer(account("citizen", citizen_id), ESCROW, _positive("amount", amount))


def cash_payment_legs(citizen_id: int, worker_id: int, amount: int) -> list[Leg]:
    """A citizen hands cash to the worker (recorded outside the wallet, for reconciliation)."""
    return _transfer(account("citizen", citizen_id), account("cash", worker_id), _positive("amount", amount))


def completion_legs(worker_id: int, price: int, commission: int) -> list[Leg]:
    """Release an online payment from escrow: price − commission to the wallet, commission to the platform."""
    price = _positive("price", price)
    if not _is_int(commission) or not 0 <= commission <= price:
        raise LedgerError(f"commission: must be an integer in 0..{price}, got {commission!r}")
    legs: list[Leg] = [(ESCROW, -price)]
    if price - commission:
        legs.append((account("wallet", worker_id), price - int(commission)))
    if commission:
        legs.append((COMMISSION, int(commission)))
    return legs


def refund_legs(citizen_id: int, amount: int) -> list[Leg]:
    """Return (part of) an online payment from escrow to the citizen."""
    return _transfer(ESCROW, account("citizen", citizen_id), _positive("amount", amount))


def cancellation_fee_legs(amount: int, worker_id: int | None = None) -> list[Leg]:
    """Keep a cancellation fee out of a prepaid booking's escrow.

    It goes to the assigned worker's wallet when there is one (U10: the customer's late-
    cancellation fee is passed fully to the partner), else to the platform.
    """
    dst = COMMISSION if worker_id is None else account("wallet", worker_id)
    return _transfer(ESCROW, dst, _positive("amount", amount))


def penalty_legs(worker_id: int, amount: int) -> list[Leg]:
    """A worker's penalty (e.g. for cancelling an accepted job): wallet → platform."""
    return _transfer(account("wallet", worker_id), COMMISSION, _positive("amount", amount))


def payout_legs(worker_id: int, amount: int) -> list[Leg]:
    """Start a withdrawal: wallet → payout in transit."""
    return _transfer(account("wallet", worker_id), TRANSIT, _positive("amount", amount))


def payout_settled_legs(amount: int) -> list[Leg]:
    """A payout reached the worker's bank: in transit → bank settlement."""
    return _transfer(TRANSIT, SETTLEMENT, _positive("amount", amount))


def payout_failed_legs(worker_id: int, amount: int) -> list[Leg]:
    """A payout bounced: in transit → back to the wallet."""
    return _transfer(TRANSIT, account("wallet", worker_id), _positive("amount", amount))


class Ledger:
    """An append-only, in-memory double-entry ledger with columnar buffers.

    Entries (legs) of one transaction are contiguous; ``_txn_start[t]`` is the first entry of
    transaction ``t``.  Accounts and kinds are interned to small integers.
    """

    def __init__(self) -> None:
        self._acct_names: list[str] = []
        self._acct_idx: dict[str, int] = {}
        self._kind_names: list[str] = []
        self._kind_idx: dict[str, int] = {}
        self._bal = array("q")  # by account index [paise]; C int64s, not an int object per account
        self._e_txn = array("q")
        self._e_acct = array("q")
        self._e_amt = array("q")
        self._t_start = array("q")
        self._t_time = array("d")
        self._t_kind = array("q")
        self._t_booking = array("q")
        self._keys: dict[str, int] = {}

    @property
    def n_txns(self) -> int:
        """Number of transactions posted."""
        return len(self._t_start)

    @property
    def n_entries(self) -> int:
        """Number of legs posted."""
        return len(self._e_amt)

    @staticmethod
    def _intern(name: str, names: list[str], index: dict[str, int]) -> int:
        """Small integer code of ``name`` (new names get the next code)."""
        i = index.get(name)
        if i is None:
            i = index[name] = len(names)
            names.append(name)
        return i

    def _intern_account(self, name: str) -> int:
        i = self._intern(name, self._acct_names, self._acct_idx)
        if i == len(self._bal):
            self._bal.append(0)
        return i

    def _intern_kind(self, kind: str) -> int:
        return self._intern(kind, self._kind_names, self._kind_idx)

    def txn_legs(self, txn_id: int) -> list[Leg]:
        """The legs of one posted transaction, in posting order."""
        if not 0 <= txn_id < self.n_txns:
            raise LedgerError(f"txn_id: no transaction {txn_id}")
        lo = self._t_start[txn_id]
        hi = self._t_start[txn_id + 1] if txn_id + 1 < self.n_txns else self.n_entries
        return [(self._acct_names[self._e_acct[e]], self._e_amt[e]) for e in range(lo, hi)]

    def txn_kind(self, txn_id: int) -> str:
        """The kind of one posted transaction."""
        return self._kind_names[self._t_kind[txn_id]]

    def post(
        self, key: str, legs: Sequence[Leg], kind: str, time_min: float, booking_id: int | None = None
    ) -> int:
        """Post one transaction once; return its id.

        Args:
            key: idempotency key (e.g. ``"pay:17"``).  Posting the same key again with the same
                legs and kind returns the first id and changes nothing; with other legs or kind
                it raises ``LedgerError``.
            legs: balanced legs (see ``check_legs``).
            kind: transaction kind (``"payment_online"``, ``"payout"``, …).
            time_min: when it happened [minutes].
            booking_id: the booking it belongs to, if any.

        Raises:
            LedgerError: invalid legs, or an account in ``NON_NEGATIVE_PREFIXES`` would go below
                zero; nothing is written.
        """
        if not isinstance(key, str) or not key:
            raise LedgerError(f"key: must be a non-empty string, got {key!r}")
        check_legs(legs, self._acct_idx)
        prior = self._keys.get(key)
        if prior is not None:
            if sorted(self.txn_legs(prior)) != sorted((a, int(x)) for a, x in legs) or self.txn_kind(prior) != kind:
                raise LedgerError(f"key: {key!r} was already posted with different legs or kind")
            return prior
        if not isinstance(kind, str) or not kind:
            raise LedgerError(f"kind: must be a non-empty string, got {kind!r}")
        t = float(time_min)
        if not math.isfinite(t):
            raise LedgerError(f"time_min: must be finite, got {time_min!r}")
        if booking_id is not None and (not _is_int(booking_id) or booking_id < 0):
            raise LedgerError(f"booking_id: must be a non-negative integer or None, got {booking_id!r}")
        check_non_negative(legs, self.balance)
        known, bal = self._acct_idx, self._bal
        e_txn, e_acct, e_amt = self._e_txn, self._e_acct, self._e_amt
        txn = len(self._t_start)
        self._t_start.append(len(e_amt))
        self._t_time.append(t)
        k = self._kind_idx.get(kind)
        self._t_kind.append(self._intern_kind(kind) if k is None else k)
        self._t_booking.append(_NO_BOOKING if booking_id is None else int(booking_id))
        for acct, amt in legs:
            i = known.get(acct)
            if i is None:
                i = self._intern_account(acct)
            amt = int(amt)
            bal[i] += amt
            e_txn.append(txn)
            e_acct.append(i)
            e_amt.append(amt)
        self._keys[key] = txn
        return txn

    def has_key(self, key: str) -> bool:
        """Whether a transaction was posted under ``key``."""
        return key in self._keys

    def balance(self, account: str) -> int:
        """Current balance of an account [paise] (0 if never touched)."""
        i = self._acct_idx.get(account)
        return 0 if i is None else self._bal[i]

    def balances(self) -> dict[str, int]:
        """All touched accounts and their balances [paise], in first-use order."""
        return dict(zip(self._acct_names, self._bal, strict=True))

    def verify(self) -> None:
        """Recompute everything from the entries; raise ``LedgerError`` on any inconsistency.

        Checks: every transaction sums to zero, balances equal the sum of their entries, no
        non-negative account is below zero at the end, and the books as a whole sum to zero.
        """
        amt, txn, acct = _np(self._e_amt), _np(self._e_txn), _np(self._e_acct)
        sums = np.zeros(self.n_txns, dtype=np.int64)
        np.add.at(sums, txn, amt)
        if (np.bincount(txn, minlength=self.n_txns) < 2).any():
            raise LedgerError("verify: a transaction has fewer than two legs")
        bad = np.flatnonzero(sums)
        if bad.size:
            raise LedgerError(f"verify: transaction {int(bad[0])} sums to {int(sums[bad[0]])} paise")
        recomputed = np.zeros(len(self._acct_names), dtype=np.int64)
        np.add.at(recomputed, acct, amt)
        if recomputed.tolist() != self._bal.tolist():
            raise LedgerError("verify: balances differ from the sum of their entries")
        for name, bal in zip(self._acct_names, self._bal, strict=True):
            if bal < 0 and name.startswith(NON_NEGATIVE_PREFIXES):
                raise LedgerError(f"verify: {name} is negative ({bal} paise)")
        if sum(self._bal) != 0:
            raise LedgerError("verify: the books do not sum to zero")

    def balance_series(self, prefix: str) -> tuple[np.ndarray, np.ndarray]:
        """How much sits in the accounts starting with ``prefix`` over time.

        Returns:
            ``(time_min, balance_paise)``: the time of each transaction touching those accounts
            [minutes] and their summed balance right after it [paise], in posting order.
        """
        names = np.array([n.startswith(prefix) for n in self._acct_names] + [False], dtype=bool)
        acct = _np(self._e_acct)
        hit = names[acct] if acct.size else np.zeros(0, dtype=bool)
        txn = _np(self._e_txn)[hit]
        per_txn, first = np.unique(txn, return_index=True)
        change = np.add.reduceat(_np(self._e_amt)[hit], first) if first.size else np.zeros(0, np.int64)
        return _np(self._t_time)[per_txn], np.cumsum(change)

    def to_frame(self) -> pd.DataFrame:
        """The ledger table, one row per leg (columns as ``ledger.parquet``).

        Columns: ``entry_id, txn_id, time_min, account, amount_paise, kind, booking_id``
        (``booking_id`` is a nullable ``Int64``).
        """
        n = self.n_entries
        txn, acct, amt = _np(self._e_txn), _np(self._e_acct), _np(self._e_amt)
        t_time, t_kind, t_book = _np(self._t_time), _np(self._t_kind), _np(self._t_booking)
        acct_names = np.array(self._acct_names + [""], dtype=object)
        kind_names = np.array(self._kind_names + [""], dtype=object)
        booking = pd.array(t_book[txn], dtype="Int64")
        booking[t_book[txn] == _NO_BOOKING] = pd.NA
        return pd.DataFrame(
            {
                "entry_id": np.arange(n, dtype=np.int64),
                "txn_id": txn.copy(),
                "time_min": t_time[txn],
                "account": acct_names[acct],
                "amount_paise": amt.copy(),
                "kind": kind_names[t_kind[txn]],
                "booking_id": booking,
            }
        )
