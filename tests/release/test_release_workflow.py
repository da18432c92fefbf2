"""The release workflow's own logic: its trigger, pins and platform list, and its shell steps run for real.

The steps that only talk to GitHub run here with a recording `gh` on PATH (GitHub's API cannot be
reached from a test); the rehearsal (tests/container/test_release_rehearsal.py) covers the image half
with a real registry, and scripts/test checks the file with GitHub's workflow schema and zizmor.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from testing.runner import REPO

WORKFLOW_PATH = REPO / ".github" / "workflows" / "release.yml"
WORKFLOW: dict[Any, Any] = yaml.safe_load(WORKFLOW_PATH.read_text(encoding="utf-8"))
MAIN_SHA = "a" * 40
DIGEST = "sha256:" + "b" * 64


def _step(job: str, name_start: str) -> dict[str, Any]:
    steps = [s for s in WORKFLOW["jobs"][job]["steps"] if str(s.get("name", "")).startswith(name_start)]
    assert len(steps) == 1, name_start
    step: dict[str, Any] = steps[0]
    return step


def _checkout(folder: Path) -> None:
    """What the jobs' checkout gives the steps run here: action.yml and the scripts they call."""
    (folder / "scripts").mkdir()
    for name in ("action.yml", "scripts/pin_image.py", "scripts/github_ref.py"):
        (folder / name).write_bytes((REPO / name).read_bytes())


