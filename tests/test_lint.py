"""The tree passes ruff (style settings in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_ruff_clean():
    ruff = Path(sys.executable).with_name("ruff")  # installed with the test extras
    p = subprocess.run([str(ruff), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-3000:]
