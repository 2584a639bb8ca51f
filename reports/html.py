"""``report.html``: one self-contained page per run, rebuilt from the saved outputs alone.

PNGs are embedded as base64 data URIs (the page opens offline) and also saved under
``RUN_DIR/figures/`` for papers.  The page holds no time stamp or absolute path of its
own, so rebuilding it from the same folder gives the same bytes.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from reports import plots
from reports.figures import finite_or_none, png_bytes, report_style, run_map_panels, save_pngs
from reports.load import RunData, load_run
from reports.maps import map_figure

#: (key, title, caption, builder) of every figure; builders return None when data is absent.
SECTIONS: tuple[tuple[str, str, str, Callable[[RunData], Figure | None]], ...] = (
    ("map", "Districts",
     "Bookings per 100,000 people (2011 census) per year, fulfilment rate and 90th-percentile wait "
     "to assignment per district. Grey: not simulated or no bookings.",
     lambda r: map_figure(run_map_panels(r))),
    ("demand", "Demand over time",
     "Bookings created after the warm-up, by hour of day, weekday and calendar month.", plots.demand_figure),
    ("wait", "Wait to assignment",
     "Minutes from booking to the worker's acceptance, assigned bookings after the warm-up.",
     plots.wait_figure),
    ("workers", "Workers",
     "Active workers: busy share of on-shift time, earnings and their concentration.", plots.workers_figure),
    ("helpline", "Helpline 155330",
     "Share of calls answered within the service-level threshold, and abandoned, by hour of day.",
     plots.helpline_figure),
    ("wallet", "Wallet flows", "Money moved through the ledger by kind, and worker wallet balances.",
     plots.wallet_figure),
)

#: Headline KPIs from summary.json: (key, label, format).
KPIS: tuple[tuple[str, str, str], ...] = (
    ("bookings", "bookings (measured)", "{:,.0f}"),
    ("completed", "completed", "{:,.0f}"),
    ("cancelled", "cancelled", "{:,.0f}"),
    ("unfulfilled", "unfulfilled", "{:,.0f}"),
    ("fulfilment_rate", "fulfilment rate", "{:.1%}"),
    ("wait_assign_mean_min", "wait to assignment, mean [min]", "{:.1f}"),
    ("wait_assign_p50_min", "wait to assignment, p50 [min]", "{:.1f}"),
    ("wait_assign_p90_min", "wait to assignment, p90 [min]", "{:.1f}"),
    ("travel_km_per_job", "travel per job [km]", "{:.1f}"),
    ("utilisation", "utilisation of active workers", "{:.2%}"),
    ("gini_earnings", "earnings Gini (active)", "{:.3f}"),
    ("share_workers_no_job", "active workers with no job", "{:.1%}"),
    ("avg_rating", "average rating [stars]", "{:.2f}"),
    ("workers_registered", "workers registered", "{:,.0f}"),
    ("workers_active", "workers active", "{:,.0f}"),
)

CSS = """body{font-family:system-ui,'DejaVu Sans',sans-serif;margin:1.5em auto;max-width:1320px;
color:#222;padding:0 1em}h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em}td,th{padding:.2em .7em;border-bottom:1px solid #eee;
text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}figure{margin:.5em 0}
img{max-width:100%;height:auto}figcaption{font-size:.85em;color:#555}.methods{background:#f6f8fa;
border:1px solid #d0d7de;padding:.6em 1em;border-radius:6px}.cols{display:flex;gap:1em}.cols>div{flex:1}
.pos{color:#1a7f37}.neg{color:#cf222e}"""


def fmt(value: Any, pattern: str = "{}") -> str:
    """A summary value for display; missing/NaN → "–"."""
    v = finite_or_none(value)
    if v is None:
        return "–" if value is None or isinstance(value, float | int) else html.escape(str(value))
    return pattern.format(v)


def table(rows: Iterable[Iterable[str]], header: Iterable[str] = (), numeric_from: int = 1) -> str:
    """An HTML table of already-escaped cells; columns from ``numeric_from`` right-aligned."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="n">{c}</td>' if i >= numeric_from else f"<td>{c}</td>"
                         for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table>{'<tr>' + head + '</tr>' if head else ''}{body}</table>"


def img(png: bytes, alt: str) -> str:
    """An <img> with the PNG embedded as a data URI."""
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def page(title: str, body: str) -> str:
    """The full HTML document."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n")


def methods_rows(run: RunData) -> list[tuple[str, str]]:
    """The STRESS-DES reporting items a reader needs to judge and repeat the run."""
    s, sc = run.summary, run.scenario
    disp = sc.get("dispatch", {}) or {}
    geo = (sc.get("geography", {}) or {}).get("districts", "all")
    cats = sorted(k for k, c in (sc.get("catalog", {}) or {}).items() if (c or {}).get("enabled", True))
    rows = [
        ("scenario", f"{s.get('scenario', sc.get('name', '?'))} — {sc.get('description', '')}".strip(" —")),
        ("model version", str(s.get("version", "?"))),
        ("seed / replication", f"{s.get('seed', '?')} / {s.get('replication', 0)}"),
        ("replications in this report", str(s.get("replications", 1))),
        ("start date", str(sc.get("start_date", "?"))),
        ("run length", f"{fmt(s.get('horizon_days'), '{:g}')} days"),
        ("warm-up (excluded from KPIs)", f"{fmt(s.get('warmup_days'), '{:g}')} days"),
        ("dispatch policy", f"{disp.get('policy', s.get('policy', '?'))} {disp.get('params', {}) or ''}"),
        ("districts", "all 75" if geo == "all" else ", ".join(geo)),
        ("service categories", f"{len(cats)}: {', '.join(cats)}"),
        ("randomness", "numpy PCG64 streams per purpose from SeedSequence(seed, (replication, purpose))"),
        ("run folder", run.name),
    ]
    return [(k, html.escape(v)) for k, v in rows]


def kpi_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """Headline KPIs of one run, formatted."""
    return [(label, fmt(summary.get(key), f)) for key, label, f in KPIS]


def auto_fmt(value: Any) -> str:
    """A number shown readably whatever its size: integers with separators, else 4 digits."""
    v = finite_or_none(value)
    if v is None or isinstance(value, bool):
        return fmt(value)
    if float(v).is_integer() or abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.4g}"


