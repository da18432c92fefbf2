"""Each example workflow, given hostile outputs: an id that is no id, a status with HTML or workflow commands.
Its shell steps run as the runner runs them, its action inputs are read by the action's own parsers, and no
hostile value adds an argument, a summary tag or a workflow command.

The runner's way, from actions/runner:
- a `run:` step is `bash --noprofile --norc -eo pipefail {0}` (docs/adrs/0277-run-action-shell-options.md);
- `${{ x }}` is replaced by the value's text, and toJSON(x) of a string is that string as JSON
  (src/Sdk/DTExpressions2/Expressions2/Sdk/Functions/ToJson.cs);
- a line of a step's output is a workflow command when, trimmed, it starts with `::`.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from northflank_release.inputs import parse_arguments, parse_json_or_yaml_object
from testing.runner import REPO, parse_file_commands

EXAMPLES = REPO / "examples"
FORGED_ID = "r1\nIMAGE_TAG=attacker:latest"
TRACKING_STATUS = "running<img src=https://track.example/p.gif>"
COMMAND_STATUS = "running\n::warning::pwned\n::set-output name=x::y"
_EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")
_TO_JSON = re.compile(r"toJSON\((.+)\)")


def steps(example: str, job: str) -> dict[str, dict[str, Any]]:
    workflow = yaml.safe_load((EXAMPLES / example).read_text(encoding="utf-8"))
    return {str(step["name"]): step for step in workflow["jobs"][job]["steps"]}


def fill(text: str, values: dict[str, str]) -> str:
    def value_of(match: re.Match[str]) -> str:
        expression = match.group(1)
        if inner := _TO_JSON.fullmatch(expression):
            return json.dumps(values[inner.group(1)], ensure_ascii=False)
        return values[expression]

    return _EXPRESSION.sub(value_of, text)


def run_step(tmp_path: Path, step: dict[str, Any], values: dict[str, str]) -> tuple[int, str, str, dict[str, str]]:
    """Run a `run:` step; return its exit code, stdout, step summary and outputs."""
    script, summary, outputs = tmp_path / "step.sh", tmp_path / "summary.md", tmp_path / "outputs"
    script.write_text(fill(step["run"], values), encoding="utf-8")
    summary.touch()
    outputs.touch()
    env = {str(key): fill(str(value), values) for key, value in step.get("env", {}).items()}
    env |= {"PATH": "/usr/bin:/bin", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs)}
    env |= {"GITHUB_REF_NAME": values.get("github.ref_name", "v1.4.0")}
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    outputs_text = outputs.read_text(encoding="utf-8")
    return done.returncode, done.stdout, summary.read_text(encoding="utf-8"), parse_file_commands(outputs_text)


def workflow_commands(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.strip().startswith("::")]


def test_promote_to_production_never_promotes_a_staging_run_id_that_is_no_id(tmp_path: Path) -> None:
    staging = steps("promote-to-production.yml", "staging")
    production = steps("promote-to-production.yml", "production")

    code, stdout, _, outputs = run_step(
        tmp_path, staging["Check the staging run id"], {"steps.release.outputs.run-id": FORGED_ID}
    )
    assert code != 0  # the staging job fails, so production never runs
    assert "run-id" not in outputs
    assert workflow_commands(stdout) == [
        "::error title=Unexpected run id::the staging run id is not an id; not promoting"
    ]

    # Even a value that got through stays one argument: toJSON makes it one YAML string.
    values = {"inputs.version": "v1.4.0", "needs.staging.outputs.run-id": FORGED_ID}
    arguments = parse_arguments(fill(production["Run the production release flow"]["with"]["arguments"], values))
    assert arguments == {"VERSION": "v1.4.0", "STAGING_RUN_ID": FORGED_ID}

    values = {"steps.release.outputs.run-id": FORGED_ID, "steps.release.outputs.status": TRACKING_STATUS}
    values |= {"inputs.version": "v1.4.0"}
    code, _, summary, _ = run_step(tmp_path, production["Report the run, even when the release failed"], values)
    assert code == 0
    assert summary == "Production release of `v1.4.0`: run `none` (not triggered)\n"


def test_release_on_tag_writes_only_vouched_values_to_the_summary_and_log(tmp_path: Path) -> None:
    release = steps("release-on-tag.yml", "release")
    values = {"steps.release.outputs.run-id": FORGED_ID, "steps.release.outputs.status": COMMAND_STATUS}
    values |= {"github.ref_name": "v1<img src=x>"}

    code, stdout, summary, _ = run_step(tmp_path, release["Use the result"], values)
    assert code == 0
    assert summary == "Staged `(this tag)`: Northflank run `` (unknown)\n"
    assert workflow_commands(stdout) == []

    values["steps.release.outputs.status"] = TRACKING_STATUS
    code, stdout, summary, _ = run_step(tmp_path, release["Report the run, even when the release failed"], values)
    assert code == 0
    assert stdout == "No release flow run was triggered.\n"


def test_overrides_keeps_a_hostile_branch_one_value_and_prints_no_forged_command(tmp_path: Path) -> None:
    release = steps("overrides.yml", "release")
    values = {"inputs.branch": 'main"\nmalicious: x', "inputs.image": "ghcr.io/acme/api:1.4.0"}
    values |= {"vars.NORTHFLANK_API_SERVICE_ID": "api"}
    given = release["Run the development release flow"]["with"]

    overrides = parse_json_or_yaml_object(fill(given["overrides"], values))
    assert overrides == {"build-ref": {"branch": 'main"\nmalicious: x'}}

    values = {"steps.release.outputs.status": COMMAND_STATUS, "steps.release.outputs.run-id": FORGED_ID}
    values |= {"steps.release.outputs.request": json.dumps({"arguments": {"X": "\n::warning::pwned"}})}
    code, stdout, _, _ = run_step(tmp_path, release["Show what was sent"], values)
    assert code == 0
    assert workflow_commands(stdout) == []
    assert stdout.startswith("Run none (not triggered); request body:\n")


def test_dry_run_prints_a_hostile_request_as_data(tmp_path: Path) -> None:
    dry_run = steps("dry-run-on-pull-request.yml", "dry-run")
    request = {"name": "Release", "arguments": {"X": "\n::warning::pwned", "Y": "<img src=x>"}}

    code, stdout, summary, _ = run_step(
        tmp_path, dry_run["Print the request body"], {"steps.validate.outputs.request": json.dumps(request)}
    )

    assert code == 0
    assert workflow_commands(stdout) == []
    assert json.loads(stdout) == request
    assert summary == ""


def test_trigger_then_follow_reports_only_vouched_values(tmp_path: Path) -> None:
    follow = steps("trigger-then-follow.yml", "follow")
    values = {"steps.follow.outputs.run-id": FORGED_ID, "steps.follow.outputs.status": COMMAND_STATUS}

    code, stdout, _, _ = run_step(tmp_path, follow["Report the outcome"], values)
    assert code == 0
    assert workflow_commands(stdout) == []
    assert stdout == "Northflank run unknown ended as unknown\n"

    values = {"steps.follow.outputs.run-id": "0b7c9a52-1111", "steps.follow.outputs.status": "failure"}
    code, stdout, _, _ = run_step(tmp_path, follow["Report the outcome"], values)
    assert stdout == "Northflank run 0b7c9a52-1111 ended as failure\n"


def test_trigger_then_follow_never_hands_an_empty_run_id_to_the_action() -> None:
    """Without run-id the action triggers a new run: the follow job must not start when the first job has none."""
    workflow = yaml.safe_load((EXAMPLES / "trigger-then-follow.yml").read_text(encoding="utf-8"))
    assert workflow["jobs"]["follow"]["if"] == "needs.trigger.outputs.run-id != ''"
    assert follow_input(workflow) == "${{ needs.trigger.outputs.run-id }}"


def follow_input(workflow: dict[str, Any]) -> str:
    [step] = [step for step in workflow["jobs"]["follow"]["steps"] if "with" in step]
    return str(step["with"]["run-id"])
