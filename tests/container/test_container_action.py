"""The real image, run as the GitHub runner runs a container action, against the local Northflank stand-in.

The container gets /github/workspace as its working directory, /github/file_commands with the
GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, the GITHUB_* context, one INPUT_* variable per input and
action.yml's runs.env with the inputs filled in; it uses the host network to reach the stand-in on
127.0.0.1. Cancellation is ``docker stop``, as the runner does it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import docker
import pytest
from docker.models.images import Image

from testing import runner
from testing.northflank_standin import API_TOKEN_DEFAULT, NorthflankStandin, RunPlan

from .conftest import (
    DetachedActionRun,
    as_runner_run,
    finish_action,
    run_action,
    run_as_runner,
    runner_environment,
)

pytestmark = pytest.mark.container

STOP_DEADLINE = 2.0  # seconds from `docker stop` until the container has ended
FAR_FUTURE = [(0.0, "running"), (3600.0, "success")]


def _start(
    client: docker.DockerClient,
    image: Image,
    tmp_path: Path,
    inputs: Mapping[str, str],
) -> DetachedActionRun:
    return run_action(
        client,
        image,
        env=runner_environment(inputs),
        workspace=tmp_path / "workspace",
        file_commands=tmp_path / "file_commands",
        detach=True,
    )


def _eventually(condition: Callable[[], bool], what: str, detached: DetachedActionRun, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        detached.container.reload()
        if detached.container.status == "exited":
            break
        time.sleep(0.05)
    logs = detached.container.logs().decode("utf-8", "replace")
    detached.container.remove(force=True)
    pytest.fail(f"{what} did not happen within {timeout}s; container logs:\n{logs}")


def _stop_while_waiting(
    client: docker.DockerClient,
    image: Image,
    tmp_path: Path,
    standin: NorthflankStandin,
    inputs: Mapping[str, str],
    capsys: pytest.CaptureFixture[str],
) -> tuple[runner.ActionRun, float]:
    """Start a waiting run, `docker stop` it once it really waits; the result and how long the stop took."""
    standin.plan = RunPlan(steps=list(FAR_FUTURE))
    detached = _start(client, image, tmp_path, {**inputs, "wait": "true", "poll-interval": "1s", "timeout": "1h"})
    _eventually(
        lambda: bool(standin.requests_to("trigger")) and bool(standin.requests_to("get")),
        "the trigger and a first status read",
        detached,
    )
    started = time.monotonic()
    detached.container.stop(timeout=10)
    took = time.monotonic() - started
    with capsys.disabled():
        print(f"\n[docker stop] the container ended {took:.2f}s after the stop")
    result = as_runner_run(finish_action(detached, timeout=30))
    runner.assert_token_not_leaked(result, inputs["api-token"])
    return result, took


def test_a_trigger_writes_outputs_and_summary_on_the_host(
    docker_client: docker.DockerClient,
    action_image: Image,
    tmp_path: Path,
    standin: NorthflankStandin,
    inputs: dict[str, str],
) -> None:
    result = run_as_runner(docker_client, action_image, tmp_path, inputs)

    assert result.exit_code == 0, result.log
    [run] = standin.runs()
    [trigger] = standin.requests_to("trigger")
    assert result.outputs["run-id"] == run["id"]
    assert result.outputs["status"] == run["status"]
    assert result.outputs["concluded"] in ("true", "false")
    assert json.loads(result.outputs["request"]) == trigger.body_json
    assert json.loads(result.outputs["response"])["id"] == run["id"]
    assert result.outputs["run-name"] == run["name"] == "v1-4-0 run 8123456789-1"
    assert run["id"] in result.summary
    assert "production" in result.summary
    assert len(standin.requests) == 1  # the trigger answer carries the status: no extra reads


def test_bad_input_fails_with_annotations_and_sends_nothing(
    docker_client: docker.DockerClient,
    action_image: Image,
    tmp_path: Path,
    standin: NorthflankStandin,
    inputs: dict[str, str],
) -> None:
    result = run_as_runner(docker_client, action_image, tmp_path, {**inputs, "stage": "prod", "name": "v1.2.3"})

    assert result.exit_code != 0, result.log
    titles = [title for title, _ in result.annotations]
    assert "Invalid input: stage" in titles, result.errors
    assert "Invalid input: name" in titles, result.errors
    assert standin.requests == []
    assert standin.runs() == []


def test_waiting_for_a_failing_run_fails_the_step(
    docker_client: docker.DockerClient,
    action_image: Image,
    tmp_path: Path,
    standin: NorthflankStandin,
    inputs: dict[str, str],
) -> None:
    standin.plan = RunPlan(steps=[(0.0, "running"), (1.0, "failure")])

    result = run_as_runner(docker_client, action_image, tmp_path, {**inputs, "wait": "true", "poll-interval": "1s"})

    assert result.exit_code != 0, result.log
    [run] = standin.runs()
    assert result.outputs["run-id"] == run["id"]
    assert result.outputs["status"] == "failure"
    assert result.outputs["concluded"] == "true"
    assert any(title == "Release failure" for title, _ in result.annotations), result.errors
    assert len(standin.requests_to("trigger")) == 1


def test_docker_stop_while_waiting_aborts_the_run_and_ends_quickly(
    docker_client: docker.DockerClient,
    action_image: Image,
    tmp_path: Path,
    standin: NorthflankStandin,
    inputs: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    result, took = _stop_while_waiting(
        docker_client, action_image, tmp_path, standin, {**inputs, "abort-on-timeout": "true"}, capsys
    )

    assert took < STOP_DEADLINE, f"docker stop took {took:.2f}s\n{result.log}"
    assert result.exit_code == 143, result.log
    [run] = standin.runs()
    assert len(standin.requests_to("abort")) == 1
    assert run["status"] == "aborted"
    assert result.outputs["run-id"] == run["id"]
    assert result.outputs["status"] == "aborted"
    assert any(title == "Cancelled while waiting for the release" for title, _ in result.annotations), result.errors


def test_docker_stop_while_waiting_without_abort_leaves_the_run(
    docker_client: docker.DockerClient,
    action_image: Image,
    tmp_path: Path,
    standin: NorthflankStandin,
    inputs: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    result, took = _stop_while_waiting(docker_client, action_image, tmp_path, standin, inputs, capsys)

    assert took < STOP_DEADLINE, f"docker stop took {took:.2f}s\n{result.log}"
    assert result.exit_code == 143, result.log
    [run] = standin.runs()
    assert standin.requests_to("abort") == []
    assert run["status"] == "running"
    assert result.outputs["run-id"] == run["id"]
    assert result.outputs["status"] == "running"


def test_help_works_without_any_environment(
    docker_client: docker.DockerClient, action_image: Image, tmp_path: Path
) -> None:
    container = docker_client.containers.run(action_image.id, command=["--help"], detach=True, network_mode="none")
    try:
        exit_code = int(container.wait(timeout=60)["StatusCode"])
        stdout = container.logs(stdout=True, stderr=False).decode("utf-8", "replace")
    finally:
        container.remove(force=True)
    assert exit_code == 0, stdout
    assert "NORTHFLANK_API_TOKEN" in stdout
    assert "143" in stdout  # the exit statuses are documented


def test_docker_run_outside_github_prints_the_outputs(
    docker_client: docker.DockerClient,
    action_image: Image,
    standin: NorthflankStandin,
    inputs: dict[str, str],
) -> None:
    # Only NORTHFLANK_* variables, as a person would pass them with `docker run -e`; no mounts.
    env = {name: value for name, value in runner.runs_env(inputs).items() if value}
    assert all(name.startswith("NORTHFLANK_") for name in env)
    container = docker_client.containers.run(action_image.id, detach=True, environment=env, network_mode="host")
    try:
        exit_code = int(container.wait(timeout=60)["StatusCode"])
        stdout = container.logs(stdout=True, stderr=False).decode("utf-8", "replace")
        stderr = container.logs(stdout=False, stderr=True).decode("utf-8", "replace")
        container_env = container.attrs["Config"]["Env"] or []
    finally:
        container.remove(force=True)
    result = runner.ActionRun(exit_code=exit_code, stdout=stdout, stderr=stderr, outputs={}, summary="")
    runner.assert_token_not_leaked(result, inputs["api-token"])
    assert not [item for item in container_env if item.startswith("GITHUB_")]

    assert exit_code == 0, result.log
    [run] = standin.runs()
    assert f"output run-id={run['id']}" in stdout.splitlines()
    assert f"output status={run['status']}" in stdout.splitlines()
    assert "::" not in stdout  # no workflow commands outside GitHub
    assert API_TOKEN_DEFAULT not in stdout


def test_with_beats_the_job_env_and_python_variables_stay_out_in_the_real_image(
    docker_client: docker.DockerClient,
    action_image: Image,
    tmp_path: Path,
    standin: NorthflankStandin,
    inputs: dict[str, str],
) -> None:
    """The job env reaches the container beside INPUT_*; a workspace email.py on PYTHONPATH must not load."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "email.py").write_text("raise SystemExit('the workspace email.py was imported')\n")
    job_env = {"NORTHFLANK_STAGE": "development", "PYTHONPATH": "/github/workspace", "PYTHONHOME": "/nowhere"}
    result = run_as_runner(docker_client, action_image, tmp_path, {**inputs, "stage": "staging"}, job_env=job_env)

    assert result.exit_code == 0, result.log
    [trigger] = standin.requests_to("trigger")
    assert trigger.path.endswith("/release-flows/staging/runs")
    assert "title=NORTHFLANK_STAGE ignored" in result.stdout