def _fake_gh(folder: Path, answers: str) -> Path:
    """A `gh` that logs each call's arguments and stdin, and answers by a case on its arguments."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(
        "#!/bin/bash\n"
        f'log="{folder}/gh.log"\n'
        'printf "%s\\n" "ARGS $*" >> "$log"\n'
        'if [[ " $* " == *" --input - "* ]]; then printf "STDIN %s\\n" "$(cat)" >> "$log"; fi\n'
        f"{answers}\n",
        encoding="utf-8",
    )
    gh.chmod(0o755)
    return bin_dir


def _run_step(
    step: dict[str, Any], folder: Path, env: dict[str, str], bin_dir: Path
) -> subprocess.CompletedProcess[str]:
    output = folder / "output"
    output.touch()
    summary = folder / "summary"
    summary.touch()
    environment = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_REPOSITORY": "Northflank-Release/Action",
        "GITHUB_SHA": MAIN_SHA,
        **env,
    }
    return subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=folder, env=environment, capture_output=True, text=True, check=False
    )


def _outputs(folder: Path) -> dict[str, str]:
    lines = (folder / "output").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines)


def test_the_release_is_dispatched_by_hand_with_a_version_not_by_a_pushed_tag() -> None:
    triggers = WORKFLOW[True]  # YAML 1.1 reads the key `on` as true
    assert set(triggers) == {"workflow_dispatch"}
    assert triggers["workflow_dispatch"]["inputs"]["version"]["required"] is True
    assert WORKFLOW["permissions"] == {}
    assert WORKFLOW["concurrency"]["cancel-in-progress"] is False


def test_every_action_is_pinned_by_full_commit_sha_with_its_release_named() -> None:
    text = WORKFLOW_PATH.read_text(encoding="utf-8")
    uses = re.findall(r"^\s*(?:- )?uses: (\S+)(.*)$", text, re.MULTILINE)
    assert uses
    for ref, comment in uses:
        if ref == "./":  # the verify job runs the release commit it checked out
            continue
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), ref
        assert re.fullmatch(r" # v\d+\.\d+\.\d+", comment), (ref, comment)


def test_the_build_makes_amd64_and_arm64_with_sbom_and_the_attestation_names_the_index() -> None:
    assert WORKFLOW["env"]["PLATFORMS"] == "linux/amd64,linux/arm64"
    build = _step("image", "Build and push")
    assert build["with"]["platforms"] == "${{ env.PLATFORMS }}"
    assert build["with"]["sbom"] is True
    attest = _step("image", "Attest")
    assert attest["uses"].startswith("actions/attest-build-provenance@")
    assert attest["with"]["subject-digest"] == "${{ steps.index.outputs.digest }}"
    assert attest["with"]["push-to-registry"] is True
    assert "scripts/image_index.py" in _step("image", "Read the multi-arch index digest")["run"]


# What `gh api --include` prints first for a tag that does not, or does, exist.
_NO_SUCH_TAG = 'echo "HTTP/2.0 404 Not Found"; echo "{\\"message\\":\\"Not Found\\"}"; exit 1'
_TAG_EXISTS = 'echo "HTTP/2.0 200 OK"; echo "{}"'


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.2.3", {"version": "v1.2.3", "major": "v1", "prerelease": "false"}),
        ("v2.0.0-rc.1", {"version": "v2.0.0-rc.1", "major": "v2", "prerelease": "true"}),
        ("0.10.0", {"version": "v0.10.0", "major": "v0", "prerelease": "false"}),
        ("1.2.3-0.a-b.x1", {"version": "v1.2.3-0.a-b.x1", "major": "v1", "prerelease": "true"}),
    ],
)
def test_a_good_version_on_main_gives_the_tags_and_the_lower_case_image(
    tmp_path: Path, version: str, expected: dict[str, str]
) -> None:
    bin_dir = _fake_gh(tmp_path, _NO_SUCH_TAG)
    result = _run_step(
        _step("preflight", "Check the version"),
        tmp_path,
        {"VERSION": version, "GITHUB_REF": "refs/heads/main"},
        bin_dir,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert _outputs(tmp_path) == {**expected, "image": "ghcr.io/northflank-release/action"}


@pytest.mark.parametrize(
    ("version", "ref", "tag_exists", "says"),
    [
        ("1.2", "refs/heads/main", False, "Not a version"),
        ("01.2.3", "refs/heads/main", False, "Not a version"),
        ("1.2.3; rm -rf /", "refs/heads/main", False, "Not a version"),
        ("1.2.3\n", "refs/heads/main", False, "Not a version"),
        # SemVer prerelease grammar: no empty identifier, no leading zero; and git refuses ".lock".
        ("1.2.3-rc.", "refs/heads/main", False, "Not a version"),
        ("1.2.3-a..b", "refs/heads/main", False, "Not a version"),
        ("1.2.3-x.lock", "refs/heads/main", False, "Not a version"),
        ("1.2.3-01", "refs/heads/main", False, "Not a version"),
        ("1.2.3-", "refs/heads/main", False, "Not a version"),
        ("1.2.3+build", "refs/heads/main", False, "Not a version"),
        ("1.2.3", "refs/heads/feature", False, "Not main"),
        ("1.2.3", "refs/tags/v1.2.3", False, "Not main"),
        ("1.2.3", "refs/heads/main", True, "Already released"),
    ],
)
def test_a_bad_version_another_branch_or_a_released_version_stops_the_release(
    tmp_path: Path, version: str, ref: str, tag_exists: bool, says: str
) -> None:
    bin_dir = _fake_gh(tmp_path, _TAG_EXISTS if tag_exists else _NO_SUCH_TAG)
    result = _run_step(
        _step("preflight", "Check the version"), tmp_path, {"VERSION": version, "GITHUB_REF": ref}, bin_dir
    )
    assert result.returncode != 0
    assert f"::error title={says}::" in result.stdout
    assert (tmp_path / "output").read_text(encoding="utf-8") == ""


@pytest.mark.parametrize(
    "answer",
    [
        'echo "HTTP/2.0 502 Bad Gateway"; echo "gh: Server Error (HTTP 502)" >&2; exit 1',
        'echo "HTTP/2.0 401 Unauthorized"; echo "gh: Bad credentials (HTTP 401)" >&2; exit 1',
        'echo "error connecting to api.github.com" >&2; exit 1',
        'echo "HTTP/2.0 403 Forbidden"; exit 1',
    ],
    ids=["502", "401", "no answer", "403"],
)
def test_only_a_404_means_not_released_any_other_answer_stops_the_release(tmp_path: Path, answer: str) -> None:
    bin_dir = _fake_gh(tmp_path, answer)
    result = _run_step(
        _step("preflight", "Check the version"),
        tmp_path,
        {"VERSION": "1.2.3", "GITHUB_REF": "refs/heads/main"},
        bin_dir,
    )
    assert result.returncode != 0
    assert "::error title=Cannot check the tag::" in result.stdout
    assert (tmp_path / "output").read_text(encoding="utf-8") == ""


def test_a_version_cannot_forge_a_workflow_command(tmp_path: Path) -> None:
    bin_dir = _fake_gh(tmp_path, _NO_SUCH_TAG)
    version = "1.2.3%0A\n::warning::forged\r::error::x"
    result = _run_step(
        _step("preflight", "Check the version"),
        tmp_path,
        {"VERSION": version, "GITHUB_REF": "refs/heads/main"},
        bin_dir,
    )
    assert result.returncode != 0
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("::error title=Not a version::1.2.3%250A%0A::warning::forged%0D::error::x ")


def test_the_pin_step_has_pyyaml_from_the_pinned_requirements_and_only_it_runs_that_python() -> None:
    steps = [s.get("name", "") for s in WORKFLOW["jobs"]["pin"]["steps"]]
    install = _step("pin", "Install the pin program")
    pin = _step("pin", "Pin action.yml's image")
    assert steps.index(install["name"]) < steps.index(pin["name"])
    assert "--require-hashes" in install["run"]
    assert "--only-binary=:all: -r requirements.txt" in install["run"]
    assert '"${RUNNER_TEMP}/pin-venv/bin/python" scripts/pin_image.py' in pin["run"]
    # Nothing puts the venv on PATH for the steps after it (the one holding the App's token among them).
    assert "GITHUB_PATH" not in install["run"] + pin["run"]
    assert re.search(r"^pyyaml==", (REPO / "requirements.txt").read_text(encoding="utf-8"), re.MULTILINE)


def _fake_curl(folder: Path, token_answer: str, head_status: str) -> Path:
    """A `curl` that logs its arguments and answers the token endpoint and the manifest HEAD."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    curl = bin_dir / "curl"
    curl.write_text(
        "#!/bin/bash\n"
        f'printf "%s\\n" "ARGS $*" >> "{folder}/curl.log"\n'
        'case "$*" in\n'
        f"  *\\?scope=*) {token_answer} ;;\n"
        f"  *--head*/manifests/*) printf %s {head_status} ;;\n"
        "  *) exit 6 ;;\n"
        "esac\n",
        encoding="utf-8",
    )
    curl.chmod(0o755)
    return bin_dir


