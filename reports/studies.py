"""Plots of replicated studies, built from the saved experiment folder (never from live runs).

``compare`` → a forest plot: per metric, each policy's paired difference from the first
policy with its 95% confidence interval (common random numbers).  ``sweep`` → per metric,
the mean against the swept value with its 95% CI as a band (one line per combination of
the other swept keys).  ``write_study_report(folder)`` saves the PNG and ``study.html``
(PNG embedded, tables in plain numbers) next to ``summary.csv``.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reports.figures import png_bytes, report_style, save_pngs
from reports.html import img, page, table
from sim.errors import InputError

#: Plain names and units of the study metrics.
METRIC_LABELS = {
    "fulfilment_rate": "fulfilment rate",
    "wait_assign_mean_min": "mean wait to assignment [min]",
    "wait_assign_p50_min": "p50 wait to assignment [min]",
    "wait_assign_p90_min": "p90 wait to assignment [min]",
    "travel_km_per_job": "travel per job [km]",
    "utilisation": "utilisation of active workers",
    "gini_earnings": "earnings Gini (active workers)",
    "share_workers_no_job": "active workers with no job",
    "cancelled": "cancelled bookings",
    "cancel_rate": "cancellation rate",
    "avg_rating": "average rating [stars]",
    "bookings": "bookings",
}


def plain(x: float, digits: int = 4) -> str:
    """A number with about ``digits`` significant digits and never in scientific notation."""
    if not math.isfinite(x):
        return "-"
    if x == 0:
        return "0"
    decimals = min(8, max(0, digits - 1 - math.floor(math.log10(abs(x)))))
    text = f"{x:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def ci_text(mean: float, lo: float, hi: float) -> str:
    """``"8674 ± 120"``: the mean rounded to the precision its 95% CI half-width supports."""
    if not math.isfinite(mean):
        return "-"
    hw = (hi - lo) / 2.0
    if not math.isfinite(hw):
        return plain(mean)
    if hw == 0:
        return f"{plain(mean)} ± 0"
    decimals = min(8, max(0, 1 - math.floor(math.log10(abs(hw)))))
    return f"{mean:.{decimals}f} ± {hw:.{decimals}f}"


def _grid(n: int, ncols: int = 3, height: float = 2.3) -> tuple[Figure, np.ndarray]:
    nrows = max(1, math.ceil(n / ncols))
    fig = Figure(figsize=(10.0, height * nrows), layout="constrained")
    return fig, np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()


def forest_figure(paired: pd.DataFrame, by: str = "policy") -> Figure:
    """Per metric, the paired difference (arm − baseline) and its 95% CI for every arm.

    An interval that excludes zero is drawn in colour; one that includes zero in grey.
    """
    metrics = list(dict.fromkeys(paired["metric"]))
    arms = list(dict.fromkeys(paired[by]))
    base = str(paired["baseline"].iloc[0]) if len(paired) else "?"
    fig, axes = _grid(len(metrics), height=0.55 * len(arms) + 1.3)
    for ax, metric in zip(axes, metrics, strict=False):
        d = paired[paired["metric"] == metric].set_index(by).reindex(arms)
        y = np.arange(len(arms))[::-1]
        for yi, (_, r) in zip(y, d.iterrows(), strict=True):
            sure = math.isfinite(r["ci_lo"]) and (r["ci_lo"] > 0 or r["ci_hi"] < 0)
            colour = "#1f5fa8" if sure else "#999999"
            if math.isfinite(r["ci_lo"]):
                ax.plot([r["ci_lo"], r["ci_hi"]], [yi, yi], color=colour, lw=2)
            ax.plot([r["mean_diff"]], [yi], "o", color=colour, ms=5)
        ax.axvline(0, color="black", lw=0.8, ls="--")
        ax.set_yticks(y, [str(a) for a in arms], fontsize=8)
        ax.set_ylim(-0.7, len(arms) - 0.3)
        ax.set_title(METRIC_LABELS.get(metric, metric), fontsize=9)
        ax.ticklabel_format(axis="x", style="plain", useOffset=False)
        ax.tick_params(axis="x", labelsize=7)
    for ax in axes[len(metrics):]:
        ax.set_axis_off()
    fig.suptitle(f"Paired difference from {base} (mean and 95% CI; grey: the CI includes 0)", fontsize=10)
    return fig


def _numeric(values: pd.Series) -> pd.Series | None:
    x = pd.to_numeric(values, errors="coerce")
    return x if x.notna().all() else None


def sweep_figure(summary: pd.DataFrame, keys: list[str]) -> Figure:
    """Per metric, mean against the first swept key with a 95% CI band (one line per other-key combination)."""
    metrics = list(dict.fromkeys(summary["metric"]))
    first, rest = keys[0], keys[1:]
    fig, axes = _grid(len(metrics))
    order = list(dict.fromkeys(summary[first].astype(str)))
    for ax, metric in zip(axes, metrics, strict=False):
        d = summary[summary["metric"] == metric]
        groups = d.groupby(rest, sort=False) if rest else [((), d)]
        for gi, (gkey, g) in enumerate(groups):
            x = _numeric(g[first])
            g = g.assign(_x=x if x is not None else g[first].astype(str).map(order.index)).sort_values("_x")
            label = ", ".join(f"{k}={v}" for k, v in zip(rest, np.atleast_1d(gkey), strict=True)) or None
            line = ax.plot(g["_x"], g["mean"], marker="o", ms=3, label=label, color=f"C{gi}")[0]
            ok = g["ci_lo"].notna()
            ax.fill_between(g.loc[ok, "_x"], g.loc[ok, "ci_lo"], g.loc[ok, "ci_hi"], color=line.get_color(),
                            alpha=0.2, lw=0)
        if _numeric(d[first]) is None:
            ax.set_xticks(range(len(order)), order, fontsize=7)
        ax.set_title(METRIC_LABELS.get(metric, metric), fontsize=9)
        ax.set_xlabel(first, fontsize=8)
        ax.ticklabel_format(axis="y", style="plain", useOffset=False)
        ax.tick_params(labelsize=7)
        if rest and ax is axes[0]:
            ax.legend(fontsize=7)
    for ax in axes[len(metrics):]:
        ax.set_axis_off()
    fig.suptitle("Mean over replications with its 95% CI (band)", fontsize=10)
    return fig


def _read(folder: Path) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    try:
        meta = json.loads((folder / "experiment.json").read_text(encoding="utf-8"))
        summary = pd.read_csv(folder / "summary.csv")
        paired = pd.read_csv(folder / "paired.csv")
    except (OSError, ValueError) as e:
        raise InputError(f"study folder: {folder}: cannot read its tables ({e})") from None
    return meta, summary, paired


def _table_html(df: pd.DataFrame, by: str, value: str) -> str:
    arms = list(dict.fromkeys(df[by].astype(str)))
    rows = []
    for metric in dict.fromkeys(df["metric"]):
        d = df[df["metric"] == metric].set_index(df[by].astype(str)[df["metric"] == metric])
        rows.append([html.escape(METRIC_LABELS.get(metric, metric))]
                    + [html.escape(ci_text(d.loc[a, value], d.loc[a, "ci_lo"], d.loc[a, "ci_hi"]))
                       if a in d.index else "-" for a in arms])
    return table(rows, header=["metric", *map(html.escape, arms)])


def write_study_report(folder: str | Path) -> Path:
    """Save the study's plot (``forest.png`` or ``sweep.png``) and ``study.html`` in ``folder``."""
    folder = Path(folder)
    meta, summary, paired = _read(folder)
    kind = meta.get("command", "compare")
    by = "policy" if kind == "compare" else "point"
    with report_style():
        if kind == "compare":
            name, fig = "forest", forest_figure(paired, by) if len(paired) else None
        else:
            keys = list(summary.columns[1:list(summary.columns).index("metric")])
            name, fig = "sweep", sweep_figure(summary, keys) if keys else None
        png = png_bytes(fig) if fig is not None else None
    if png is not None:
        save_pngs({name: png}, folder)
    n = meta.get("replications", "?")
    parts = [f"<h1>{html.escape(kind)}: {html.escape(str(meta.get('scenario', '?')))}</h1>",
             f"<p>{n} replications per arm, root seed {html.escape(str(meta.get('seed', '?')))}, common random "
             f"numbers; overrides: {html.escape(', '.join(meta.get('overrides', [])) or 'none')}.</p>"]
    if png is not None:
        parts.append(f"<figure>{img(png, name)}</figure>")
    else:
        parts.append("<p>Only one arm: there is no difference to plot.</p>")
    parts += ["<h2>Mean ± 95% CI half-width</h2>", _table_html(summary, by, "mean")]
    if len(paired):
        parts += [f"<h2>Paired difference from {html.escape(str(paired['baseline'].iloc[0]))}</h2>",
                  _table_html(paired, by, "mean_diff")]
    target = folder / "study.html"
    target.write_text(page(f"Sewa Mitra Twin — {kind}", "\n".join(parts)), encoding="utf-8")
    return target
