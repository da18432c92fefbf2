"""Release rehearsal: the release workflow's steps end to end, with a loopback registry standing in for GHCR.

Build the real Dockerfile for every platform the release workflow lists (amd64 natively, arm64 under
qemu-user-static), push one multi-arch index, read its digest back from the registry, pin a copy of
action.yml to it with scripts/pin_image.py, then run that action under act (nektos/act), which must pull
the image from the registry by digest and run it against the Northflank stand-in, with its outputs read
by a later step. The arm64 variant is pulled by the same digest and run (under qemu) as well. And, as the
release workflow's verify job does before v1 moves, its own ``uses: ./`` step and inputs (a dry run) start
the rewritten action.yml, whose image act pulls by digest with no registry credentials (an empty
DOCKER_CONFIG).

Needs docker-registry, buildah, qemu-aarch64 in binfmt_misc and the arm64 stand-in rootfs (.ci/run
installs them: ``scripts/docker-engine.sh release-tools``); skipped without them, except under CI=true.
Two skips hold even under CI=true, each with its reason: ``NF_RELEASE_REHEARSAL=skip: <reason>`` (set by
.github/workflows/ci.yml only, never by .ci/run), and arm64 alone when release-tools recorded that
binfmt_misc cannot be used here (then amd64 is built and tested, and test_release_workflow checks that
the workflow's platform list still names arm64).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import pytest

from testing import release_rehearsal as rehearsal
from testing.northflank_standin import API_TOKEN_DEFAULT, NorthflankStandin
from tests.act import harness
from tests.act.checks import assert_token_absent
from tests.container.conftest import run_action

# Read at collection, so GitHub's CI job skips before any fixture asks for an engine; a malformed value
# is a collection error (ValueError), never a quiet skip.
_OPTED_OUT = rehearsal.opted_out(os.environ)
pytestmark = [
    pytest.mark.container,
    pytest.mark.skipif(_OPTED_OUT is not None, reason=f"{rehearsal.OPT_OUT}: {_OPTED_OUT}"),
]

REPO = rehearsal.REPO_ROOT
REPOSITORY = "northflank-release/action-rehearsal"  # the path GHCR would give OWNER/REPO
VERSION = "v0.0.0-rehearsal"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


@dataclass(frozen=True)
class Release:
    registry: str
    reference: str  # REGISTRY/REPOSITORY:VERSION
    digest: str
    index: str  # the raw index the registry served
    platforms: list[str]  # the platforms built here
    arm64_skipped: str | None  # why arm64 was not built here, if it was not


@pytest.fixture(scope="module")
def release(docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    """Build, push and read back the multi-arch index, as the release workflow's `image` job does."""
    arm64_skipped = rehearsal.arm64_unavailable()
    platforms = [p for p in rehearsal.release_platforms() if not (arm64_skipped and p.startswith("linux/arm64"))]
    missing = rehearsal.missing_tools(platforms)
    if missing:
        message = "release rehearsal needs " + "; ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("rehearsal")
    with rehearsal.LocalRegistry(folder / "registry") as registry, rehearsal.buildah_in(folder / "buildah") as buildah:
        base = rehearsal.push_base_index(docker_client, buildah, registry.host, platforms)
        buildah.build_multiarch(platforms, "action-index", base)
        reference = f"{registry.host}/{REPOSITORY}:{VERSION}"
        pushed = buildah.push_index("action-index", reference)
        digest, index = rehearsal.read_index_digest(registry.host, REPOSITORY, VERSION)
        assert digest == pushed, "the registry serves another digest than the one pushed"
        yield Release(registry.host, reference, digest, index, platforms, arm64_skipped)


def test_the_release_builds_every_platform_the_workflow_lists_into_one_index(
    release: Release, record_property: Callable[[str, object], None], capsys: pytest.CaptureFixture[str]
) -> None:
    expected = ["linux/amd64"] if release.arm64_skipped else ["linux/amd64", "linux/arm64"]
    assert release.platforms == expected
    for member in json.loads(release.index)["manifests"]:
        platform = member.get("platform", {})
        size, _layers = rehearsal.compressed_size(release.registry, REPOSITORY, member["digest"])
        record_property(f"compressed_bytes_{platform.get('architecture')}", size)
        with capsys.disabled():
            shown = f"{platform.get('os')}/{platform.get('architecture')}"
            print(f"\n[image size] {shown}: {size} bytes compressed ({member['digest'][:19]})")
    checked = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "image_index.py"), ",".join(release.platforms)],
        input=release.index,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert json.loads(release.index)["mediaType"] in (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    )


