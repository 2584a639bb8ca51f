"""Tables too large to hold: written to Parquet a row group at a time as they are made.

A run with ``output.calls: full`` keeps one row per helpline call (5 M at 10x Uttar Pradesh).
Instead of a DataFrame it writes them through a ``Spool`` into ``calls.parquet`` — in the
run's folder when the caller gives one, else in a temporary file that lives as long as the
result pointing to it — and its result holds a ``SpooledTable`` (path, rows) in place of
the frame.  The model never holds more than ``rows_per_group`` rows of such a table.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

#: rows per Parquet row group (and the most rows of a streamed table in memory at once):
#: ~55 MB of per-call columns, a few row groups a year at baseline
ROWS_PER_GROUP = 1_000_000


class SpooledTable:
    """A table written to ``path`` (Parquet, zstd), ``rows`` rows in ``row_groups`` groups.

    A temporary file (no run folder given) is deleted when this object is.
    """

    def __init__(self, path: Path, rows: int, row_groups: int, temporary: bool) -> None:
        self.path, self.rows, self.row_groups = path, rows, row_groups
        if temporary:
            weakref.finalize(self, _remove, str(path))

    def __len__(self) -> int:
        return self.rows

    def __repr__(self) -> str:
        return f"SpooledTable({str(self.path)!r}, rows={self.rows}, row_groups={self.row_groups})"

    def read(self) -> pd.DataFrame:
        """The whole table as a DataFrame (for small runs and tests: it is what streaming avoids)."""
        return pd.read_parquet(self.path)

    def save(self, dest: Path) -> None:
        """Put the table at ``dest`` (a copy; nothing to do when it was written there)."""
        if dest.resolve() != self.path.resolve():
            shutil.copyfile(self.path, dest)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


@dataclass(frozen=True)
class Spool:
    """Where a run streams its large tables: ``folder`` (None: a temporary file per table).

    ``rows_per_group``: rows built, held and written at a time.
    """

    folder: Path | None = None
    rows_per_group: int = ROWS_PER_GROUP

    def write(self, name: str, rows: int, part: Callable[[int, int], pd.DataFrame]) -> SpooledTable:
        """Write table ``name`` of ``rows`` rows, built by ``part(lo, hi)`` a row group at a time."""
        if self.rows_per_group < 1:
            raise ValueError("rows_per_group must be at least 1")
        if self.folder is not None:
            Path(self.folder).mkdir(parents=True, exist_ok=True)
            path = Path(self.folder) / f"{name}.parquet"
        else:
            fd, tmp = tempfile.mkstemp(prefix=f"sewa-{name}-", suffix=".parquet")
            os.close(fd)
            path = Path(tmp)
        try:
            groups = _write_groups(path, rows, self.rows_per_group, part)
        except BaseException:
            if self.folder is None:
                _remove(str(path))
            raise
        return SpooledTable(path, rows, groups, temporary=self.folder is None)


def _write_groups(path: Path, rows: int, per_group: int, part: Callable[[int, int], pd.DataFrame]) -> int:
    """Write ``part(lo, hi)`` for each group of ``per_group`` rows to ``path``; the number of groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    groups = 0
    writer: pq.ParquetWriter | None = None
    try:
        # An empty table is one empty group: the file still carries the columns and their types.
        for lo in range(0, max(rows, 1), per_group):
            t = pa.Table.from_pandas(part(lo, min(lo + per_group, rows)), preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, t.schema, compression="zstd")
            writer.write_table(t, row_group_size=max(t.num_rows, 1))
            groups += 1
            del t
    finally:
        if writer is not None:
            writer.close()
    return groups
