"""Smoke tests of the action's image: it starts, and it stays small."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import docker
import pytest
from docker.models.images import Image

from .conftest import BASE_IMAGE, run_action

pytestmark = pytest.mark.container

MB = 1_000_000
ADDED_SIZE_LIMIT = 60 * MB  # loose guard; the real target (20 MB) is reported by a benchmark


def test_help_exits_zero(docker_client: docker.DockerClient, action_image: Image, tmp_path: Path) -> None:
    run = run_action(
        docker_client,
        action_image,
        env={},
        workspace=tmp_path / "workspace",
        file_commands=tmp_path / "file_commands",
        args=["--help"],
        network_mode="none",
    )
    assert run.exit_code == 0, f"stdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    assert run.stdout.strip() or run.stderr.strip(), "--help printed nothing"


def test_image_adds_little_over_its_base(
    docker_client: docker.DockerClient,
    action_image: Image,
    record_property: Callable[[str, object], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = docker_client.images.get(BASE_IMAGE)
    added = int(action_image.attrs["Size"]) - int(base.attrs["Size"])
    record_property("image_added_bytes", added)
    message = f"{action_image.tags} adds {added / MB:.1f} MB over {BASE_IMAGE}"
    with capsys.disabled():
        print(f"\n[image size] {message}")
    assert added < ADDED_SIZE_LIMIT, f"{message} (limit {ADDED_SIZE_LIMIT // MB} MB)"
