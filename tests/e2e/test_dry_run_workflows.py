"""The dry runs our workflows ship (the CI self-test and the pull-request example) pass no token, and work."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from testing.runner import REPO, run_action

# The expressions these steps use, with the values a run would give them.
EXPRESSIONS = {
    "github.sha": "4f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39",
    "vars.NORTHFLANK_PROJECT_ID": "shop",
    "vars.NORTHFLANK_PIPELINE_ID": "main",
    "github.event.pull_request.number": "12",
    "github.event.pull_request.head.sha": "4f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39",
    "github.head_ref": "feature-x",
}
_EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


def dry_run_steps(path: Path) -> list[dict[str, str]]:
    workflow: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    found = []
    for job in workflow["jobs"].values():
        for step in job.get("steps", []):
            uses = str(step.get("uses", ""))
            inputs = {
                str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in step.get("with", {}).items()
            }
            if (uses == "./" or uses.startswith("northflank-release/action@")) and inputs.get("dry-run") == "true":
                found.append(inputs)
    return found


@pytest.mark.parametrize(
    "path", [REPO / ".github" / "workflows" / "ci.yml", REPO / "examples" / "dry-run-on-pull-request.yml"]
)
def test_shipped_dry_runs_need_no_token(tmp_path: Path, path: Path) -> None:
    steps = dry_run_steps(path)
    assert steps, f"no dry-run step of this action in {path.name}"
    for index, inputs in enumerate(steps):
        assert "api-token" not in inputs, "a dry run needs no token: drop the placeholder"
        filled = {name: _EXPRESSION.sub(lambda m: EXPRESSIONS[m.group(1)], value) for name, value in inputs.items()}
        (tmp_path / str(index)).mkdir()
        result = run_action(tmp_path / str(index), filled)
        assert result.exit_code == 0, result.log
        assert result.annotations == []
        assert "Nothing was sent" in result.summary
