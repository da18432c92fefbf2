"""The action as users run it: entrypoint.py with the runner's environment, against the local stand-in."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from testing.northflank_standin import NorthflankStandin, Outage
from testing.runner import GITHUB_CONTEXT, run_action, trigger_bodies


def test_a_tag_push_triggers_one_run_and_writes_its_outputs(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    result = run_action(tmp_path, inputs)

    assert result.exit_code == 0, result.log
    [trigger] = standin.requests_to("trigger")
    assert trigger.path == "/v1/projects/shop/pipelines/release-pipeline/release-flows/production/runs"
    assert isinstance(trigger.body_json, dict)
    body = dict(trigger.body_json)
    description = body.pop("description")
    assert body == {
        "name": "v1-4-0 run 8123456789-1",
        "arguments": {"VERSION": "v1.4.0", "COMMIT": "4f2a9c1"},
    }
    # Where the run came from, then this trigger's random marker (how a lost answer is matched to its run).
    assert re.fullmatch(
        r"Triggered by acme/shop, tag v1\.4\.0, commit 4f2a9c1, workflow Release run 57, "
        r"trigger [0-9a-f]{8}",
        description,
    )
    [run] = standin.runs()
    assert result.outputs["run-id"] == run["id"]
    assert result.outputs["run-name"] == "v1-4-0 run 8123456789-1"
    assert result.outputs["status"] == run["status"]
    assert result.outputs["concluded"] in ("true", "false")
    assert json.loads(result.outputs["request"]) == trigger.body_json
    assert json.loads(result.outputs["response"])["id"] == run["id"]
    assert "\n" not in result.outputs["response"]
    assert run["id"] in result.summary
    assert "production" in result.summary


def test_without_wait_it_makes_no_status_reads_when_the_answer_has_a_status(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    run_action(tmp_path, inputs)
    assert standin.requests_to("get") == []


def test_stage_is_case_insensitive_and_team_id_switches_route(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    standin.team_id = "acme-team"
    result = run_action(tmp_path, {**inputs, "stage": "  Staging\n", "team-id": "acme-team"})

    assert result.exit_code == 0, result.log
    [trigger] = standin.requests_to("trigger")
    assert trigger.path.startswith("/v1/teams/acme-team/projects/shop/")
    assert trigger.path.endswith("/release-flows/staging/runs")


def test_dry_run_validates_prints_and_sends_nothing(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    result = run_action(tmp_path, {**inputs, "dry-run": "true", "name": "Release v1"})

    assert result.exit_code == 0, result.log
    # With a token, the one request is the plan's read of the template (tests/e2e/test_plan.py): nothing changes.
    assert [(request.method, request.path.rsplit("/", 2)[-2:]) for request in standin.requests] == [
        ("GET", ["release-flows", "production"])
    ]
    assert json.loads(result.outputs["request"])["name"] == "Release v1"
    assert "Dry run" in result.stdout
    assert '"VERSION": "v1.4.0"' in result.stdout
    assert "Nothing was sent" in result.summary


def test_dry_run_needs_no_token_and_a_real_run_still_does(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    without_token = {name: value for name, value in inputs.items() if name != "api-token"}
    (tmp_path / "dry").mkdir()
    (tmp_path / "real").mkdir()
    dry = run_action(tmp_path / "dry", {**without_token, "dry-run": "true"})

    assert dry.exit_code == 0, dry.log
    assert dry.annotations == []
    assert "Nothing was sent" in dry.summary
    real = run_action(tmp_path / "real", without_token)
    assert real.exit_code == 1
    assert real.annotations == [
        (
            "Invalid input: api-token",
            "api-token is required unless dry-run is true: set it in `with:` (or NORTHFLANK_API_TOKEN)",
        )
    ]
    assert standin.requests == []


def test_request_file_is_merged_with_inputs_winning(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    (tmp_path / "workspace").mkdir()
    (tmp_path / "workspace" / "release.yaml").write_text(
        "name: From file\n"
        "description: from the file\n"
        "arguments:\n  VERSION: old\n  REGION: eu\n"
        "overrides:\n  build:\n    branch: main\n",
        encoding="utf-8",
    )
    result = run_action(
        tmp_path, {**inputs, "request-file": "release.yaml", "name": "From input", "overrides": '{"deploy": {"x": 1}}'}
    )

    assert result.exit_code == 0, result.log
    [trigger] = standin.requests_to("trigger")
    assert trigger.body_json == {
        "name": "From input",
        "description": "from the file",
        "arguments": {"VERSION": "v1.4.0", "REGION": "eu", "COMMIT": "4f2a9c1"},
        "overrides": {"build": {"branch": "main"}, "deploy": {"x": 1}},
    }


def test_yaml_and_json_structured_inputs(tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]) -> None:
    result = run_action(
        tmp_path,
        {
            **inputs,
            "arguments": "VERSION: 1.10\nENABLED: yes\n",
            "release-node-overrides": '{"web": {"type": "registry", "origin": {"imagePath": "nginx:1.27"}}}',
        },
    )

    assert result.exit_code == 0, result.log
    [body] = trigger_bodies(standin)
    assert body["arguments"] == {"VERSION": "1.10", "ENABLED": "yes"}
    assert body["releaseNodeOverrides"] == {"web": {"type": "registry", "origin": {"imagePath": "nginx:1.27"}}}


def test_outside_github_only_northflank_variables_are_needed(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    result = run_action(tmp_path, inputs, outside_github=True)

    assert result.exit_code == 0, result.log
    name = trigger_bodies(standin)[0]["name"]
    assert name.startswith("release ")
    assert f"output run-id={standin.runs()[0]['id']}" in result.stdout
    assert "::" not in result.stdout  # no workflow commands on a terminal, above all no add-mask with the token


def test_help_lists_every_variable(tmp_path: Path) -> None:
    result = run_action(tmp_path, {}, args=["--help"])

    assert result.exit_code == 0
    for variable in ("NORTHFLANK_API_TOKEN", "NORTHFLANK_STAGE", "NORTHFLANK_WAIT", "NORTHFLANK_DRY_RUN"):
        assert variable in result.stdout


def test_command_line_flags_win_over_the_environment(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    result = run_action(tmp_path, {**inputs, "stage": "production"}, args=["--stage", "development"])

    assert result.exit_code == 0, result.log
    assert standin.requests_to("trigger")[0].path.endswith("/release-flows/development/runs")


def test_derived_name_is_unique_per_run_attempt(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    run_action(tmp_path / "a", inputs)
    run_action(tmp_path / "b", inputs, context={**GITHUB_CONTEXT, "GITHUB_RUN_ATTEMPT": "2"})

    names = [body["name"] for body in trigger_bodies(standin)]
    assert names == ["v1-4-0 run 8123456789-1", "v1-4-0 run 8123456789-2"]


@pytest.mark.parametrize(
    ("status", "cause"),
    [
        (401, "token is missing, wrong or revoked"),
        (403, "Pipelines > General > Update"),
        (404, "check project-id, pipeline-id and stage"),
        (409, "concurrency policy"),
        (422, "the API refused the request"),
    ],
)
def test_api_refusals_become_one_readable_error(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str], status: int, cause: str
) -> None:
    from testing.northflank_standin import Fault

    standin.add_fault(Fault("POST", "trigger", "status", status=status, message="Northflank says no"))
    result = run_action(tmp_path, inputs)

    assert result.exit_code == 1
    [error] = result.errors
    assert f"HTTP {status}" in error
    assert "Northflank says no" in error
    assert cause in error
    assert len(standin.requests_to("trigger")) == 1  # refused: never retried
    assert "Traceback" not in result.log


def test_wrong_token_is_reported_as_a_token_problem(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    result = run_action(tmp_path, {**inputs, "api-token": "nf-wrong-token-1234567890"})

    assert result.exit_code == 1
    [error] = result.errors
    assert "HTTP 401" in error
    assert "api-token" in error


def test_debug_mode_shows_method_url_and_body_but_never_the_token(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    result = run_action(tmp_path, {**inputs, "wait": "true", "poll-interval": "1s"}, job_env={"RUNNER_DEBUG": "1"})

    assert result.exit_code == 0, result.log
    debug_lines = [line for line in result.stdout.splitlines() if line.startswith("::debug")]
    assert any(f"POST {standin.url}/v1/projects/shop/" in line and '"VERSION"' in line for line in debug_lines)
    assert any(line.endswith("rate limit remaining 999") for line in debug_lines)
    assert "Authorization" not in result.log
    assert "Bearer" not in result.log  # run_action also fails the test if the token appears anywhere


def test_a_netrc_entry_for_the_api_host_does_not_replace_the_token(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    # requests applies ~/.netrc credentials over a plain Authorization header; the action must not let it.
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password not-the-token\n", encoding="utf-8")
    netrc.chmod(0o600)
    result = run_action(tmp_path, inputs)

    assert result.exit_code == 0, result.log
    assert standin.requests_to("trigger")[0].headers["authorization"] == f"Bearer {inputs['api-token']}"


def test_an_api_away_for_8_seconds_from_the_first_post_still_releases_once(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    """The same outage the simulated-clock tests (test_outages.py) cover in every mode, once in real time."""
    standin.outage = Outage("503", 8.0)
    result = run_action(tmp_path, inputs, timeout=60)

    assert result.exit_code == 0, result.log
    [run] = standin.runs()
    assert result.outputs["run-id"] == run["id"]
    assert len(standin.requests_to("trigger")) == 2
    assert "The runs list answers again" in result.stdout