def test_the_arm64_image_of_the_index_runs_the_action(
    release: Release, docker_client: docker.DockerClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What an arm64 runner gets from the pin: pulled by the index digest, it runs (here under qemu)."""
    if release.arm64_skipped:
        pytest.skip(f"arm64 not built here: {release.arm64_skipped} (the workflow's list is checked instead)")
    pinned = f"{release.reference}@{release.digest}"
    image = docker_client.images.pull(pinned, platform="linux/arm64")
    try:
        assert image.attrs["Architecture"] == "arm64"
        result = run_action(
            docker_client,
            image,
            env={
                "NORTHFLANK_API_TOKEN": API_TOKEN_DEFAULT,
                "NORTHFLANK_PROJECT_ID": "shop",
                "NORTHFLANK_PIPELINE_ID": "release-pipeline",
                "NORTHFLANK_STAGE": "staging",
                "NORTHFLANK_DRY_RUN": "true",
            },
            workspace=tmp_path / "workspace",
            file_commands=tmp_path / "file_commands",
            network_mode="none",
        )
        assert result.exit_code == 0, result.stderr
        assert result.stderr == ""  # nothing the image lacks (a dangling sitecustomize, say) shows in the log
        assert "Dry run: would POST" in result.stdout
        assert "\nrequest<<" in result.outputs_path.read_text(encoding="utf-8")
        with capsys.disabled():
            print(f"\n[image size] linux/arm64: {int(image.attrs['Size']) / 1e6:.1f} MB unpacked")
    finally:
        docker_client.images.remove(image.id, force=True)


WORKFLOW = """\
name: Release rehearsal
on: workflow_dispatch
permissions: {}
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - id: release
        uses: USES
        with:
          api-token: ${{ secrets.NORTHFLANK_API_TOKEN }}
          project-id: shop
          pipeline-id: release-pipeline
          stage: production
          arguments: VERSION=v0.0.0-rehearsal
          wait: "true"
          poll-interval: 1s
          api-url: API_URL
      - id: after
        env:
          RUN_ID: ${{ steps.release.outputs.run-id }}
          STATUS: ${{ steps.release.outputs.status }}
        run: |
          test -n "$RUN_ID"
          echo "run-id=$RUN_ID" >> "$GITHUB_OUTPUT"
          echo "status=$STATUS" >> "$GITHUB_OUTPUT"
"""


def _release_commit(release: Release, tmp_path: Path) -> Path:
    """The release commit, made in a copy of the repository: one line of action.yml changes."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    original = (REPO / "action.yml").read_text(encoding="utf-8")
    (checkout / "action.yml").write_text(original, encoding="utf-8")
    pinned = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "pin_image.py"),
            "--",
            str(checkout / "action.yml"),
            release.reference,
            release.digest,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert pinned.returncode == 0, pinned.stderr
    rewritten = (checkout / "action.yml").read_text(encoding="utf-8")
    image_line = f"  image: docker://{release.reference}@{release.digest}"
    assert [b for a, b in zip(original.split("\n"), rewritten.split("\n"), strict=True) if a != b] == [image_line]
    schema = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-actions", str(checkout / "action.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr
    return checkout


def _forget_the_image(release: Release, docker_client: docker.DockerClient) -> None:
    """An empty image store for this image: act must pull it from the registry, not find it."""
    for image in docker_client.images.list(name=f"{release.registry}/{REPOSITORY}"):
        docker_client.images.remove(image.id, force=True)


