"""Golden outputs: a compact fingerprint of every output table of two fixed runs.

Each table is reduced to its row count and one SHA-256 per column over a canonical form
(column dtype + values; floats rounded to 1e-6, missing values marked), so the
stored file stays tiny and a mismatch names the table and column that moved.

Regenerate (only when an intended change alters outputs; say why in the commit):

    PYTHONHASHSEED=0 python -m tests.golden.golden --write
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from sim.config import load_scenario
from sim.runner import run_one
from sim.spool import SpooledTable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
#: name -> (scenario file, overrides, seed)
RUNS: dict[str, tuple[Path, list[str], int]] = {
    "small": (ROOT / "tests" / "scenarios" / "small.yaml", ["output.calls=full"], 7),
    "small_batch": (ROOT / "tests" / "scenarios" / "small.yaml",
                    ["horizon_days=7", "dispatch.policy=batch", "helpline.enabled=false"], 8),
    "small_broadcast": (ROOT / "tests" / "scenarios" / "small.yaml",
                        ["horizon_days=7", "dispatch.policy=broadcast", "money.enabled=false"], 9),
    "small_rating": (ROOT / "tests" / "scenarios" / "small.yaml",
                     ["horizon_days=7", "dispatch.policy=rating_weighted", "dispatch.params={alpha: 0.7}"], 10),
    "small_busy": (ROOT / "tests" / "scenarios" / "small.yaml",
                   ["horizon_days=7", "demand.scale=25", "output.calls=full"], 13),
    "small_fair": (ROOT / "tests" / "scenarios" / "small.yaml", ["horizon_days=7", "dispatch.policy=fair"], 12),
    "baseline30": (ROOT / "scenarios" / "baseline.yaml", ["horizon_days=30"], 11),
}
#: summary values kept verbatim beside the hashes (a quick read of what moved)
SUMMARY_KEYS = ("bookings", "completed", "cancelled", "unfulfilled", "fulfilment_rate",
                "wait_assign_p90_min", "workers_active", "utilisation")


def _column_digest(s: pd.Series) -> str:
    """SHA-256 of one column's canonical content."""
    h = hashlib.sha256(str(s.dtype).encode())  # a dtype change is an output change too
    missing = s.isna().to_numpy()
    h.update(missing.tobytes())
    if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        h.update(b"str")
        h.update("\x1f".join("" if m else str(v) for v, m in zip(s.tolist(), missing, strict=True)).encode())
    elif pd.api.types.is_bool_dtype(s.dtype):
        h.update(b"bool")
        h.update(s.fillna(False).to_numpy(dtype=bool).tobytes())
    elif pd.api.types.is_integer_dtype(s.dtype):
        h.update(b"int")
        h.update(s.fillna(0).to_numpy(dtype=np.int64).tobytes())
    elif pd.api.types.is_float_dtype(s.dtype):
        h.update(b"float")
        v = np.round(s.to_numpy(dtype=np.float64, na_value=0.0), 6) + 0.0  # +0.0 folds -0.0 into 0.0
        h.update(np.where(missing, 0.0, v).tobytes())
    else:
        raise TypeError(f"no canonical form for column {s.name!r} of dtype {s.dtype}")
    return h.hexdigest()[:16]


def fingerprint(name: str) -> dict:
    """Run one golden scenario and reduce its outputs to row counts, column hashes and key figures."""
    path, overrides, seed = RUNS[name]
    res = run_one(load_scenario(str(path), overrides), seed=seed)
    # a streamed table (output.calls: full) is fingerprinted as written
    frames = {t: df.read() if isinstance(df, SpooledTable) else df for t, df in sorted(res.tables.items())}
    tables = {t: {"rows": len(df), "order": list(df.columns), "columns": {c: _column_digest(df[c]) for c in df.columns}}
              for t, df in frames.items()}
    summary = {k: (round(float(res.summary[k]), 6) if isinstance(res.summary[k], float) else res.summary[k])
               for k in SUMMARY_KEYS}
    return {"tables": tables, "summary": summary}


def golden_path(name: str) -> Path:
    """Where the fingerprint of run ``name`` is stored."""
    return HERE / f"{name}.json"


def differences(expected: dict, actual: dict) -> list[str]:
    """Human-readable list of what differs between two fingerprints (empty = identical)."""
    out = []
    for k in sorted(set(expected["summary"]) | set(actual["summary"])):
        if expected["summary"].get(k) != actual["summary"].get(k):
            out.append(f"summary {k}: {expected['summary'].get(k)} -> {actual['summary'].get(k)}")
    et, at = expected["tables"], actual["tables"]
    for t in sorted(set(et) | set(at)):
        if t not in et or t not in at:
            out.append(f"table {t}: {'added' if t in at else 'missing'}")
            continue
        if et[t]["rows"] != at[t]["rows"]:
            out.append(f"table {t}: rows {et[t]['rows']} -> {at[t]['rows']}")
        if et[t]["order"] != at[t]["order"]:
            out.append(f"table {t}: columns {et[t]['order']} -> {at[t]['order']}")
        ec, ac = et[t]["columns"], at[t]["columns"]
        out += [f"table {t} column {c} differs" for c in ec if c in ac and ec[c] != ac[c]]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="store the current outputs as the golden files")
    ap.add_argument("runs", nargs="*", default=list(RUNS))
    args = ap.parse_args()
    for name in args.runs:
        fp = fingerprint(name)
        if args.write:
            golden_path(name).write_text(json.dumps(fp, indent=1, sort_keys=True) + "\n")
            print(f"wrote {golden_path(name)}")
        else:
            diff = differences(json.loads(golden_path(name).read_text()), fp)
            print(f"{name}: " + ("identical" if not diff else "\n  ".join(["DIFFERS", *diff])))


if __name__ == "__main__":
    main()