_IMAGE_ENV = {"IMAGE": "ghcr.io/northflank-release/action", "DIGEST": DIGEST, "GITHUB_TOKEN": "ghs_secret"}


def test_an_image_anyone_can_pull_passes_and_is_asked_for_anonymously(tmp_path: Path) -> None:
    bin_dir = _fake_curl(tmp_path, """echo '{"token":"anon-token"}'""", "200")
    result = _run_step(_step("public", "Check that anyone can pull"), tmp_path, _IMAGE_ENV, bin_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    calls = (tmp_path / "curl.log").read_text(encoding="utf-8").splitlines()
    assert len(calls) == 2
    assert "https://ghcr.io/token?scope=repository:northflank-release/action:pull&service=ghcr.io" in calls[0]
    assert "Authorization: Bearer anon-token" in calls[1]
    assert f"https://ghcr.io/v2/northflank-release/action/manifests/{DIGEST}" in calls[1]
    assert all("ghs_secret" not in call and " -u " not in call for call in calls)


@pytest.mark.parametrize(
    ("token_answer", "head_status"),
    [
        ("""echo '{"token":"anon-token"}'""", "401"),  # GHCR's answer for a private package
        ("""echo '{"token":"anon-token"}'""", "404"),
        ("echo 'curl: (22) The requested URL returned error: 401' >&2; exit 22", "200"),
        ("echo '<html>'", "200"),
    ],
)
def test_an_image_an_anonymous_client_cannot_pull_stops_the_release_before_the_tag(
    tmp_path: Path, token_answer: str, head_status: str
) -> None:
    bin_dir = _fake_curl(tmp_path, token_answer, head_status)
    result = _run_step(_step("public", "Check that anyone can pull"), tmp_path, _IMAGE_ENV, bin_dir)
    assert result.returncode != 0
    assert "::error title=Image not public::" in result.stdout
    assert "RELEASING.md" in result.stdout
    assert "re-run the failed jobs" in result.stdout
    assert "public" in WORKFLOW["jobs"]["release-commit"]["needs"]  # the tag comes after the check


def test_the_release_commit_is_mains_commit_with_the_pinned_action_yml_and_gets_the_tag(tmp_path: Path) -> None:
    _checkout(tmp_path)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "action.yml"], cwd=tmp_path, check=True)
    env = {
        "IMAGE": "ghcr.io/northflank-release/action",
        "VERSION": "v1.2.3",
        "DIGEST": DIGEST,
        "GH_TOKEN": "test",
    }
    # The step before it makes a venv with PyYAML; this venv's Python stands in for it.
    venv = tmp_path / "temp" / "pin-venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").symlink_to(sys.executable)
    fake = _fake_gh(tmp_path, "exit 99")
    pin = _run_step(_step("pin", "Pin action.yml"), tmp_path, {**env, "RUNNER_TEMP": str(venv.parents[1])}, fake)
    assert pin.returncode == 0, pin.stdout + pin.stderr
    assert f"+  image: docker://ghcr.io/northflank-release/action:v1.2.3@{DIGEST}" in pin.stdout
    pinned = _outputs(tmp_path)["action-yml"]
    (tmp_path / "output").write_text("", encoding="utf-8")

    # The release-commit job checks out main again and takes the pin job's action.yml.
    subprocess.run(["git", "checkout", "-q", "action.yml"], cwd=tmp_path, check=True)
    took = _run_step(_step("release-commit", "Take the pinned action.yml"), tmp_path, {**env, "PINNED": pinned}, fake)
    assert took.returncode == 0, took.stdout + took.stderr
    assert f"+  image: docker://ghcr.io/northflank-release/action:v1.2.3@{DIGEST}" in took.stdout

    answers = (
        'case "$*" in\n'
        "  *git/blobs*) echo blob-sha ;;\n"
        f"  *git/commits/{MAIN_SHA}*) echo main-tree-sha ;;\n"
        "  *git/trees*) echo new-tree-sha ;;\n"
        "  *git/commits*) echo release-commit-sha ;;\n"
        '  *git/refs*) echo "{}" ;;\n'
        "  *) exit 3 ;;\n"
        "esac"
    )
    (tmp_path / "bin").rename(tmp_path / "bin-pin")
    commit = _run_step(_step("release-commit", "Commit and tag"), tmp_path, env, _fake_gh(tmp_path, answers))
    assert commit.returncode == 0, commit.stdout + commit.stderr
    log = (tmp_path / "gh.log").read_text(encoding="utf-8").splitlines()
    calls = [line for line in log if line.startswith("ARGS ")]
    stdins = [json.loads(line[len("STDIN ") :]) for line in log if line.startswith("STDIN ")]
    assert "repos/Northflank-Release/Action/git/blobs" in calls[0]
    assert stdins[0] == {
        "base_tree": "main-tree-sha",
        "tree": [{"path": "action.yml", "mode": "100644", "type": "blob", "sha": "blob-sha"}],
    }
    assert stdins[1]["tree"] == "new-tree-sha"
    assert stdins[1]["parents"] == [MAIN_SHA]
    assert DIGEST in stdins[1]["message"]
    assert calls[-1] == (
        "ARGS api --include --method POST repos/Northflank-Release/Action/git/refs"
        " -f ref=refs/tags/v1.2.3 -f sha=release-commit-sha"
    )
    assert _outputs(tmp_path) == {"commit": "release-commit-sha"}


