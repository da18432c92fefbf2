"""Fixtures that build the action's image and run it as the GitHub runner runs it.

Needs a Docker engine. On machines without one (and without a registry to pull from)::

    eval "$(scripts/docker-engine.sh start | tail -1)"  # private dockerd
    scripts/docker-engine.sh base-image  # local stand-in tagged python:3.12-slim

Without an engine these tests are skipped, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, overload

import docker
import docker.errors
import pytest
import requests
from docker.models.containers import Container
from docker.models.images import Image

from testing import runner
from testing.image_build import build_action_image, build_log_tail

REPO_ROOT = Path(__file__).resolve().parents[2]
# Worktrees sharing one engine each set their own tag, so parallel runs never test each other's image.
IMAGE_TAG = os.environ.get("NF_IMAGE_TAG", "northflank-release-action:test")
BASE_IMAGE = "python:3.12-slim"
ENGINE_DIR = Path(os.environ.get("NF_DOCKER_DIR", "/var/tmp/northflank-release-docker"))

WORKSPACE = "/github/workspace"
FILE_COMMANDS = "/github/file_commands"
HOME = "/github/home"
OUTPUT_FILE = "set_output_x"
SUMMARY_FILE = "step_summary_x"

_NO_ENGINE = (
    'no Docker engine: run `eval "$(scripts/docker-engine.sh start | tail -1)"` '
    "and `scripts/docker-engine.sh base-image` first"
)


@dataclass(frozen=True)
class ActionRun:
    """A finished run; the paths are the host files of GITHUB_OUTPUT / _STEP_SUMMARY."""

    exit_code: int
    stdout: str
    stderr: str
    outputs_path: Path
    summary_path: Path


@dataclass(frozen=True)
class DetachedActionRun:
    """A started run: finish it with :func:`finish_action` (removes the container)."""

    container: Container
    outputs_path: Path
    summary_path: Path


def _docker_from_env() -> docker.DockerClient:
    # Without DOCKER_HOST, use the private engine of scripts/docker-engine.sh if up.
    sock = ENGINE_DIR / "docker.sock"
    if "DOCKER_HOST" not in os.environ and sock.is_socket():
        return docker.DockerClient(base_url=f"unix://{sock}", timeout=300)
    return docker.from_env(timeout=300)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A pinged Docker SDK client; skips (fails under CI=true) if no engine answers."""
    try:
        client = _docker_from_env()
        client.ping()
    except (
        docker.errors.DockerException,
        requests.exceptions.RequestException,
        OSError,
    ) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {_NO_ENGINE} ({exc})")
        pytest.skip(_NO_ENGINE)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def action_image(docker_client: docker.DockerClient) -> Image:
    """The action's image, built from the repo's Dockerfile, tagged IMAGE_TAG."""
    try:
        docker_client.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        # Where a registry can be reached (a GitHub runner), pull the real base; elsewhere, say how to make one.
        try:
            docker_client.images.pull(BASE_IMAGE)
        except docker.errors.APIError as exc:
            pytest.fail(
                f"base image {BASE_IMAGE} is not in the engine and cannot be pulled ({exc.explanation}): "
                "run `scripts/docker-engine.sh base-image` to make a local stand-in"
            )
    try:
        image: Image = build_action_image(docker_client, IMAGE_TAG)
    except docker.errors.BuildError as exc:
        pytest.fail(f"building {IMAGE_TAG} failed: {exc.msg}\n{build_log_tail(exc.build_log)}")
    return image


@overload
def run_action(
    client: docker.DockerClient,
    image: Image | str,
    *,
    env: Mapping[str, str],
    workspace: Path,
    file_commands: Path,
    args: list[str] | None = None,
    network_mode: str = "host",
    detach: Literal[False] = False,
    timeout: float = 120.0,
) -> ActionRun: ...


@overload
def run_action(
    client: docker.DockerClient,
    image: Image | str,
    *,
    env: Mapping[str, str],
    workspace: Path,
    file_commands: Path,
    args: list[str] | None = None,
    network_mode: str = "host",
    detach: Literal[True],
    timeout: float = 120.0,
) -> DetachedActionRun: ...


