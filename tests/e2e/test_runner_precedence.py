"""What `with:` says is what runs: the runner's real precedence, a docker:// step, and a job's Python variables.

testing/runner.py builds the environment in the runner's own order (its docstring cites the files), so a job
env that sets NORTHFLANK_* reaches the container alongside the INPUT_* variables, as on GitHub.
"""

from __future__ import annotations

from pathlib import Path

from testing.northflank_standin import NorthflankStandin, RunPlan
from testing.runner import run_action, trigger_bodies


def test_a_job_env_that_disagrees_with_with_loses_and_is_named_in_a_warning(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    """The worst case found in review: production and wait asked for, development triggered, no wait, exit 0."""
    standin.plan = RunPlan(steps=[(0.0, "running"), (1.5, "success")])
    job_env = {
        "NORTHFLANK_STAGE": "development",
        "NORTHFLANK_WAIT": "false",
        "NORTHFLANK_API_TOKEN": "nf-some-other-token-0000000000",
    }
    result = run_action(
        tmp_path, {**inputs, "stage": "production", "wait": "true", "poll-interval": "1s"}, job_env=job_env
    )

    assert result.exit_code == 0, result.log
    [trigger] = standin.requests_to("trigger")
    assert trigger.path.endswith("/release-flows/production/runs")
    assert trigger.headers["authorization"] == f"Bearer {inputs['api-token']}"
    assert standin.requests_to("get"), "wait: true must wait"
    assert result.outputs["status"] == "success"
    warnings = [line for line in result.stdout.splitlines() if line.startswith("::warning")]
    for variable in job_env:
        [warning] = [line for line in warnings if f"title={variable} ignored" in line]
        assert "using the input" in warning
    # Neither token may be printed; the run_action leak check covers INPUT_API-TOKEN and NORTHFLANK_API_TOKEN.
    assert "development" not in "\n".join(warnings)


def test_a_job_env_fills_inputs_that_with_leaves_empty(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    """A token given only as job env (no `with: api-token`) still works: INPUT_API-TOKEN is empty then."""
    given = {key: value for key, value in inputs.items() if key != "api-token"}
    result = run_action(tmp_path, given, job_env={"NORTHFLANK_API_TOKEN": inputs["api-token"]})

    assert result.exit_code == 0, result.log
    assert len(standin.runs()) == 1
    assert "ignored" not in result.stdout


def test_a_docker_step_takes_its_settings_from_with(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    """`uses: docker://...` has no action.yml: the runner sets INPUT_<NAME> only for the `with:` keys given."""
    result = run_action(tmp_path, {**inputs, "stage": "staging"}, docker_step=True)

    assert result.exit_code == 0, result.log
    [trigger] = standin.requests_to("trigger")
    assert trigger.path.endswith("/release-flows/staging/runs")
    assert result.outputs["run-id"] == standin.runs()[0]["id"]


def test_the_workflows_python_variables_do_not_reach_the_interpreter(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    """A Python repository's job env (PYTHONPATH at the workspace, which holds an email.py) must not break it."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "email.py").write_text("raise SystemExit('the workspace email.py was imported')\n", encoding="utf-8")
    (workspace / "requests.py").write_text("raise SystemExit('the workspace requests.py was imported')\n")
    job_env = {"PYTHONPATH": str(workspace), "PYTHONSAFEPATH": "", "PYTHONWARNINGS": "error"}
    result = run_action(tmp_path, inputs, job_env=job_env)

    assert result.exit_code == 0, result.log
    assert "imported" not in result.log
    assert len(standin.runs()) == 1


def test_no_workflow_commands_on_a_plain_terminal(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    """Outside Actions, text with `::` is printed as it is, not wrapped in stop-commands."""
    standin.plan = RunPlan(steps=[(0.0, "odd::status"), (3600.0, "success")])
    result = run_action(tmp_path, inputs, outside_github=True)

    assert result.exit_code == 0, result.log
    assert "status odd::status" in result.stdout
    assert "stop-commands" not in result.stdout
    assert not [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert trigger_bodies(standin)
