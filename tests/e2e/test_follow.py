"""run-id: following a run that exists (a trigger job, then a job that waits), as a user sees it."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import requests

from testing.northflank_standin import API_TOKEN_DEFAULT, Fault, NorthflankStandin, RunPlan
from testing.runner import run_action, start_action


def existing_run(standin: NorthflankStandin, plan: RunPlan, name: str = "v1-4-0 run 99") -> str:
    """A run someone else triggered (another job), its requests left out of the record."""
    standin.plan = plan
    answer = requests.post(
        f"{standin.url}/v1/projects/shop/pipelines/release-pipeline/release-flows/production/runs",
        json={"name": name, "arguments": {"VERSION": "v1.4.0"}},
        headers={"Authorization": f"Bearer {API_TOKEN_DEFAULT}"},
        timeout=10,
    )
    answer.raise_for_status()
    standin.requests.clear()
    return str(answer.json()["data"]["id"])


@pytest.fixture
def following(inputs: dict[str, str], standin: NorthflankStandin) -> dict[str, str]:
    standin.ratelimit_reset = 30
    given = {name: value for name, value in inputs.items() if name != "arguments"}
    return {**given, "poll-interval": "1s", "timeout": "1m"}


def test_following_a_running_run_waits_until_it_succeeds_and_triggers_nothing(
    tmp_path: Path, standin: NorthflankStandin, following: dict[str, str]
) -> None:
    run_id = existing_run(standin, RunPlan(steps=[(0.0, "running"), (2.0, "success")]))
    result = run_action(tmp_path, {**following, "run-id": run_id, "wait": "true"})

    assert result.exit_code == 0, result.log
    assert result.annotations == []
    assert standin.requests_to("trigger") == []
    assert result.outputs["run-id"] == run_id
    assert result.outputs["run-name"] == "v1-4-0 run 99"
    assert result.outputs["status"] == "success"
    assert result.outputs["concluded"] == "true"
    assert "request" not in result.outputs  # nothing was sent
    assert "### Following a Northflank release flow run" in result.summary
    assert "Release flow run **success**" in result.summary
    assert f"Following run {run_id}" in result.stdout


def test_following_without_wait_reads_the_run_once_and_reports_its_state(
    tmp_path: Path, standin: NorthflankStandin, following: dict[str, str]
) -> None:
    run_id = existing_run(standin, RunPlan(steps=[(0.0, "running"), (3600.0, "success")]))
    result = run_action(tmp_path, {**following, "run-id": run_id})

    assert result.exit_code == 0, result.log
    assert [request.method for request in standin.requests] == ["GET"]
    assert result.outputs["status"] == "running"
    assert result.outputs["concluded"] == "false"
    assert f"Run {run_id} is running (not concluded yet)." in result.stdout


def test_following_a_finished_run_reports_it_at_once(
    tmp_path: Path, standin: NorthflankStandin, following: dict[str, str]
) -> None:
    run_id = existing_run(standin, RunPlan(steps=[(0.0, "success")]))
    result = run_action(tmp_path, {**following, "run-id": run_id, "wait": "true"})

    assert result.exit_code == 0, result.log
    assert len(standin.requests_to("get")) == 1  # concluded already: no waiting
    assert result.outputs["status"] == "success"
    assert result.outputs["concluded"] == "true"
    assert result.outputs["concluded-at"]


def test_following_a_failed_run_fails_the_step_naming_the_failed_node(
    tmp_path: Path, standin: NorthflankStandin, following: dict[str, str]
) -> None:
    plan = RunPlan(steps=[(0.0, "running"), (1.0, "failure")], failing_node="deploy", error_message="Image pull failed")
    run_id = existing_run(standin, plan)
    result = run_action(tmp_path, {**following, "run-id": run_id, "wait": "true"})

    assert result.exit_code == 1
    [(title, message)] = result.annotations
    assert title == "Release failure"
    assert "deploy: Image pull failed" in message
    assert result.outputs["status"] == "failure"
    assert "**❌ failure**" in result.summary


def test_following_an_unknown_run_is_a_clear_error_with_no_outputs(
    tmp_path: Path, standin: NorthflankStandin, following: dict[str, str]
) -> None:
    existing_run(standin, RunPlan())
    result = run_action(tmp_path, {**following, "run-id": "0b7c9a52-1111-4222-8333-444455556666", "wait": "true"})

    assert result.exit_code == 1
    [(title, message)] = result.annotations
    assert title == "Run to follow not found"
    assert message.startswith(
        "Run 0b7c9a52-1111-4222-8333-444455556666 was not found in the production release flow of pipeline "
        "release-pipeline in project shop (HTTP 404: Run not found"
    )
    assert "Check run-id" in message
    assert "run-id" not in result.outputs
    assert [request.method for request in standin.requests] == ["GET"]


def test_a_run_of_another_stage_is_not_found_in_this_one(
    tmp_path: Path, standin: NorthflankStandin, following: dict[str, str]
) -> None:
    run_id = existing_run(standin, RunPlan())
    result = run_action(tmp_path, {**following, "stage": "staging", "run-id": run_id})

    assert result.exit_code == 1
    assert [title for title, _ in result.annotations] == ["Run to follow not found"]


def test_following_times_out_and_aborts_as_a_triggered_run_does(
    tmp_path: Path, standin: NorthflankStandin, following: dict[str, str]
) -> None:
    run_id = existing_run(standin, RunPlan(steps=[(0.0, "running"), (3600.0, "success")]))
    given = {**following, "run-id": run_id, "wait": "true", "timeout": "3s", "abort-on-timeout": "true"}
    result = run_action(tmp_path, given)

    assert result.exit_code == 1
    assert result.annotations[0][0] == "Timed out waiting for the release"
    assert "The run was aborted (abort-on-timeout)." in result.annotations[0][1]
    assert len(standin.requests_to("abort")) == 1
    assert result.outputs["status"] == "aborted"


def test_a_cancelled_job_aborts_the_followed_run_with_abort_on_timeout(
    tmp_path: Path, standin: NorthflankStandin, following: dict[str, str]
) -> None:
    run_id = existing_run(standin, RunPlan(steps=[(0.0, "running"), (3600.0, "success")]))
    action = start_action(tmp_path, {**following, "run-id": run_id, "wait": "true", "abort-on-timeout": "true"})
    deadline = time.monotonic() + 20
    while len(standin.requests_to("get")) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # into the wait
    action.process.send_signal(signal.SIGTERM)
    result = action.finish(timeout=10)

    assert result.exit_code == 143
    assert "Cancelled" in result.annotations[0][0]
    assert len(standin.requests_to("abort")) == 1
    assert result.outputs["run-id"] == run_id
    assert result.outputs["status"] == "aborted"


@pytest.mark.parametrize(
    ("extra", "input_name"),
    [
        ({"arguments": "VERSION=v1.4.0"}, "arguments"),
        ({"name": "Release v1"}, "name"),
        ({"overrides": "build:\n  branch: x"}, "overrides"),
        ({"release-node-overrides": "web: {type: registry}"}, "release-node-overrides"),
        ({"description": "From CI"}, "description"),
    ],
)
def test_inputs_that_shape_a_new_run_are_an_error_with_run_id(
    tmp_path: Path, standin: NorthflankStandin, following: dict[str, str], extra: dict[str, str], input_name: str
) -> None:
    result = run_action(tmp_path, {**following, "run-id": "0b7c9a52", **extra})

    assert result.exit_code == 1
    assert result.annotations == [
        (
            f"Invalid input: {input_name}",
            f"{input_name} has no effect with run-id: the action follows that run and triggers none. Remove "
            f"{input_name}, or remove run-id to trigger a new run",
        )
    ]
    assert standin.requests == []


def test_dry_run_with_run_id_and_no_token_are_errors_each(
    tmp_path: Path, standin: NorthflankStandin, following: dict[str, str]
) -> None:
    given = {name: value for name, value in following.items() if name != "api-token"}
    result = run_action(tmp_path, {**given, "run-id": "0b7c9a52", "dry-run": "true"})

    assert result.exit_code == 1
    assert [title for title, _ in result.annotations] == ["Invalid input: dry-run", "Invalid input: api-token"]
    assert "api-token is required to follow a run (run-id)" in result.annotations[1][1]
    assert standin.requests == []


@pytest.mark.parametrize("run_id", ["../abort", "a b", "-x", "x" * 129, "run#1"])
def test_a_run_id_that_is_no_run_id_is_refused_before_anything_is_sent(
    tmp_path: Path, standin: NorthflankStandin, following: dict[str, str], run_id: str
) -> None:
    result = run_action(tmp_path, {**following, "run-id": run_id})

    assert result.exit_code == 1
    [(title, message)] = result.annotations
    assert title == "Invalid input: run-id"
    assert message.startswith("run-id is not a release flow run id")
    assert standin.requests == []


def test_a_first_read_that_fails_in_passing_is_a_warning_and_the_wait_reads_again(
    tmp_path: Path, standin: NorthflankStandin, following: dict[str, str]
) -> None:
    run_id = existing_run(standin, RunPlan(steps=[(0.0, "running"), (1.5, "success")]))
    standin.add_fault(Fault("GET", "get", "status", status=503, message="upstream down"))
    result = run_action(tmp_path, {**following, "run-id": run_id, "wait": "true"})

    assert result.exit_code == 0, result.log
    [(title, message)] = result.annotations_of("warning")
    assert title == "Could not read the run to follow"
    assert message.startswith(f"Could not read run {run_id} (HTTP 503: upstream down")
    assert result.outputs["status"] == "success"
    assert result.outputs["run-name"] == "v1-4-0 run 99"  # from the reads that came after


def test_without_wait_a_failed_first_read_is_an_error(
    tmp_path: Path, standin: NorthflankStandin, following: dict[str, str]
) -> None:
    run_id = existing_run(standin, RunPlan())
    standin.add_fault(Fault("GET", "get", "status", status=403, message="Forbidden"))
    result = run_action(tmp_path, {**following, "run-id": run_id})

    assert result.exit_code == 1
    [(title, message)] = result.annotations
    assert title == "Could not read the run to follow"
    assert "Likely cause: the token can trigger runs but not read them" in message


def test_a_proxy_setting_that_cannot_be_used_is_named_and_ends_the_follow_at_once(
    tmp_path: Path, following: dict[str, str]
) -> None:
    # https to a closed loopback port: should the proxy be skipped, nothing could arrive anywhere either.
    inputs = {**following, "api-url": "https://127.0.0.1:9", "run-id": "run-7", "wait": "true"}
    result = run_action(tmp_path, inputs, job_env={"HTTPS_PROXY": "http://user:pw@proxy.internal:99999"})

    assert result.exit_code == 1
    [(title, message)] = result.annotations
    assert title == "Could not read the run to follow"
    assert "HTTPS_PROXY" in message
    assert "check api-url" not in message
    assert "reading it again" not in result.log
