"""The launch plan's report, built from a saved plan folder (never from a live planner).

``write_plan_report(folder)`` reads what the planner wrote (``plan_workers.csv``,
``plan_helpline.csv``, ``plan.json``, ``plan_scenario.yaml``) and adds a one-page summary
in plain words (``plan_summary.txt``), a map with district names (``plan_map.png``) and
the same summary, map and tables as ``plan_report.html``.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from reports.figures import png_bytes, report_style, save_pngs
from reports.html import fmt, img, page, table
from reports.maps import MapPanel, map_figure
from sim.geography import district_map

_NOUNS = ("er", "ian", "ic", "or", "ist")


def plural(label: str) -> str:
    """``"Caregiver"`` → ``"caregivers"``; ``"Home cleaning"`` → ``"home cleaning workers"``."""
    low = label.lower()
    return f"{low}s" if low.endswith(_NOUNS) else f"{low} workers"


def read_plan(folder: str | Path) -> dict[str, Any]:
    """The saved plan: ``workers``, ``helpline`` (or None), ``meta`` and the category ``labels``."""
    folder = Path(folder)
    hl = folder / "plan_helpline.csv"
    sc = yaml.safe_load((folder / "plan_scenario.yaml").read_text(encoding="utf-8"))
    return {"workers": pd.read_csv(folder / "plan_workers.csv"),
            "helpline": pd.read_csv(hl) if hl.is_file() else None,
            "meta": json.loads((folder / "plan.json").read_text(encoding="utf-8")),
            "labels": {k: c["label"] for k, c in sc["catalog"].items()}}


def _n(x: float) -> str:
    return f"{x:,.0f}" if x >= 10 else f"{x:.1f}".rstrip("0").rstrip(".")


def worker_lines(w: pd.DataFrame, labels: dict[str, str]) -> list[str]:
    """One sentence per district × service, those needing recruits first."""
    out = []
    order = w.sort_values(["extra_active_to_recruit", "district", "category"], ascending=[False, True, True],
                          kind="stable")
    for r in order.itertuples():
        who = plural(labels.get(r.category, r.category))
        exp = f"expected {_n(r.expected_bookings_per_year)} bookings a year"
        conf = (f"fulfilment {r.fulfilment:.2f} [{r.fulfilment_ci_lo:.2f}, {r.fulfilment_ci_hi:.2f}]"
                if math.isfinite(r.fulfilment_ci_lo) else "no bookings in the runs")
        if not r.feasible:
            why = ("too few bookings to decide with 95% confidence" if r.undecided_at_cap
                   else "the targets are missed with confidence")
            out.append(f"{r.district}: {who} NOT planned — even {r.active_needed} active workers leave {why}; {exp}")
        elif r.extra_active_to_recruit > 0:
            out.append(f"{r.district} needs {r.extra_active_to_recruit} more {who} (active; about "
                       f"{r.registered_equivalent} registered); {exp}; {r.active_needed} active in all, {conf}")
        else:
            out.append(f"{r.district} has enough {who} ({r.active_today + r.recruited_in_plan} active, "
                       f"{r.active_needed} needed); {exp}")
    return out


def helpline_lines(hl: pd.DataFrame | None, meta: dict[str, Any]) -> list[str]:
    """The helpline part of the summary."""
    if hl is None:
        return ["Helpline: not modelled in this scenario."]
    calls = meta.get("added_calls_per_day", {})
    out = [f"The plan adds about {_n(sum(calls.values()))} helpline calls a day to today's "
           f"{_n(meta.get('helpline_calls_per_day_today', 0))} ({_n(calls.get('booking_caused', 0))} caused by "
           f"its bookings, {_n(calls.get('worker_caused', 0))} by its recruits)."]
    short = hl[hl["extra_agents"] > 0]
    if len(short):
        hours = ", ".join(f"{int(r.hour):02d}:00 +{int(r.extra_agents)}" for r in short.itertuples())
        out.append(f"On the busiest day the helpline needs more agents at {hours} "
                   f"(peak {int(hl['agents_needed'].max())} agents; today's calls alone need "
                   f"{int(hl['agents_needed_today'].max())} at peak, the rota has {int(hl['agents_in_plan'].max())}).")
    else:
        out.append(f"On the busiest day today's rota is enough (peak need {int(hl['agents_needed'].max())} agents).")
    closed = hl[~hl["open"].astype(bool)]
    if len(closed):
        out.append(f"Closed hours stay closed ({len(closed)} hours a day: callers hear the opening-hours message).")
    return out


def summary_text(p: dict[str, Any]) -> str:
    """The one-page summary in plain words."""
    m, w = p["meta"], p["workers"]
    lines = [f"Launch plan {m['plan']} on scenario {m['scenario']}"
             + (f", demand x{m['demand_growth']:g} in every planned cell" if m.get("demand_growth", 1) != 1 else ""),
             f"Targets, met with 95% confidence in every district and service: {m['targets']}.", ""]
    lines += worker_lines(w, p["labels"])
    held = w[w["held_by_lower_demand"].astype(bool)] if "held_by_lower_demand" in w else w.iloc[0:0]
    if len(held):
        lines += ["", f"{len(held)} answers are held at the answer for a lower demand (more demand never needs fewer "
                      "workers), although at their own demand one fewer met the targets: "
                      + ", ".join(f"{r.district}/{r.category}" for r in held.head(10).itertuples())]
    ok = w[w["feasible"].astype(bool)]
    lines += ["", f"In all: {int(ok['extra_active_to_recruit'].sum()):,} more active workers (about "
                  f"{int(ok['registered_equivalent'].sum()):,} registrations at today's active share "
                  f"{m['active_share']:.0%}) in {m['districts']} districts"
                  + (f"; {len(w) - len(ok)} cells not planned (above)." if len(ok) < len(w) else "."),
              ""]
    lines += helpline_lines(p["helpline"], m)
    lines += ["", f"How: each answer is the fewest active workers whose fulfilment and waits meet the targets with 95% "
                  "confidence, while one fewer worker does not (a tie counts as not met, so ties give more workers); "
                  f"counts are compared on the same replications, {m['reps_first']}-{m['reps_most']} per probe and up "
                  f"to {m.get('reps_boundary', m['reps_most'])} for the answer and one fewer; districts are planned "
                  f"alone, runs of {m['min_days']:g}-{m['max_days']:g} days, seed {m['seed']}; "
                  f"planned in {m.get('wall_s', '?')} s."]
    return "\n".join(lines) + "\n"


def plan_map(w: pd.DataFrame) -> bytes:
    """PNG: active workers to recruit and expected bookings a year per district, names on the map."""
    t = w.groupby("district", sort=True)[["extra_active_to_recruit", "expected_bookings_per_year"]].sum()
    panels = [MapPanel("Active workers to recruit", t["extra_active_to_recruit"].astype(float).to_dict(),
                       "workers", "viridis"),
              MapPanel("Expected bookings a year (planned services)", t["expected_bookings_per_year"].to_dict(),
                       "bookings / year", "magma")]
    dm = district_map()
    with report_style():
        fig = map_figure(panels)
        for ax in fig.axes[: len(panels)]:
            for name in t.index:
                ax.annotate(name, (dm[name].hq_lon, dm[name].hq_lat), fontsize=5, ha="center", va="center",
                            color="black", bbox={"boxstyle": "round,pad=0.1", "fc": "white", "alpha": 0.6, "lw": 0})
        return png_bytes(fig)


def html_report(p: dict[str, Any], text: str, png: bytes) -> str:
    """The summary, map and tables as one HTML page."""
    w, hl = p["workers"], p["helpline"]
    cols = ["district", "category", "expected_bookings_per_year", "active_today", "active_needed",
            "extra_active_to_recruit", "registered_equivalent", "fulfilment", "fulfilment_ci_lo", "fulfilment_ci_hi",
            "p90_wait_min", "p90_wait_ci_hi", "fewer_fulfilment", "fewer_fulfilment_ci_hi"]
    rows = [[html.escape(str(r[c])) if i < 2 else fmt(r[c], "{:,.3g}") for i, c in enumerate(cols)]
            for _, r in w[cols].iterrows()]
    body = [f"<h1>Launch plan {html.escape(p['meta']['plan'])}</h1>",
            "<pre class='methods'>" + html.escape(text) + "</pre>", img(png, "plan map"),
            "<h2>Workers per district and service</h2>", table(rows, cols, numeric_from=2)]
    if hl is not None:
        hcols = ["hour", "calls_per_hour_today", "calls_per_hour", "agents_today", "agents_in_plan",
                 "agents_needed_today", "agents_needed"]
        body += ["<h2>Helpline agents per hour (busiest day)</h2>",
                 table([[fmt(r[c], "{:,.4g}") for c in hcols] for _, r in hl.iterrows()], hcols)]
    return page(f"Launch plan {p['meta']['plan']}", "\n".join(body))


def write_plan_report(folder: str | Path) -> Path:
    """Write ``plan_summary.txt``, ``plan_map.png`` and ``plan_report.html``; returns the summary's path."""
    folder = Path(folder)
    p = read_plan(folder)
    text = summary_text(p)
    png = plan_map(p["workers"])
    save_pngs({"plan_map": png}, folder)
    (folder / "plan_report.html").write_text(html_report(p, text, png), encoding="utf-8")
    path = folder / "plan_summary.txt"
    path.write_text(text, encoding="utf-8")
    return path