@pytest.mark.parametrize(
    ("tags", "moves"),
    [
        (["v1.2.3"], True),
        (["v1.0.0", "v1.2.3", "v1.10.0-rc.1"], True),  # a prerelease is never "newer"
        (["v1.2.3", "v1.10.0"], False),  # 1.10 is newer than 1.2 (version order, not text order)
    ],
)
def test_the_major_tag_moves_only_forward(tmp_path: Path, tags: list[str], moves: bool) -> None:
    listing = " ".join(f"refs/tags/{tag}" for tag in tags)
    bin_dir = _fake_gh(tmp_path, f'for t in {listing}; do echo "$t"; done')
    result = _run_step(
        _step("major-tag", "Is this the newest"), tmp_path, {"MAJOR": "v1", "VERSION": "v1.2.3"}, bin_dir
    )
    assert result.returncode == 0, result.stderr
    assert _outputs(tmp_path) == {"move": "true" if moves else "false"}


def _entry(os_: str, arch: str) -> dict[str, Any]:
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": DIGEST, "size": 1,
            "platform": {"os": os_, "architecture": arch}}  # fmt: skip


OCI_INDEX = "application/vnd.oci.image.index.v1+json"
AMD64 = _entry("linux", "amd64")


@pytest.mark.parametrize(
    ("manifest", "ok", "says"),
    [
        ({"mediaType": OCI_INDEX, "manifests": [_entry("linux", "amd64"), _entry("linux", "arm64")]}, True, ""),
        # BuildKit's SBOM and provenance ride along as unknown/unknown entries.
        (
            {
                "mediaType": OCI_INDEX,
                "manifests": [_entry("linux", "amd64"), _entry("linux", "arm64"), _entry("unknown", "unknown")],
            },
            True,
            "",
        ),
        ({"mediaType": OCI_INDEX, "manifests": [_entry("linux", "amd64")]}, False, "missing ['linux/arm64']"),
        ({"mediaType": "application/vnd.oci.image.manifest.v1+json", "layers": []}, False, "not a multi-arch index"),
        ({"mediaType": OCI_INDEX, "manifests": "nope"}, False, "missing"),
        (
            {"mediaType": OCI_INDEX, "manifests": [{"platform": "linux/arm64"}, _entry("linux", "amd64")]},
            False,
            "missing",
        ),
        ([], False, "not a JSON object"),
        ("<html>sign in</html>", False, "not JSON"),
    ],
)
def test_only_an_index_listing_every_released_platform_passes(manifest: Any, ok: bool, says: str) -> None:
    raw = manifest if isinstance(manifest, str) else json.dumps(manifest)
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "image_index.py"), WORKFLOW["env"]["PLATFORMS"]],
        input=raw,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode == 0) == ok, result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr


