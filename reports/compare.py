"""Two runs side by side: KPI differences, difference maps and paired figures.

``write_compare(A, B)`` writes ``A/compare_<B>.html`` and the figures under
``A/figures/compare_<B>/``; like the single report it is rebuilt from saved outputs only.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

from reports.figures import MAP_METRICS, diff_map_panels, finite_or_none, png_bytes, report_style, save_pngs
from reports.html import KPIS, MAP_CAPTIONS, SECTIONS, build_pngs, fmt, img, methods_rows, page, table
from reports.load import RunData, load_run
from reports.maps import map_figure
from reports.sections import map_key


def signed(v: float | None, pattern: str) -> str:
    """A difference with its sign and a colour class (``pos`` up, ``neg`` down)."""
    if v is None:
        return "–"
    text = pattern.format(v)
    cls = "pos" if v > 0 else "neg" if v < 0 else ""
    sign = "+" if v > 0 and not text.startswith("+") else ""
    return f'<span class="{cls}">{sign}{text}</span>'


def kpi_diff_rows(a: dict, b: dict) -> list[tuple[str, str, str, str]]:
    """KPI | A | B | B − A (differences of shares are in percentage points)."""
    rows = []
    for key, label, f in KPIS:
        va, vb = finite_or_none(a.get(key)), finite_or_none(b.get(key))
        diff = vb - va if va is not None and vb is not None else None
        rows.append((label, fmt(a.get(key), f), fmt(b.get(key), f), signed(diff, f)))
    return rows


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _districts(run: RunData) -> str:
    geo = (run.scenario.get("geography", {}) or {}).get("districts", "all")
    return "all 75" if geo == "all" else ", ".join(sorted(map(str, geo)))


def _policy(run: RunData) -> str:
    disp = run.scenario.get("dispatch", {}) or {}
    params = disp.get("params") or {}
    name = disp.get("policy", run.summary.get("policy", "?"))
    return f"{name} {params}" if params else str(name)


def mismatches(a: RunData, b: RunData) -> list[str]:
    """Differences that make A and B hard to compare: run length, warm-up, start, districts, policy.

    A different policy is often the point of a comparison, but it is still said out loud.
    """
    out = []
    ha, hb = finite_or_none(a.summary.get("horizon_days")), finite_or_none(b.summary.get("horizon_days"))
    if ha != hb:
        out.append(f"run length differs (A {ha:g} days, B {hb:g} days): counts and totals are not comparable, "
                   "rates and shares are" if ha is not None and hb is not None else "run length unknown in A or B")
    for key, label in (("warmup_days", "warm-up"),):
        va, vb = finite_or_none(a.summary.get(key)) or 0.0, finite_or_none(b.summary.get(key)) or 0.0
        if va != vb:
            out.append(f"{label} differs (A {va:g} days, B {vb:g} days)")
    sa, sb = str(a.scenario.get("start_date", "?")), str(b.scenario.get("start_date", "?"))
    if sa != sb:
        out.append(f"start date differs (A {sa}, B {sb}): seasons differ")
    da, db = _districts(a), _districts(b)
    if da != db:
        out.append(f"districts differ (A: {da}; B: {db})")
    pa, pb = _policy(a), _policy(b)
    if pa != pb:
        out.append(f"dispatch policy differs (A: {pa}; B: {pb})")
    return out


def write_compare(run_dir: str | Path, other_dir: str | Path, out: str | Path | None = None,
                  warn: Callable[[str], None] | None = None) -> Path:
    """Build a comparison page of run A (``run_dir``) and run B (``other_dir``).

    Differences in run length, warm-up, start date, districts or policy are shown at the top
    of the page and passed to ``warn`` (the CLI prints them).

    Returns:
        The written page (default ``A/compare_<B folder name>.html``).
    """
    a, b = load_run(run_dir), load_run(other_dir)
    for m in mismatches(a, b):
        if warn is not None:
            warn(m)
    pa, pb = build_pngs(a), build_pngs(b)
    with report_style():
        diff_png = png_bytes(map_figure(diff_map_panels(a, b)))
    slug = _slug(b.name)
    save_pngs({**{f"A_{k}": v for k, v in pa.items()}, **{f"B_{k}": v for k, v in pb.items()},
               "diff_map": diff_png}, a.path / "figures" / f"compare_{slug}")
    target = Path(out) if out else a.path / f"compare_{slug}.html"
    target.write_text(page(f"Sewa Mitra Twin — {a.name} vs {b.name}", _body(a, b, pa, pb, diff_png)),
                      encoding="utf-8")
    return target


def _body(a: RunData, b: RunData, pa: dict[str, bytes], pb: dict[str, bytes], diff_png: bytes) -> str:
    ma, mb = dict(methods_rows(a)), dict(methods_rows(b))
    methods = [(k, ma.get(k, "–"), mb.get(k, "–")) for k in ma]
    warnings = mismatches(a, b)
    parts = [f"<h1>A: {html.escape(a.name)} &nbsp;vs&nbsp; B: {html.escape(b.name)}</h1>",
             ('<div class="warn"><b>Warning — these runs differ in more than one respect:</b><ul>'
              + "".join(f"<li>{html.escape(w)}</li>" for w in warnings) + "</ul></div>") if warnings else "",
             '<div class="methods"><h2>Methods</h2>',
             table(methods, header=("", "A", "B"), numeric_from=9), "</div>",
             "<h2>Headline KPIs</h2>", table(kpi_diff_rows(a.summary, b.summary), header=("", "A", "B", "B − A")),
             "<h2>District differences (B − A)</h2>",
             f"<figure>{img(diff_png, 'district differences')}<figcaption>Per-district B − A; grey: a "
             "district missing from either run.</figcaption></figure>"]
    keys = [(map_key(c), t, MAP_CAPTIONS[c]) for c, t, *_ in MAP_METRICS] + [(k, t, c) for k, t, c, *_ in SECTIONS]
    for key, title, caption in keys:
        if key not in pa and key not in pb:
            continue
        cells = "".join(f"<div><h3>{side}</h3>{img(p[key], f'{title} {side}') if key in p else '–'}</div>"
                        for side, p in (("A", pa), ("B", pb)))
        parts.append(f"<h2>{html.escape(title)}</h2><div class=\"cols\">{cells}</div>"
                     f"<p><small>{html.escape(caption)}</small></p>")
    return "\n".join(parts)
