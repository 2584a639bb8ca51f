"""The ``report`` command: rebuild a run's HTML report from its saved outputs."""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser, command: str) -> None:
    """Options of ``report``."""
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (bookings.parquet, summary.json, ...)")
    p.add_argument("--compare", metavar="OTHER_RUN_DIR",
                   help="show this run (A) and another (B) side by side with B − A differences")
    p.add_argument("--out", help="write the page here instead of RUN_DIR/report.html "
                                 "(or RUN_DIR/compare_<B>.html)")


def run(args: argparse.Namespace, command: str) -> int:
    """Write the page and print its path; exit status 0."""
    if args.compare:
        from reports.compare import write_compare

        print(write_compare(args.run_dir, args.compare, args.out,
                            warn=lambda m: print(f"warning: {m}", file=sys.stderr)))
    else:
        from reports.html import write_report

        print(write_report(args.run_dir, args.out))
    return 0
