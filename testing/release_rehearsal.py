"""The release workflow's steps, done here with local parts: a registry standing in for GHCR, buildah for buildx.

- :class:`LocalRegistry`: Debian's ``docker-registry`` (the CNCF distribution registry) on a free
  127.0.0.1 port, storage in a temporary folder, started and stopped by PID. dockerd treats 127.0.0.0/8
  registries as insecure-allowed by default (``docker info``: "Insecure Registries: 127.0.0.0/8"), so
  plain HTTP works without daemon configuration.
- :class:`Buildah`: buildah with its own storage, building the real Dockerfile for several platforms into
  one manifest list and pushing it with ``manifest push --all`` (what ``docker buildx build --platform
  ... --push`` does in the release workflow). The arm64 half runs under qemu-user-static.
- :func:`push_base_index`: the stand-in ``python:3.12-slim`` for amd64 (from the engine) and arm64 (the
  rootfs cached by ``scripts/docker-engine.sh release-tools``), pushed as one multi-arch index, so the
  Dockerfile's ``FROM`` resolves per platform as it does against Docker Hub.
- :func:`read_index_digest`: the digest the registry serves for a tag, asked for as an index.

Used by tests/container/test_release_rehearsal.py and scripts/bench.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
ENGINE_DIR = Path(os.environ.get("NF_DOCKER_DIR", "/var/tmp/northflank-release-docker"))
ARM64_ROOTFS = ENGINE_DIR / "python-3.12-slim-standin-arm64.tar"
BINFMT_AARCH64 = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
# Written by `scripts/docker-engine.sh release-tools` when it could not make qemu-aarch64 work here.
ARM64_UNAVAILABLE = ENGINE_DIR / "arm64-unavailable"
# The rehearsal's opt-out: `skip: <reason>`. For GitHub's CI job only (ci.yml), whose Ubuntu runner cannot
# run release-tools; the release workflow itself is the rehearsal there. .ci/run never sets it.
OPT_OUT = "NF_RELEASE_REHEARSAL"
DOCKER_REGISTRY = "/usr/bin/docker-registry"
BUILDAH = "/usr/bin/buildah"
INDEX_ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    )
)
# The release workflow's platform list is the one source; the rehearsal builds exactly that list.
RELEASE_WORKFLOW = REPO_ROOT / ".github" / "workflows" / "release.yml"


class RehearsalError(RuntimeError):
    """A tool of the rehearsal failed; the message holds its output."""


def release_platforms() -> list[str]:
    """The platforms the release workflow builds (its top-level ``env.PLATFORMS``)."""
    import yaml

    workflow = yaml.safe_load(RELEASE_WORKFLOW.read_text(encoding="utf-8"))
    return [p.strip() for p in str(workflow["env"]["PLATFORMS"]).split(",") if p.strip()]


def verify_step(version: str) -> dict[str, object]:
    """The release workflow's verify job step that runs the release commit (``uses: ./``), for ``version``.

    The rehearsal runs this step, with these inputs, so it does what the verify job does; its one
    expression, the version, is filled in.
    """
    import yaml

    workflow = yaml.safe_load(RELEASE_WORKFLOW.read_text(encoding="utf-8"))
    (step,) = [s for s in workflow["jobs"]["verify"]["steps"] if s.get("uses") == "./"]
    inputs = {
        key: str(value).replace("${{ needs.preflight.outputs.version }}", version) if isinstance(value, str) else value
        for key, value in step["with"].items()
    }
    if any("${{" in str(value) for value in inputs.values()):
        raise RehearsalError(f"the verify step's inputs have an expression the rehearsal cannot fill: {inputs}")
    return {"id": step.get("id", "action"), "uses": "./", "with": inputs}


def opted_out(environ: Mapping[str, str]) -> str | None:
    """The reason given in ``NF_RELEASE_REHEARSAL=skip: <reason>``; None when unset.

    Anything else set there is a mistake, and a ValueError: a typo must not skip the rehearsal quietly.
    """
    value = environ.get(OPT_OUT)
    if value is None:
        return None
    prefix, _, reason = value.partition(":")
    if prefix.strip() != "skip" or not reason.strip():
        raise ValueError(f"{OPT_OUT} must be 'skip: <reason>', not {value!r}")
    return reason.strip()


def arm64_unavailable(marker: Path = ARM64_UNAVAILABLE) -> str | None:
    """Why release-tools could not make arm64 work here, or None when it did not say so."""
    try:
        reason = marker.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return reason or "release-tools could not register qemu-aarch64"


def aarch64_entry_ok(entry: Path = BINFMT_AARCH64) -> bool:
    """qemu-aarch64 is registered, enabled, and has flag F (so it works inside containers)."""
    try:
        lines = entry.read_text(encoding="utf-8").splitlines()
    except OSError:
        return False
    flags = [line.removeprefix("flags: ") for line in lines if line.startswith("flags: ")]
    return bool(lines) and lines[0] == "enabled" and bool(flags) and "F" in flags[0]


def missing_tools(platforms: Sequence[str]) -> list[str]:
    """What this machine lacks for the rehearsal, each with the command that provides it."""
    missing = []
    if not Path(DOCKER_REGISTRY).is_file():
        missing.append("docker-registry (apt-get install docker-registry)")
    if not Path(BUILDAH).is_file():
        missing.append("buildah (apt-get install buildah)")
    if "linux/arm64" in platforms:
        if not aarch64_entry_ok():
            missing.append("qemu-aarch64 enabled with flag F in binfmt_misc (scripts/docker-engine.sh release-tools)")
        if not ARM64_ROOTFS.is_file():
            missing.append(f"{ARM64_ROOTFS} (scripts/docker-engine.sh release-tools)")
    return missing


def _run(command: Sequence[str], *, timeout: float = 600, cwd: Path | None = None) -> str:
    completed = subprocess.run(
        list(command),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )
    if completed.returncode != 0:
        raise RehearsalError(
            f"{' '.join(command[:4])} ... exited {completed.returncode}:\n"
            f"{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
        )
    return completed.stdout


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalRegistry:
    """docker-registry on 127.0.0.1:<free port>; a context manager that stops it by its PID."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = _free_port()
        self.host = f"127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        storage = self.folder / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        config = self.folder / "config.yml"
        # No auth and no TLS: the registry listens on loopback only, like the Northflank stand-in.
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n"
            f"storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.host}\n",
            encoding="utf-8",
        )
        log = (self.folder / "registry.log").open("wb")
        self._process = subprocess.Popen(
            [DOCKER_REGISTRY, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RehearsalError(f"docker-registry exited: {(self.folder / 'registry.log').read_text()[-2000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"http://{self.host}/v2/", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RehearsalError("docker-registry did not answer within 20 s")

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def read_index_digest(registry: str, repository: str, tag: str) -> tuple[str, str]:
    """(digest, raw manifest) the registry serves for ``repository:tag``, asked for as an index."""
    answer = requests.get(
        f"http://{registry}/v2/{repository}/manifests/{tag}", headers={"Accept": INDEX_ACCEPT}, timeout=10
    )
    answer.raise_for_status()
    digest = answer.headers.get("Docker-Content-Digest", "")
    return digest, answer.text


def compressed_size(registry: str, repository: str, reference: str) -> tuple[int, int]:
    """(bytes a pull downloads: config + compressed layers, number of layers) of one image manifest, by tag
    or digest."""
    accept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"
    answer = requests.get(
        f"http://{registry}/v2/{repository}/manifests/{reference}", headers={"Accept": accept}, timeout=10
    )
    answer.raise_for_status()
    manifest = answer.json()
    layers = manifest["layers"]
    return int(manifest["config"]["size"]) + sum(int(layer["size"]) for layer in layers), len(layers)


@dataclass
class Buildah:
    """buildah with storage of its own under ``folder`` (never the machine's /var/lib/containers)."""

    folder: Path

    def _base(self) -> list[str]:
        return [
            BUILDAH,
            "--root",
            str(self.folder / "storage"),
            "--runroot",
            str(self.folder / "run"),
            "--storage-driver",
            "overlay",
        ]

    def __call__(self, *args: str, timeout: float = 600, cwd: Path | None = None) -> str:
        return _run([*self._base(), *args], timeout=timeout, cwd=cwd)

    def image_from_rootfs(self, tarball: Path, arch: str, target: str) -> None:
        """A one-layer image of ``tarball`` for linux/``arch``, configured like the amd64 stand-in."""
        container = self("from", "--arch", arch, "--os", "linux", "scratch").strip()
        try:
            self("add", container, str(tarball), "/")
            self(
                "config",
                "--arch",
                arch,
                "--os",
                "linux",
                "--env",
                "PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--env",
                "LANG=C.UTF-8",
                "--env",
                "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
                "--env",
                "PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
                "--env",
                "REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt",
                "--cmd",
                "python3",
                container,
            )
            self("commit", "--quiet", container, target)
        finally:
            self("rm", container)

    def push(self, image: str, destination: str) -> None:
        self("push", "--tls-verify=false", image, f"docker://{destination}")

    def index(self, name: str, members: Sequence[str], destination: str) -> str:
        """Push a manifest list of ``members`` (registry references) as ``destination``; its digest."""
        self("manifest", "create", name)
        for member in members:
            self("manifest", "add", "--tls-verify=false", name, f"docker://{member}")
        return self.push_index(name, destination)

    def push_index(self, name: str, destination: str) -> str:
        with tempfile.TemporaryDirectory() as scratch:
            digest_file = Path(scratch) / "digest"
            self(
                "manifest",
                "push",
                "--all",
                "--tls-verify=false",
                "--digestfile",
                str(digest_file),
                name,
                f"docker://{destination}",
            )
            return digest_file.read_text(encoding="utf-8").strip()

    def build_multiarch(self, platforms: Sequence[str], manifest: str, base_image: str) -> None:
        """The real Dockerfile, once per platform, into manifest list ``manifest`` (buildx's --platform)."""
        proxies = [
            f"--build-arg={k}={v}" for k, v in os.environ.items() if re.fullmatch(r"(?i)https?_proxy|no_proxy", k)
        ]
        self(
            "build",
            "--isolation",
            "chroot",
            "--network",
            "host",
            "--tls-verify=false",
            "--platform",
            ",".join(platforms),
            "--manifest",
            manifest,
            "--build-arg",
            f"BASE_IMAGE={base_image}",
            *proxies,
            "--file",
            "Dockerfile",
            ".",
            cwd=REPO_ROOT,
            timeout=900,
        )

    def clean(self) -> None:
        with contextlib.suppress(RehearsalError):
            self("rmi", "--all", "--force")
        shutil.rmtree(self.folder, ignore_errors=True)


def push_base_index(docker_client: object, buildah: Buildah, registry: str, platforms: Sequence[str]) -> str:
    """The stand-in python:3.12-slim for each platform, pushed as ``REGISTRY/python:3.12-slim``."""
    members = []
    for platform in platforms:
        arch = platform.split("/")[1]
        target = f"{registry}/python:3.12-slim-{arch}"
        if arch == "amd64":
            image = docker_client.images.get("python:3.12-slim")  # type: ignore[attr-defined]
            image.tag(target)
            try:
                for line in docker_client.images.push(target, stream=True, decode=True):  # type: ignore[attr-defined]
                    if "error" in line:
                        raise RehearsalError(f"pushing {target}: {line['error']}")
            finally:
                docker_client.images.remove(target)  # type: ignore[attr-defined]
        elif arch == "arm64":
            buildah.image_from_rootfs(ARM64_ROOTFS, "arm64", f"standin-{arch}")
            buildah.push(f"standin-{arch}", target)
        else:
            raise RehearsalError(f"no stand-in base for {platform}")
        members.append(target)
    buildah.index("base-index", members, f"{registry}/python:3.12-slim")
    return f"{registry}/python:3.12-slim"


@contextlib.contextmanager
def buildah_in(folder: Path) -> Iterator[Buildah]:
    tool = Buildah(folder)
    try:
        yield tool
    finally:
        tool.clean()
