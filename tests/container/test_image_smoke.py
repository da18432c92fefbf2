"""Smoke tests of the action's image: it starts, it holds no distribution, and its shell is only busybox."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path

import docker
import pytest
from docker.models.images import Image

from image.rootfs import BUSYBOX_APPLETS

from .conftest import run_action

pytestmark = pytest.mark.container

MB = 1_000_000
SIZE_LIMIT = 80 * MB  # loose guard, unpacked; the real target (compressed) is reported by scripts/bench


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


def test_the_image_is_small_and_has_no_distribution(
    docker_client: docker.DockerClient,
    action_image: Image,
    record_property: Callable[[str, object], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    size = int(action_image.attrs["Size"])
    record_property("image_bytes", size)
    with capsys.disabled():
        print(f"\n[image size] {action_image.tags} {size / MB:.1f} MB unpacked")
    assert size < SIZE_LIMIT, f"{size / MB:.1f} MB (limit {SIZE_LIMIT // MB} MB)"

    container = docker_client.containers.create(action_image.id)
    try:
        with tarfile.open(fileobj=io.BytesIO(b"".join(container.export())), mode="r|") as archive:
            names = {member.name.lstrip("./"): member for member in archive}
    finally:
        container.remove(force=True)
    for absent in ("usr/bin/apt-get", "usr/bin/dpkg", "usr/bin/perl", "var/lib/dpkg/status", "usr/bin/bash"):
        assert absent not in names, f"{absent} is in the image"
    applets = {Path(name).name for name, member in names.items() if member.issym() and member.linkname == "busybox"}
    assert applets == set(BUSYBOX_APPLETS)
    assert not any("/test/" in name or "ensurepip" in name or "idlelib" in name or "tkinter" in name for name in names)
    # What scanners read to know the Debian packages the copied files came from.
    described = {Path(name).name for name in names if name.startswith("var/lib/dpkg/status.d/")}
    assert {"busybox-static", "libc6"} <= described
