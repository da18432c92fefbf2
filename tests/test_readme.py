"""The README promises what the code does: its tables come from action.yml, its commands exist."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.runner import REPO


def test_inputs_and_outputs_tables_match_action_yml() -> None:
    completed = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "readme_tables.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr


def test_the_two_commands_the_readme_gives_exist_and_ci_runs_the_test_command() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "./scripts/demo" in readme
    assert "./scripts/test" in readme
    for script in ("demo", "test"):
        assert os.access(REPO / "scripts" / script, os.X_OK)
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "\nscripts/test\n" in ci
