#!/usr/bin/env python3
"""``python run_sim.py [COMMAND] [options]``: the same command line as ``sewamitra-sim`` (see cli/main.py)."""

import sys

from cli.main import COMMANDS, main

__all__ = ["COMMANDS", "main"]

if __name__ == "__main__":
    sys.exit(main())