def run_action(
    client: docker.DockerClient,
    image: Image | str,
    *,
    env: Mapping[str, str],
    workspace: Path,
    file_commands: Path,
    args: list[str] | None = None,
    network_mode: str = "host",
    detach: bool = False,
    timeout: float = 120.0,
) -> ActionRun | DetachedActionRun:
    """Run the action's container as the runner runs a ``runs.using: docker`` action.

    ``workspace`` is mounted at /github/workspace (the working directory),
    ``file_commands`` at /github/file_commands with empty GITHUB_OUTPUT and
    GITHUB_STEP_SUMMARY files created in it, and a ``_github_home`` folder beside
    ``file_commands`` at /github/home. ``env`` (``INPUT_*``, ``GITHUB_*`` context,
    ``runs.env`` values) is applied last and may override the defaults.
    Not detached: waits up to ``timeout`` s (then kills it), collects stdout and
    stderr separately and removes the container. Detached: returns the running
    container; call :func:`finish_action` to wait, collect and remove.
    """
    workspace = workspace.resolve()
    file_commands = file_commands.resolve()
    workspace.mkdir(parents=True, exist_ok=True)
    file_commands.mkdir(parents=True, exist_ok=True)
    home = file_commands.parent / "_github_home"
    home.mkdir(parents=True, exist_ok=True)
    outputs_path = file_commands / OUTPUT_FILE
    summary_path = file_commands / SUMMARY_FILE
    outputs_path.write_bytes(b"")
    summary_path.write_bytes(b"")

    environment: dict[str, str] = {
        "GITHUB_OUTPUT": f"{FILE_COMMANDS}/{OUTPUT_FILE}",
        "GITHUB_STEP_SUMMARY": f"{FILE_COMMANDS}/{SUMMARY_FILE}",
        "GITHUB_WORKSPACE": WORKSPACE,
        "GITHUB_ACTIONS": "true",
        "CI": "true",
        "HOME": HOME,
    }
    environment.update(env)

    container = client.containers.run(
        image.id if isinstance(image, Image) and image.id else str(image),
        command=args,
        detach=True,
        environment=environment,
        working_dir=WORKSPACE,
        volumes={
            str(workspace): {"bind": WORKSPACE, "mode": "rw"},
            str(file_commands): {"bind": FILE_COMMANDS, "mode": "rw"},
            str(home): {"bind": HOME, "mode": "rw"},
        },
        network_mode=network_mode,
    )
    detached = DetachedActionRun(container=container, outputs_path=outputs_path, summary_path=summary_path)
    if detach:
        return detached
    return finish_action(detached, timeout=timeout)


def finish_action(run: DetachedActionRun, *, timeout: float = 120.0) -> ActionRun:
    """Wait for a detached run (kill after ``timeout`` s), collect logs, remove it."""
    container = run.container
    try:
        try:
            result = container.wait(timeout=timeout)
        except requests.exceptions.RequestException:
            container.kill()
            result = container.wait(timeout=30)
            stderr = container.logs(stdout=False, stderr=True).decode("utf-8", "replace")
            pytest.fail(f"container did not exit within {timeout}s; killed. stderr:\n{stderr}")
        return ActionRun(
            exit_code=int(result["StatusCode"]),
            stdout=container.logs(stdout=True, stderr=False).decode("utf-8", "replace"),
            stderr=container.logs(stdout=False, stderr=True).decode("utf-8", "replace"),
            outputs_path=run.outputs_path,
            summary_path=run.summary_path,
        )
    finally:
        container.remove(force=True)


def runner_environment(
    inputs: Mapping[str, str],
    *,
    context: Mapping[str, str] | None = None,
    job_env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """What the runner gives a ``runs.using: docker`` step, in the runner's order (testing.runner.step_environment)."""
    return runner.step_environment(inputs, runner.GITHUB_CONTEXT if context is None else context, job_env)


def as_runner_run(run: ActionRun) -> runner.ActionRun:
    """The container run as :class:`testing.runner.ActionRun`, outputs parsed with the runner's rules."""
    raw = run.outputs_path.read_text(encoding="utf-8")
    return runner.ActionRun(
        exit_code=run.exit_code,
        stdout=run.stdout,
        stderr=run.stderr,
        outputs=runner.parse_file_commands(raw),
        summary=run.summary_path.read_text(encoding="utf-8"),
        raw_outputs=raw,
    )


def run_as_runner(
    client: docker.DockerClient,
    image: Image,
    tmp_path: Path,
    inputs: Mapping[str, str],
    job_env: Mapping[str, str] | None = None,
) -> runner.ActionRun:
    """Run the image to its end as the runner runs a container action, read its files as the runner reads
    them, and check that the token appears nowhere it writes."""
    run = run_action(
        client,
        image,
        env=runner_environment(inputs, job_env=job_env),
        workspace=tmp_path / "workspace",
        file_commands=tmp_path / "file_commands",
    )
    result = as_runner_run(run)
    runner.assert_token_not_leaked(result, inputs["api-token"])
    return result
