"""The image run as actions/runner-container-hooks' Kubernetes hook runs a container step (packages/k8s/src
at cf62bcc), with the image's own busybox for every command:

- the step's pod starts the image with `tail -f /dev/null` as its command, working directory /__w, and
  empty volumes at /__w, /github and /__e (createContainerSpec in hooks/run-container-step.ts,
  createContainerStepPod and CONTAINER_VOLUMES in k8s/index.ts, k8s/utils.ts);
- execCpToPod streams the runner's /__w into the pod through `sh -c 'tar xf - --no-same-owner -C /__w;
  find ... -exec chmod ...'`, then compares `find . -type f ... -exec stat -c '%s %n' {} \\;` listings;
- execPodStep runs `sh -e <script>`, writeContainerStepScript's `#!/bin/sh -l` script: it removes itself,
  moves the /__w/_temp folders and the workspace under /github, changes into /github/workspace and
  `exec`s `env "NAME=value" ... <entrypoint> <args>` (k8s/utils.ts).

The hook refuses a step without an entry point; the runner hands it action.yml's `runs.entrypoint` and
`runs.args`, so the script here execs exactly those, read from action.yml (a step without them fails there).
"""

from __future__ import annotations

import io
import socket
import tarfile
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.models.containers import Container
from docker.models.images import Image

from testing import runner
from testing.northflank_standin import NorthflankStandin

from .conftest import OUTPUT_FILE, SUMMARY_FILE, runner_environment

pytestmark = pytest.mark.container

REPO = "action-user-repo"  # GITHUB_WORKSPACE is /__w/<repo>/<repo> on the runner
# What the runner passes the hook: action.yml's own lines, not a setup of this test's (runs-on a k8s runner
# with `uses: owner/repo@v1` has nothing else).
ENTRYPOINT: str = runner.ACTION["runs"]["entrypoint"]
ENTRYPOINT_ARGS: list[str] = runner.ACTION["runs"]["args"]


def script_env(env: Mapping[str, str]) -> str:
    """scriptEnv in k8s/utils.ts: `env "K=V" ...`, with \\, ", $ and ` escaped in values."""
    parts = []
    for key, value in env.items():
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("`", "\\`")
        parts.append(f'"{key}={escaped}"')
    return f"env {' '.join(parts)} " if parts else ""


def container_step_script(env: Mapping[str, str]) -> str:
    """writeContainerStepScript's script, as the hook writes it."""
    return (
        "#!/bin/sh -l\n"
        'rm "$0" # remove script after running\n'
        "mv /__w/_temp/_github_home /github/home && \\\n"
        "mv /__w/_temp/_github_workflow /github/workflow && \\\n"
        "mv /__w/_temp/_runner_file_commands /github/file_commands || true && \\\n"
        f"mv /__w/{REPO}/{REPO}/ /github/workspace && \\\n"
        "cd /github/workspace && \\\n"
        f"exec {script_env(env)} {ENTRYPOINT} {' '.join(ENTRYPOINT_ARGS)}\n"
    )


def list_dir_all(directory: str) -> str:
    """listDirAllCommand in k8s/utils.ts."""
    return f"cd {directory} && find . -type f -not -path '*/_runner_hook_responses*' -exec stat -c '%s %n' {{}} \\;"


def _exec(container: Container, command: list[str], stdin: bytes | None = None) -> tuple[int, bytes]:
    """`kubectl exec`: a command in the running container, optionally fed `stdin`; its exit code and output."""
    api: Any = container.client.api
    exec_id = api.exec_create(container.id, command, stdin=stdin is not None, stdout=True, stderr=True)["Id"]
    if stdin is None:
        output = api.exec_start(exec_id)
    else:
        sock = api.exec_start(exec_id, socket=True)
        raw: socket.socket = sock._sock
        raw.sendall(stdin)
        raw.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := raw.recv(65536):
            chunks.append(chunk)
        raw.close()
        output = b"".join(chunks)
    for _ in range(100):
        inspected = api.exec_inspect(exec_id)
        if not inspected["Running"]:
            return int(inspected["ExitCode"]), output
        time.sleep(0.05)
    raise AssertionError(f"{command} did not end")