_TAG_ANSWERS = (
    'case "$*" in\n'
    "  *git/blobs*) echo blob-sha ;;\n"
    f"  *git/commits/{MAIN_SHA}*) echo main-tree-sha ;;\n"
    "  *git/commits/earlier-sha*) echo EARLIER ;;\n"
    "  *git/trees*) echo new-tree-sha ;;\n"
    "  *git/commits*) echo release-commit-sha ;;\n"
    '  *git/refs*) echo "gh: Reference already exists (HTTP 422)" >&2; exit 1 ;;\n'
    "  *git/ref/tags/v1.2.3*) echo 'commit earlier-sha' ;;\n"
    "  *) exit 3 ;;\n"
    "esac"
)


@pytest.mark.parametrize(
    ("earlier", "accepted"),
    [
        (f"new-tree-sha {MAIN_SHA}", True),  # the earlier attempt's release commit: same tree, same parent
        (f"other-tree-sha {MAIN_SHA}", False),
        ("new-tree-sha " + "c" * 40, False),
        (f"new-tree-sha {MAIN_SHA},{'c' * 40}", False),
    ],
)
def test_a_rerun_accepts_the_tag_of_its_own_earlier_release_commit_and_nothing_else(
    tmp_path: Path, earlier: str, accepted: bool
) -> None:
    _checkout(tmp_path)
    (tmp_path / "action.yml").write_text("pinned\n", encoding="utf-8")
    env = {"VERSION": "v1.2.3", "DIGEST": DIGEST, "GH_TOKEN": "test"}
    bin_dir = _fake_gh(tmp_path, _TAG_ANSWERS.replace("EARLIER", earlier))
    result = _run_step(_step("release-commit", "Commit and tag"), tmp_path, env, bin_dir)
    if accepted:
        assert result.returncode == 0, result.stdout + result.stderr
        assert _outputs(tmp_path) == {"commit": "earlier-sha"}
        assert "::notice title=Tag already made::" in result.stdout
        assert "earlier-sha" in (tmp_path / "summary").read_text(encoding="utf-8")
    else:
        assert result.returncode != 0
        assert "::error title=Tag exists::" in result.stdout
        assert (tmp_path / "output").read_text(encoding="utf-8") == ""