def _no_registry_login(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """act (and the engine client in it) reads registry credentials from DOCKER_CONFIG: an empty one."""
    config = tmp_path / "docker-config"
    config.mkdir()
    (config / "config.json").write_text("{}", encoding="utf-8")
    monkeypatch.setenv("DOCKER_CONFIG", str(config))


@pytest.fixture
def release_checkout(
    release: Release, docker_client: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """The release commit's checkout, no copy of its image in the engine, and no registry login."""
    checkout = _release_commit(release, tmp_path)
    _forget_the_image(release, docker_client)
    _no_registry_login(monkeypatch, tmp_path)
    yield checkout
    _forget_the_image(release, docker_client)


def test_the_verify_jobs_step_pulls_the_pinned_image_anonymously_and_starts_it_under_act(
    release: Release,
    release_checkout: Path,
    docker_client: docker.DockerClient,
    standin: NorthflankStandin,
    tmp_path: Path,
) -> None:
    """What the release workflow's verify job does before v1 moves, here: its own `uses: ./` step and inputs."""
    step = rehearsal.verify_step(VERSION)
    step["uses"] = harness.LOCAL_ACTION_USES
    workflow = {
        "name": "Release verify rehearsal",
        "on": "workflow_dispatch",
        "permissions": {},
        "jobs": {"verify": {"runs-on": "ubuntu-latest", "steps": [step]}},
    }
    result = harness.run_act(
        json.dumps(workflow),
        "workflow_dispatch",
        tmp_path=tmp_path / "act",
        action_dir=release_checkout,
        action_image=None,
    )
    assert result.exit_code == 0, result.log[-4000:]
    assert result.step_result("verify", str(step["id"])) == "success"
    assert "Dry run: would POST" in result.log
    assert "docker build" not in result.log
    assert standin.requests_to("trigger", "POST") == []
    pulled = docker_client.images.get(f"{release.reference}@{release.digest}")
    assert f"{release.registry}/{REPOSITORY}@{release.digest}" in pulled.attrs["RepoDigests"]


def test_the_pinned_action_pulls_the_image_by_digest_and_releases_under_act(
    release: Release,
    release_checkout: Path,
    docker_client: docker.DockerClient,
    standin: NorthflankStandin,
    tmp_path: Path,
) -> None:
    workflow = WORKFLOW.replace("USES", harness.LOCAL_ACTION_USES).replace("API_URL", standin.url)
    result = harness.run_act(
        workflow,
        "workflow_dispatch",
        tmp_path=tmp_path / "act",
        secrets={"NORTHFLANK_API_TOKEN": API_TOKEN_DEFAULT},
        action_dir=release_checkout,
        action_image=None,
    )
    assert result.exit_code == 0, result.log[-4000:]
    assert result.step_result("deploy", "release") == "success"
    triggers = standin.requests_to("trigger", "POST")
    assert len(triggers) == 1
    assert "/release-flows/production/runs" in triggers[0].path
    body = triggers[0].body_json
    assert isinstance(body, dict)
    assert body["arguments"] == {"VERSION": "v0.0.0-rehearsal"}
    (run,) = standin.runs()
    run_id = run["id"]
    assert result.outputs("deploy", "release")["run-id"] == run_id
    assert result.outputs("deploy", "after") == {"run-id": run_id, "status": "success"}
    assert "docker build" not in result.log
    assert_token_absent(result, standin)
    # What ran is what the pin names: the engine now holds the image under the index digest.
    pulled = docker_client.images.get(f"{release.reference}@{release.digest}")
    assert f"{release.registry}/{REPOSITORY}@{release.digest}" in pulled.attrs["RepoDigests"]
    assert pulled.attrs["Architecture"] == "amd64"


def test_a_rewrite_with_a_digest_the_registry_does_not_hold_fails_the_step_under_act(
    release: Release, docker_client: docker.DockerClient, standin: NorthflankStandin, tmp_path: Path
) -> None:
    """The pin is the bytes: a wrong digest is not quietly replaced by whatever the tag points at."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "action.yml").write_text((REPO / "action.yml").read_text(encoding="utf-8"), encoding="utf-8")
    wrong = "sha256:" + ("0" * 64 if release.digest != "sha256:" + "0" * 64 else "1" * 64)
    subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "pin_image.py"),
            "--",
            str(checkout / "action.yml"),
            release.reference,
            wrong,
        ],
        check=True,
        capture_output=True,
    )
    workflow = WORKFLOW.replace("USES", harness.LOCAL_ACTION_USES).replace("API_URL", standin.url)
    result = harness.run_act(
        workflow,
        "workflow_dispatch",
        tmp_path=tmp_path / "act",
        secrets={"NORTHFLANK_API_TOKEN": API_TOKEN_DEFAULT},
        action_dir=checkout,
        action_image=None,
    )
    assert result.exit_code != 0
    # It failed at the pull: the registry does not know that manifest.
    assert "manifest unknown" in result.log, result.log[-3000:]
    assert result.step_result("deploy", "after") != "success"
    assert standin.requests_to("trigger", "POST") == []
