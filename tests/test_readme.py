"""The README's first lines give exactly the two commands, and CI runs the second verbatim."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    head = text.split("\n## ")[0]  # the first section, before any sub-heading
    return re.findall(r"```bash\n(.+?)\n```", head)


def test_readme_has_two_commands_and_ci_runs_the_test_one():
    cmds = readme_commands()
    assert len(cmds) == 2
    assert "run_sim.py" in cmds[0] and "pytest" in cmds[1]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert cmds[1] in ci