def _index_check(platforms: str, manifest: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "image_index.py"), platforms],
        input=json.dumps(manifest),
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("platforms", ["", " , ", ","])
def test_an_empty_platform_list_is_refused_not_vacuously_passed(platforms: str) -> None:
    result = _index_check(platforms, {"mediaType": OCI_INDEX, "manifests": [AMD64]})
    assert result.returncode == 1
    assert "platform list is empty" in result.stderr


def test_arm64_v8_is_arm64_on_either_side() -> None:
    arm64_v8 = {**_entry("linux", "arm64"), "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}
    with_variant = {"mediaType": OCI_INDEX, "manifests": [AMD64, arm64_v8]}
    without = {"mediaType": OCI_INDEX, "manifests": [AMD64, _entry("linux", "arm64")]}
    assert _index_check("linux/amd64,linux/arm64", with_variant).returncode == 0
    assert _index_check("linux/amd64,linux/arm64/v8", without).returncode == 0
    assert _index_check("linux/amd64,linux/arm64/v8", with_variant).returncode == 0


def _gh_verify_accepts(flags: list[str], san: str) -> bool:
    """Whether `gh attestation verify` with ``flags`` accepts a certificate whose subject is ``san``.

    cli/cli pkg/cmd/attestation/verify/policy.go, buildSANMatcher: --cert-identity must equal the subject;
    --cert-identity-regex is searched for; --signer-workflow W becomes the regex ``^https://`` + W (the
    host github.com put in front when W has none), a prefix match; --signer-repo R becomes
    ``(?i)^https://github.com/R/``. With none of them, the subject is not checked.
    """
    options = dict(zip(flags[::2], flags[1::2], strict=False))
    if "--cert-identity" in options:
        return san == options["--cert-identity"]
    if "--cert-identity-regex" in options:
        return re.search(options["--cert-identity-regex"], san) is not None
    if "--signer-workflow" in options:
        workflow = options["--signer-workflow"]
        if not re.match(r"^[a-zA-Z0-9-]+\.[a-zA-Z0-9-]+.*$", workflow):
            workflow = f"github.com/{workflow}"
        return re.search(f"^https://{workflow}", san) is not None
    if "--signer-repo" in options:
        return re.search(f"(?i)^https://github.com/{options['--signer-repo']}/", san) is not None
    return True


def _documented_verify_commands() -> list[tuple[str, list[str]]]:
    commands = []
    for name in ("README.md", "RELEASING.md"):
        text = (REPO / name).read_text(encoding="utf-8").replace("\\\n", " ")
        for line in text.splitlines():
            if line.strip().startswith("gh attestation verify"):
                commands.append((name, shlex.split(line)[4:]))
    return commands


def test_the_documented_provenance_check_accepts_only_release_yml_run_from_main() -> None:
    commands = _documented_verify_commands()
    assert {name for name, _ in commands} == {"README.md", "RELEASING.md"}
    for name, flags in commands:
        repo = dict(zip(flags[::2], flags[1::2], strict=False))["--repo"]
        workflow = f"https://github.com/{repo}/.github/workflows/release.yml"
        assert _gh_verify_accepts(flags, f"{workflow}@refs/heads/main"), name
        for other in ("refs/heads/feature", "refs/heads/main-old", "refs/tags/v1.2.3", "refs/pull/7/merge"):
            assert not _gh_verify_accepts(flags, f"{workflow}@{other}"), (name, other)


def test_a_signer_workflow_without_a_ref_would_accept_any_branch() -> None:
    """The check above can fail: the command the README gave before accepts a feature branch's attestation."""
    before = ["--repo", "o/r", "--signer-workflow", "o/r/.github/workflows/release.yml"]
    assert _gh_verify_accepts(before, "https://github.com/o/r/.github/workflows/release.yml@refs/heads/feature")


# The workflow as it was before issue 27 (a verbatim copy), which the checks below must catch.
BEFORE_27: dict[Any, Any] = yaml.safe_load(
    (REPO / "tests" / "release" / "fixtures" / "release-before-issue-27.yml").read_text(encoding="utf-8")
)


def _step_of(workflow: dict[Any, Any], job: str, name_start: str) -> dict[str, Any]:
    (step,) = [s for s in workflow["jobs"][job]["steps"] if str(s.get("name", "")).startswith(name_start)]
    return dict(step)


@pytest.mark.parametrize("answer", ['echo "gh: Server Error (HTTP 502)" >&2; exit 1', "sleep 0; exit 1"])
def test_a_failing_tag_listing_fails_the_newest_version_step_and_writes_no_move(tmp_path: Path, answer: str) -> None:
    for workflow, folder in ((BEFORE_27, tmp_path / "before"), (WORKFLOW, tmp_path / "now")):
        folder.mkdir()
        env = {"MAJOR": "v1", "VERSION": "v1.1.1"}
        result = _run_step(_step_of(workflow, "major-tag", "Is this the newest"), folder, env, _fake_gh(folder, answer))
        if workflow is BEFORE_27:  # -e does not reach into $(...): only this version was listed, so "newest"
            assert (result.returncode, _outputs(folder)) == (0, {"move": "true"})
            continue
        assert result.returncode != 0
        assert "::error title=Cannot list the tags::" in result.stdout
        assert (folder / "output").read_text(encoding="utf-8") == ""


# Each job's GITHUB_TOKEN permissions, the least it needs. The image job's artifact-metadata: actions/attest
# v3.2.0 (run by attest-build-provenance v3.2.0) creates a storage record after pushing the attestation to
# the registry, by default (create-storage-record: true), for an organisation's repository; src/attest.ts,
# createAttestation: "creating a storage record requires the 'artifact-metadata:write' permission".
JOB_PERMISSIONS = {
    "preflight": {"contents": "read"},
    "image": {
        "contents": "read",
        "packages": "write",
        "id-token": "write",
        "attestations": "write",
        "artifact-metadata": "write",
    },
    "public": {},
    "pin": {"contents": "read"},
    "release-commit": {"contents": "read"},
    "verify": {"contents": "read", "attestations": "read"},
    "major-tag": {"contents": "read", "packages": "write"},
}


def _storage_record_without_permission(workflow: dict[Any, Any]) -> list[str]:
    """Jobs whose attest step pushes to the registry (so makes a storage record) without artifact-metadata."""
    missing = []
    for name, job in workflow["jobs"].items():
        for step in job["steps"]:
            if not str(step.get("uses", "")).startswith(("actions/attest-build-provenance@", "actions/attest@")):
                continue
            options = step.get("with", {})
            records = options.get("push-to-registry") is True and options.get("create-storage-record", True) is True
            if records and job.get("permissions", {}).get("artifact-metadata") != "write":
                missing.append(name)
    return missing


def test_each_job_has_exactly_the_permissions_it_needs() -> None:
    assert WORKFLOW["permissions"] == {}
    assert {name: job["permissions"] for name, job in WORKFLOW["jobs"].items()} == JOB_PERMISSIONS
    assert _storage_record_without_permission(WORKFLOW) == []
    assert _storage_record_without_permission(BEFORE_27) == ["image"]


def _third_party_jobs(workflow: dict[Any, Any]) -> dict[str, bool]:
    """Each job that installs packages, and whether it also holds the App's token or the environment's secrets."""
    found = {}
    for name, job in workflow["jobs"].items():
        if any(re.search(r'\bpip3?"? +install\b', str(step.get("run", ""))) for step in job["steps"]):
            minted = any("create-github-app-token" in str(step.get("uses", "")) for step in job["steps"])
            found[name] = minted or "environment" in job
    return found


def test_packages_are_installed_from_wheels_in_a_job_without_the_app_token_or_the_environment() -> None:
    assert _third_party_jobs(WORKFLOW) == {"pin": False}
    assert _third_party_jobs(BEFORE_27) == {"release-commit": True}
    install = _step("pin", "Install the pin program")
    assert "--only-binary=:all:" in install["run"]
    assert "--only-binary" not in _step_of(BEFORE_27, "release-commit", "Install the pin program")["run"]
    # The pinned action.yml reaches the token's job as the pin job's output, checked again there.
    assert WORKFLOW["jobs"]["pin"]["outputs"] == {"action-yml": "${{ steps.pin.outputs.action-yml }}"}
    take = _step("release-commit", "Take the pinned action.yml")
    assert take["env"]["PINNED"] == "${{ needs.pin.outputs.action-yml }}"
    assert "pin" in WORKFLOW["jobs"]["release-commit"]["needs"]


def _readme_command() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8").replace("\\\n", " ")
    (line,) = [line for line in text.splitlines() if line.startswith("gh attestation verify oci:")]
    return shlex.split(line.replace("sha256:<digest>", DIGEST))


def test_the_verify_job_runs_readmes_provenance_command_word_for_word_on_the_new_digest(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_bytes((REPO / "README.md").read_bytes())
    step = _step("verify", "Check the image's provenance")
    env = {"IMAGE": "ghcr.io/northflank-release/action", "DIGEST": DIGEST, "GH_TOKEN": "ghs_job"}
    result = _run_step(step, tmp_path, env, _fake_gh(tmp_path, "echo verified"))
    assert result.returncode == 0, result.stdout + result.stderr
    (call,) = (tmp_path / "gh.log").read_text(encoding="utf-8").splitlines()
    assert ["gh", *shlex.split(call.removeprefix("ARGS "))] == _readme_command()
    assert _readme_command()[-2:] == [
        "--cert-identity", "https://github.com/northflank-release/action/.github/workflows/release.yml@refs/heads/main"
    ]  # fmt: skip
    assert step["if"] == "matrix.runner == 'ubuntu-24.04'"  # gh is on the amd64 image; one leg is enough
    assert not [s for s in BEFORE_27["jobs"]["verify"]["steps"] if "attestation verify" in str(s.get("run", ""))]


@pytest.mark.parametrize(
    ("readme", "says"),
    [
        ("no command at all\n", "No provenance command in README.md"),
        (
            "gh attestation verify oci://ghcr.io/someone/else@sha256:<digest> \\\n  --repo someone/else \\\n"
            "  --cert-identity https://github.com/someone/else/.github/workflows/release.yml@refs/heads/main\n",
            "No provenance command in README.md",
        ),
        (
            "gh attestation verify oci://ghcr.io/northflank-release/action@sha256:<digest> \\\n"
            "  --repo northflank-release/action\n",
            "No provenance command in README.md",
        ),
    ],
    ids=["none", "another image", "no --cert-identity"],
)
def test_the_verify_job_refuses_a_readme_without_the_command_for_this_image(
    tmp_path: Path, readme: str, says: str
) -> None:
    (tmp_path / "README.md").write_text(readme, encoding="utf-8")
    env = {"IMAGE": "ghcr.io/northflank-release/action", "DIGEST": DIGEST, "GH_TOKEN": "ghs_job"}
    result = _run_step(_step("verify", "Check the image's provenance"), tmp_path, env, _fake_gh(tmp_path, "exit 0"))
    assert result.returncode != 0
    assert f"::error title={says}::" in result.stdout
    assert not (tmp_path / "gh.log").exists()


def test_zizmors_self_repository_suggestion_is_ignored_at_the_verify_step_with_its_reason() -> None:
    lines = WORKFLOW_PATH.read_text(encoding="utf-8").splitlines()
    (line,) = [line for line in lines if line.strip().startswith("uses: ./")]
    # zizmor reads `# zizmor: ignore[audit]` as a YAML comment on the finding's line; text after it is free.
    assert re.fullmatch(r"\s+uses: \./ # zizmor: ignore\[self-repository\] \S.*", line), line
    assert "release commit" in line


def test_releasing_md_says_a_newer_dispatch_cancels_the_pending_one() -> None:
    text = " ".join((REPO / "RELEASING.md").read_text(encoding="utf-8").split())
    assert "cancel-in-progress: false" in text
    assert "pending" in text
    assert "cancels" in text
