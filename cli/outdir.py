"""Checking ``--out`` before any work starts: no run ends in ``FileExistsError`` or mixes two runs' files.

A folder ``--out`` must be new or empty; ``--force`` clears a folder that holds an earlier
run or study (it refuses to clear a folder that does not look like one).  A file ``--out``
that names an existing folder is written inside it.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from sim.errors import InputError

#: A folder holding one of these was written by this tool (a run, a study, a plan, a staffing table).
MARKERS = ("summary.json", "experiment.json", "scenario.yaml", "plan_workers.csv", "plan_summary.txt",
           "staffing.csv", "indices.csv")


def add_force(p: argparse.ArgumentParser) -> None:
    """``--force``: clear a non-empty ``--out`` folder that holds an earlier run or study."""
    p.add_argument("--force", action="store_true",
                   help="clear the --out folder first if it holds an earlier run or study")


def prepare_out_dir(path: Path, force: bool) -> Path:
    """Make sure ``path`` can receive a fresh set of outputs; with ``force`` clear an earlier run there.

    Raises:
        InputError: ``--out`` is a file, holds other files (without ``--force``) or does not look
            like an earlier output (with ``--force``), or cannot be created.
    """
    if path.exists() and not path.is_dir():
        raise InputError(f"--out: {path} is a file, not a folder")
    if path.is_dir():
        entries = sorted(p.name for p in path.iterdir())
        if entries and not force:
            shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
            raise InputError(f"--out: {path} already holds {len(entries)} entries ({shown}); "
                             "pick a new folder or add --force to clear it")
        if entries:
            if not any((path / m).is_file() for m in MARKERS):
                raise InputError(f"--out: {path} does not hold an earlier run or study; "
                                 "refusing to clear it even with --force")
            for p in path.iterdir():
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"--out: cannot create {path}: {e.strerror or e}") from None
    return path


def file_out(path: Path, default_name: str) -> Path:
    """Where a one-file output goes: ``path``, or ``path/default_name`` when ``path`` is a folder.

    Raises:
        InputError: the file's folder cannot be created (e.g. a file stands in its way).
    """
    if path.is_dir():
        path = path / default_name
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"--out: {parent} is a file, so {path} cannot be written")
            break
    return path