def category_rows(run: RunData) -> list[tuple[str, ...]]:
    """Per service: measured bookings, fulfilment, p90 wait [min], mean ticket of completed [Rs]."""
    from sim.metrics import booking_kpis

    bk = run.measured_bookings()
    rows = []
    for cat, g in bk.groupby("category", sort=True):
        k = booking_kpis(g)
        done = g.loc[g["status"] == "completed", "price_paise"].dropna()
        rows.append((html.escape(str(cat)), f"{k['bookings']:,}", fmt(k["fulfilment_rate"], "{:.1%}"),
                     fmt(k["wait_assign_p90_min"], "{:.1f}"), fmt(done.mean() / 100 if len(done) else None, "{:,.0f}")))
    return rows


def _nested_rows(d: dict[str, Any]) -> list[tuple[str, str]]:
    return [(html.escape(str(k)), auto_fmt(v)) for k, v in sorted(d.items()) if not isinstance(v, dict | list)]


def ledger_check(run: RunData) -> str:
    """One line saying whether every ledger transaction sums to zero paise."""
    led = run.table("ledger")
    if led is None or led.empty:
        return ""
    sums = led.groupby("txn_id", sort=True)["amount_paise"].sum()
    bad = int((sums != 0).sum())
    total = int(led["amount_paise"].sum())
    verdict = "every transaction balances" if bad == 0 else f"{bad} unbalanced transactions"
    return (f"<p>Ledger: {len(sums):,} transactions, {len(led):,} legs; {verdict}; "
            f"sum of all legs = {total:,} paise.</p>")


def build_pngs(run: RunData) -> dict[str, bytes]:
    """Render every available figure of a run to PNG bytes, by section key."""
    out = {}
    with report_style():
        for key, _title, _cap, build in SECTIONS:
            fig = build(run)
            if fig is not None:
                out[key] = png_bytes(fig)
    return out


def figure_html(key: str, title: str, caption: str, pngs: dict[str, bytes]) -> str:
    """A <figure> of one section (empty string when the figure is absent)."""
    if key not in pngs:
        return ""
    return f"<figure>{img(pngs[key], title)}<figcaption>{html.escape(caption)}</figcaption></figure>"


def report_body(run: RunData, pngs: dict[str, bytes]) -> str:
    """The body of a one-run report."""
    s = run.summary
    parts = [f"<h1>Sewa Mitra Twin — {html.escape(str(s.get('scenario', run.name)))}</h1>",
             '<div class="methods"><h2>Methods</h2>', table(methods_rows(run), numeric_from=9), "</div>",
             "<h2>Headline KPIs</h2>", table(kpi_rows(s)),
             "<h2>By service</h2>",
             table(category_rows(run), header=("service", "bookings", "fulfilment", "p90 wait [min]",
                                               "mean ticket [Rs]"))]
    for key, title, caption, _ in SECTIONS:
        if key not in pngs:
            continue
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts.append(figure_html(key, title, caption, pngs))
        if key == "helpline" and isinstance(s.get("helpline"), dict):
            parts.append(table(_nested_rows(s["helpline"])))
        if key == "wallet":
            parts.append(ledger_check(run))
            if isinstance(s.get("wallet"), dict):
                parts.append(table(_nested_rows(s["wallet"])))
    missing = [t for k, t, _, _ in SECTIONS if k not in pngs]
    if missing:
        parts.append(f"<p><small>Not in this run: {html.escape(', '.join(missing))}.</small></p>")
    return "\n".join(parts)


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Build ``RUN_DIR/report.html`` (and ``RUN_DIR/figures/*.png``) from the saved outputs.

    Args:
        run_dir: a run folder written by ``sim.write_run``.
        out: where to write the page (default ``RUN_DIR/report.html``).

    Returns:
        The path of the written page.
    """
    run = load_run(run_dir)
    pngs = build_pngs(run)
    save_pngs(pngs, run.path / "figures")
    target = Path(out) if out else run.path / "report.html"
    target.write_text(page(f"Sewa Mitra Twin report — {run.name}", report_body(run, pngs)), encoding="utf-8")
    return target

