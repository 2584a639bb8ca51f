"""The report's explained sections: district tables, helpline and wallet figures in plain words.

Every figure a section shows has one label, its unit and one definition; every section opens
with a short "how to read this" line.  Tables of districts can be sorted by clicking a header.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from reports.figures import MAP_METRICS, district_metrics, finite_or_none
from reports.load import RunData
from reports.units import indian_digits, rupees

Formatter = Callable[[Any], str]


def count(v: Any) -> str:
    """A whole number with Indian digit grouping."""
    x = finite_or_none(v)
    return "–" if x is None else indian_digits(int(round(x)))


def pct(v: Any) -> str:
    """A share as a percentage with one decimal."""
    x = finite_or_none(v)
    return "–" if x is None else f"{x:.1%}"


def num(pattern: str) -> Formatter:
    """A formatter for ``pattern`` ("–" when missing)."""
    return lambda v: "–" if finite_or_none(v) is None else pattern.format(finite_or_none(v))


def money(v: Any) -> str:
    """Paise shown as whole rupees."""
    return rupees(finite_or_none(v), paise=True)


def money2(v: Any) -> str:
    """Paise shown as rupees and paise."""
    return rupees(finite_or_none(v), paise=True, decimals=2)


SORT_JS = """<script>
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0], i = th.cellIndex;
    var asc = th.dataset.dir !== "asc";
    th.closest("tr").querySelectorAll("th").forEach(function (h) { delete h.dataset.dir; });
    th.dataset.dir = asc ? "asc" : "desc";
    var key = function (r) { var c = r.cells[i]; return c.dataset.v !== undefined ? parseFloat(c.dataset.v)
                                                                                 : c.textContent; };
    Array.from(body.rows).sort(function (a, b) {
      var x = key(a), y = key(b);
      if (typeof x === "number" && isNaN(x)) return 1;
      if (typeof y === "number" && isNaN(y)) return -1;
      return (x > y ? 1 : x < y ? -1 : 0) * (asc ? 1 : -1);
    }).forEach(function (r) { body.appendChild(r); });
  });
});
</script>"""


def sortable(header: Sequence[str], rows: Iterable[Sequence[tuple[str, float | None]]]) -> str:
    """A table sortable by clicking a header; each cell is (escaped text, numeric sort key or None)."""
    head = "".join(f'<th title="click to sort">{h} ⇅</th>' for h in header)
    body = []
    for r in rows:
        cells = []
        for text, key in r:
            if key is None:
                cells.append(f"<td>{text}</td>")
            else:
                k = "NaN" if not math.isfinite(key) else repr(float(key))
                cells.append(f'<td class="n" data-v="{k}">{text}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def how_to_read(text: str) -> str:
    """The one-line reading guide that opens a section."""
    return f'<p class="read"><b>How to read this:</b> {html.escape(text)}</p>'


# ------------------------------------------------------------------ districts

DISTRICTS_READ = ("each map colours the simulated districts by one measure (grey: not simulated, or no "
                  "bookings); the named districts are the three highest and three lowest, plus Lucknow. "
                  "The table beside each map lists every district; click a column to sort it.")


def map_key(col: str) -> str:
    """The figure key (and PNG name) of one district map."""
    return f"map_{col}"


def district_table(run: RunData, col: str, pattern: str) -> str:
    """District | value | bookings, sorted by value (largest first), sortable."""
    m = district_metrics(run)
    booked = run.districts.set_index("district")["bookings"]
    order = m[col].sort_values(ascending=False, na_position="last", kind="stable").index
    title = next(t for c, t, *_ in MAP_METRICS if c == col)
    rows = []
    for d in order:
        v = finite_or_none(m.loc[d, col])
        b = finite_or_none(booked.get(d))
        rows.append([(html.escape(str(d)), None), ("–" if v is None else pattern.format(v), math.nan if v is None
                                                   else v), (count(b), math.nan if b is None else b)])
    return sortable(("district", html.escape(title), "bookings"), rows)


# ------------------------------------------------------------------ helpline

HELPLINE_READ = ("calls reach an IVR first; those not settled there and arriving in opening hours are "
                 "offered to agents. The service level is the share of offered calls answered within the "
                 "threshold; abandoned calls are callers who hung up while waiting.")

#: (summary key, label, formatter, definition) of the helpline figures, in reading order.
HELPLINE_ROWS: tuple[tuple[str, str, Formatter, str], ...] = (
    ("calls", "calls to 155330", count, "every call, whatever its reason: bookings, enquiries, complaints, "
     "redials, after-hours calls"),
    ("calls_per_day_mean", "calls per day", num("{:,.0f}"), "calls ÷ days simulated"),
    ("ivr_resolved", "settled in the IVR", count, "callers who got what they needed from the menu"),
    ("after_hours", "calls outside opening hours", count, "heard the opening-hours message; not offered to agents"),
    ("offered", "calls offered to agents", count, "calls that joined the agents' queue"),
    ("answered", "answered by an agent", count, "offered calls an agent picked up"),
    ("abandoned", "hung up while waiting", count, "offered calls whose caller gave up before an answer"),
    ("service_level", "answered within the threshold", pct, "answered within {sl_seconds:g} s ÷ offered "
     "(target {sl_target:.0%})"),
    ("hours_meeting_sl", "open hours meeting the target", pct, "hours with calls whose service level reached "
     "the target ÷ such hours"),
    ("abandon_rate", "abandonment", pct, "hung up while waiting ÷ offered"),
    ("p_wait", "calls that had to wait", pct, "offered calls not answered at once ÷ offered"),
    ("asa_s", "average speed of answer [seconds]", num("{:,.1f}"), "mean wait of answered calls"),
    ("mean_wait_s", "mean wait in queue [seconds]", num("{:,.1f}"), "mean wait of all offered calls, "
     "answered or not"),
    ("occupancy", "agent occupancy", pct, "talk and wrap-up time ÷ staffed agent time"),
    ("redials", "redials", count, "calls from callers who had hung up earlier and called again"),
    ("callbacks", "callbacks", count, "callers called back instead of waiting (virtual hold)"),
    ("bookings", "bookings made by phone", count, "bookings created from helpline calls"),
    ("calls_per_booking", "calls per phone booking", num("{:,.1f}"), "all calls ÷ bookings made by phone; "
     "high because most calls are not bookings"),
)


# ------------------------------------------------------------------ wallet

WALLET_READ = ("citizens pay online (UPI, through the ledger) or in cash (straight to the worker); online "
               "payments are credited to the worker's wallet, minus commission, and paid out to the worker's "
               "bank on a schedule. All amounts are totals over the run in rupees (₹); every ledger "
               "transaction sums to zero.")

GINI_NOTE = ("Counts every registered worker, including the dormant ones who never get a job, so it is higher "
             "than the headline “earnings Gini (active)”, which counts only active workers and all their "
             "earnings (cash too). 0 = all equal, 1 = one worker gets everything.")

WALLET_ROWS: tuple[tuple[str, str, Formatter, str], ...] = (
    ("bookings", "bookings", count, "bookings the money model saw"),
    ("completed", "completed jobs", count, "jobs done and paid for"),
    ("online_volume_paise", "paid online (UPI)", money, "ticket value of jobs paid online"),
    ("cash_volume_paise", "paid in cash", money, "ticket value paid to workers directly (never in a wallet)"),
    ("online_share_completed", "completed jobs paid online", pct, "paid online ÷ completed"),
    ("credited_paise", "credited to workers' wallets", money, "online payments after commission"),
    ("credit_per_booking_paise", "credit per booking", money2, "credited ÷ bookings"),
    ("credit_per_completed_paise", "credit per completed job", money2, "credited ÷ completed jobs"),
    ("commission_paise", "platform commission", money, "kept by the platform from online payments"),
    ("withdrawn_paise", "paid out to banks (settled)", money, "payouts the bank has settled into workers' accounts"),
    ("payouts", "payouts", count, "bank transfers started"),
    ("failed_payouts", "failed payouts", count, "transfers the bank returned (money back in the wallet)"),
    ("wallet_balance_paise", "left in wallets at the end", money, "credited but not yet paid out"),
    ("wallets_avg_paise", "in wallets, time average", money, "mean over the run of the money in all wallets"),
    ("in_transit_paise", "in transit at the end", money, "payouts started, not yet settled by the bank"),
    ("held_in_float_paise", "prepaid and held at the end", money, "paid at booking, not yet released (escrow)"),
    ("escrow_avg_paise", "prepaid and held, time average", money, "mean over the run of the escrow balance"),
    ("refunds_paise", "refunded to citizens", money, "prepaid money returned after a cancellation"),
    ("cancellation_fees_paise", "cancellation fees", money, "fees charged to citizens who cancelled"),
    ("penalties_paise", "worker penalties", money, "charged to workers who cancelled an accepted job"),
    ("upi_failures", "failed UPI attempts", count, "payment attempts that failed (retried or fell back)"),
    ("cash_fallbacks", "fell back to cash", count, "online payments that failed every retry"),
    ("share_workers_never_paid", "registered workers never credited", pct,
     "registered workers with no wallet credit ÷ registered workers"),
    ("gini_earnings", "wallet-credit Gini, all registered workers", num("{:.3f}"), GINI_NOTE),
)


def figures_table(values: dict[str, Any], rows: Sequence[tuple[str, str, Formatter, str]]) -> str:
    """Label | value | definition for the keys present in ``values`` (others are left out)."""
    out = []
    for key, label, f, definition in rows:
        if key not in values:
            continue
        try:
            text = definition.format(**values)
        except (KeyError, ValueError, TypeError):
            text = definition
        out.append(f'<tr><td>{html.escape(label)}</td><td class="n">{html.escape(f(values[key]))}</td>'
                   f'<td class="def">{html.escape(text)}</td></tr>')
    return ('<table class="defs"><tr><th>figure</th><th>value</th><th>definition</th></tr>'
            + "".join(out) + "</table>")
