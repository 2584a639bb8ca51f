"""The ``staff`` command's outputs: ``staffing.csv`` and its plot ``staffing.png``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.helpline.staffing import DAYS


def write_staffing(table: pd.DataFrame, out_dir: Path, title: str) -> tuple[Path, Path]:
    """Write ``staffing.csv`` and ``staffing.png`` (matplotlib, Agg) into ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    csv = out_dir / "staffing.csv"
    png = out_dir / "staffing.png"
    table.to_csv(csv, index=False)
    fig, axes = plt.subplots(2, 1, figsize=(12, 7), gridspec_kw={"height_ratios": [2, 1]})
    for ax, period in zip(axes, ("typical_week", "peak_day"), strict=True):
        t = table[table["period"] == period]
        x = np.arange(len(t))
        ax.step(x, t["agents_simulated"], where="post", label="fewest agents (simulated)", lw=2)
        ax.step(x, t["agents_analytic"], where="post", label="Erlang A/C", ls="--")
        ax.step(x, t["agents_now"], where="post", label="on duty now", color="grey", alpha=0.6)
        ax.set_ylabel("agents")
        ax.set_title(f"{period.replace('_', ' ')}" + (f" ({t['day'].iloc[0]})" if period == "peak_day" else ""))
        if period == "typical_week":
            ax.set_xticks(np.arange(0, len(t), 24), DAYS)
        else:
            ax.set_xticks(np.arange(0, 24, 2))
            ax.set_xlabel("hour of day")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper right", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return csv, png