@pytest.fixture
def step_pod(docker_client: docker.DockerClient, action_image: Image, tmp_path: Path) -> Iterator[Container]:
    """The step's pod: `tail -f /dev/null` as the command, /__w as working directory, empty volumes."""
    volumes = {}
    for mount in ("/__w", "/github", "/__e"):
        folder = tmp_path / "volumes" / mount.strip("/")
        folder.mkdir(parents=True)
        volumes[str(folder)] = {"bind": mount, "mode": "rw"}
    container = docker_client.containers.run(
        action_image.id,
        entrypoint=["tail"],
        command=["-f", "/dev/null"],
        working_dir="/__w",
        volumes=volumes,
        network_mode="host",
        detach=True,
    )
    try:
        yield container
    finally:
        container.remove(force=True)


def runner_work_folder(root: Path, env: Mapping[str, str]) -> Path:
    """The runner's /__w as the hook copies it: _temp with the home, workflow and file-command folders, the
    workspace, and the step script."""
    work = root / "__w"
    for folder in ("_temp/_github_home", "_temp/_github_workflow", "_temp/_runner_file_commands", f"{REPO}/{REPO}"):
        (work / folder).mkdir(parents=True)
    (work / "_temp" / "_runner_file_commands" / OUTPUT_FILE).write_bytes(b"")
    (work / "_temp" / "_runner_file_commands" / SUMMARY_FILE).write_bytes(b"")
    (work / "_temp" / "_github_workflow" / "event.json").write_text("{}", encoding="utf-8")
    (work / REPO / REPO / "README.md").write_text("the user's checkout\n", encoding="utf-8")
    (work / "_temp" / f"{uuid.uuid4()}.sh").write_text(container_step_script(env), encoding="utf-8")
    return work


def tar_of(folder: Path) -> bytes:
    """tar-fs's pack(folder): the folder's contents, relative to it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path in sorted(folder.rglob("*")):
            archive.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    return buffer.getvalue()


def test_the_k8s_hook_copies_the_work_folder_in_and_runs_the_step_script(
    step_pod: Container, standin: NorthflankStandin, inputs: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **runner_environment(inputs),
        "GITHUB_OUTPUT": f"/github/file_commands/{OUTPUT_FILE}",
        "GITHUB_STEP_SUMMARY": f"/github/file_commands/{SUMMARY_FILE}",
        "GITHUB_WORKSPACE": "/github/workspace",
        "HOME": "/github/home",
        "GITHUB_ACTIONS": "true",
        "CI": "true",
    }
    work = runner_work_folder(tmp_path / "runner", env)

    copy = (
        "tar xf - --no-same-owner -C /__w 2>/dev/null; "
        "find /__w -type f -exec chmod u+rw {} \\; 2>/dev/null; "
        "find /__w -type d -exec chmod u+rwx {} \\; 2>/dev/null"
    )
    code, output = _exec(step_pod, ["sh", "-c", copy], stdin=tar_of(work))
    assert code == 0, output
    code, listing = _exec(step_pod, ["sh", "-c", list_dir_all("/__w")])
    assert code == 0, listing
    expected = sorted(f"{path.stat().st_size} ./{path.relative_to(work)}" for path in work.rglob("*") if path.is_file())
    assert sorted(listing.decode().splitlines()) == expected  # the hook's check that the copy is whole

    [script] = [path.name for path in (work / "_temp").glob("*.sh")]
    code, output = _exec(step_pod, ["sh", "-e", f"/__w/_temp/{script}"])
    text = output.decode("utf-8", "replace")

    assert code == 0, text
    [run] = standin.runs()
    outputs = step_pod.get_archive(f"/github/file_commands/{OUTPUT_FILE}")
    raw = b"".join(outputs[0])
    with tarfile.open(fileobj=io.BytesIO(raw)) as archive:
        member = archive.extractfile(OUTPUT_FILE)
        assert member is not None
        parsed = runner.parse_file_commands(member.read().decode("utf-8"))
    assert parsed["run-id"] == run["id"]
    # The script removed itself and moved the folders: what the hook's later steps expect.
    check = f"test -e /__w/_temp/{script} || echo gone; cd /github/workspace && echo *"
    code, left = _exec(step_pod, ["sh", "-c", check])
    assert "gone" in left.decode(), left
    assert "README.md" in left.decode(), left
