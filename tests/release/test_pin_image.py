"""The release rewrite of action.yml: one value changes, everything else stays, and bad input is refused."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from testing.runner import REPO

SCRIPT = REPO / "scripts" / "pin_image.py"
DIGEST = "sha256:" + "0123456789abcdef" * 4
IMAGE = "ghcr.io/northflank-release/action:v1.2.3"
# The venv's own, so the test needs no PATH set-up.
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pin_image", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["pin_image"] = module
    spec.loader.exec_module(module)
    return module


pin_image = _load()


def _cli(action: Path, image: str, digest: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"} | env
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--", str(action), image, digest],
        capture_output=True,
        text=True,
        check=False,
        env=environment,
    )


def _load_yaml(text: str) -> Any:
    return yaml.safe_load(text)


def test_the_real_action_yml_changes_in_one_line_and_still_passes_githubs_action_schema(tmp_path: Path) -> None:
    action = tmp_path / "action.yml"
    shutil.copyfile(REPO / "action.yml", action)
    before = action.read_text(encoding="utf-8")

    result = _cli(action, IMAGE, DIGEST)

    assert result.returncode == 0, result.stderr
    after = action.read_text(encoding="utf-8")
    changed = [(a, b) for a, b in zip(before.split("\n"), after.split("\n"), strict=True) if a != b]
    assert changed == [("  image: Dockerfile", f"  image: docker://{IMAGE}@{DIGEST}")]
    old, new = _load_yaml(before), _load_yaml(after)
    assert new["runs"].pop("image") == f"docker://{IMAGE}@{DIGEST}"
    old["runs"].pop("image")
    assert new == old
    check = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-actions", str(action)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "image: Dockerfile" in result.stdout
    assert f"docker://{IMAGE}@{DIGEST}" in result.stdout


def test_comments_quoting_blank_lines_and_key_order_survive() -> None:
    text = (
        "# header comment\n"
        "name: x\n"
        "description: y\n"
        "runs:   # the runtime\n"
        "\n"
        "  # which image\n"
        '  using: "docker"\n'
        "  image: 'Dockerfile'   # built on main\n"
        "  env:\n"
        "    image: not-this-one\n"
        "  args: [a, b]\n"
        "outputs: {}\n"
    )
    pinned = pin_image.pin(text, f"docker://{IMAGE}@{DIGEST}")
    assert pinned.text == text.replace("'Dockerfile'", f"'docker://{IMAGE}@{DIGEST}'")
    assert pinned.line_number == 8
    assert _load_yaml(pinned.text)["runs"]["image"] == f"docker://{IMAGE}@{DIGEST}"
    assert _load_yaml(pinned.text)["runs"]["env"]["image"] == "not-this-one"


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:" + "0123456789ABCDEF" * 4,  # upper case is not the canonical form
        "sha256:" + "a" * 63,
        "sha256:" + "a" * 65,
        "sha256:" + "a" * 64 + "\n",
        " sha256:" + "a" * 64,
        "sha512:" + "a" * 128,
        "sha256-" + "a" * 64,
        "SHA256:" + "a" * 64,
        "a" * 64,
        "sha256:" + "g" * 64,
        "sha256:" + "\u0661" * 64,  # Arabic-Indic digits are digits to str.isdigit
        "sha256:" + "a" * 64 + "\u200b",  # zero-width space (NUL cannot be in argv; the property test covers it)
        "sha256:" + "a" * 64 + " # comment",
        "sha256:" + "a" * 32 + "\n  env: {}\n" + "a" * 20,
        "",
    ],
)
def test_anything_but_sha256_and_64_lowercase_hex_is_refused_and_nothing_is_written(
    tmp_path: Path, digest: str
) -> None:
    action = tmp_path / "action.yml"
    shutil.copyfile(REPO / "action.yml", action)
    before = action.read_bytes()

    result = _cli(action, IMAGE, digest)

    assert result.returncode == 1
    assert "digest" in result.stderr
    assert "Traceback" not in result.stderr
    assert action.read_bytes() == before


@pytest.mark.parametrize(
    ("image", "says"),
    [
        ("docker://ghcr.io/o/r:v1.2.3", "scheme"),
        (f"ghcr.io/o/r:v1.2.3@{DIGEST}", "already has a digest"),
        ("ghcr.io/o/r", "REGISTRY/PATH:TAG"),  # a tag is required: it names the release in the pin
        ("o/r:v1.2.3", "REGISTRY/PATH:TAG"),  # no registry host: Docker Hub by accident
        ("ghcr.io/Owner/Repo:v1.2.3", "REGISTRY/PATH:TAG"),
        ("ghcr.io/o//r:v1.2.3", "REGISTRY/PATH:TAG"),
        ("ghcr.io/o/../r:v1.2.3", "REGISTRY/PATH:TAG"),
        ("ghcr.io/o/r:-v1", "REGISTRY/PATH:TAG"),
        ("ghcr.io/o/r:" + "v" * 129, "REGISTRY/PATH:TAG"),
        ("ghcr.io/o/r:v1 # x", "REGISTRY/PATH:TAG"),
        ("ghcr.io/o/r:v1\n  using: node20", "REGISTRY/PATH:TAG"),
        ("ghcr.io/o/r:v1'", "REGISTRY/PATH:TAG"),
        ('ghcr.io/o/r:v1"', "REGISTRY/PATH:TAG"),
        ("-ghcr.io/o/r:v1", "REGISTRY/PATH:TAG"),
        ("ghcr.io:99999999/o/r:v1", "REGISTRY/PATH:TAG"),
        ("ghcr.io/" + "a/" * 130 + "r:v1", "characters long"),
        ("", "REGISTRY/PATH:TAG"),
    ],
)
def test_an_insane_image_reference_is_refused(tmp_path: Path, image: str, says: str) -> None:
    action = tmp_path / "action.yml"
    shutil.copyfile(REPO / "action.yml", action)
    before = action.read_bytes()

    result = _cli(action, image, DIGEST)

    assert result.returncode == 1
    assert says in result.stderr
    assert action.read_bytes() == before


@pytest.mark.parametrize(
    "image",
    ["ghcr.io/o/r:v1.2.3", "127.0.0.1:5000/northflank-release-action:v0.0.0-rehearsal", "localhost/a_b/c-d:latest"],
)
def test_sane_references_are_accepted(image: str) -> None:
    assert pin_image.image_reference(image, DIGEST) == f"docker://{image}@{DIGEST}"


_GOOD_HEAD = "name: x\ndescription: y\n"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("runs: {using: docker, image: Dockerfile}\n", "block mapping"),
        ("runs: *anchor\n", "block mapping"),
        ("runs:\n  using: docker\n  image: |\n    Dockerfile\n", "plain or quoted"),
        ("runs:\n  using: docker\n  image: &a Dockerfile\n", "plain or quoted"),
        ("runs:\n  using: docker\n  image: *a\n", "plain or quoted"),
        ("runs:\n  using: docker\n  image: !!str Dockerfile\n", "plain or quoted"),
        ("runs:\n  using: docker\n  image:\n    Dockerfile\n", "plain or quoted"),
        ("runs:\n  using: docker\n  image: Dockerfile\n  image: Dockerfile\n", "more than once"),
        ("runs:\n  using: docker\n  env:\n    image: Dockerfile\n", "missing"),
        ("runs:\n  using: node20\n  main: index.js\n", "only a docker action"),
        ("runs:\n  image: Dockerfile\n", "exactly once"),
        (f"runs:\n  using: docker\n  image: docker://{IMAGE}@{DIGEST}\n", "from a commit of main"),
        ("runs:\n  using: docker\n  image: Dockerfile.dev\n", "not 'Dockerfile'"),
        ("runs:\n  using: docker\n\timage: Dockerfile\n", "tab"),
        ("runs:\r\n  using: docker\r\n  image: Dockerfile\r\n", "CR line endings"),
        ("runs:\n  using: docker\n  image: Dockerfile\n---\nruns:\n  image: x\n", "more than one YAML document"),
        ("runs:\n  using: docker\n  image: Dockerfile\nruns:\n  using: docker\n", "more than one top-level"),
        ("inputs: {}\n", "no top-level 'runs:'"),
        ("runs:\n", "empty"),
    ],
)
def test_an_action_yml_the_rewrite_cannot_be_sure_of_is_refused(body: str, says: str) -> None:
    with pytest.raises(pin_image.PinError, match=None) as caught:
        pin_image.pin(_GOOD_HEAD + body, f"docker://{IMAGE}@{DIGEST}")
    assert says in str(caught.value)


def test_inside_actions_a_refusal_is_one_error_annotation(tmp_path: Path) -> None:
    action = tmp_path / "action.yml"
    shutil.copyfile(REPO / "action.yml", action)

    result = _cli(action, IMAGE, "sha256:nope%0A::warning::x", GITHUB_ACTIONS="true")

    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("::error title=Cannot pin the image::")
    assert "%250A" in lines[0]  # the '%' is escaped, so the data cannot forge a second command


def test_a_missing_file_is_a_clean_error(tmp_path: Path) -> None:
    result = _cli(tmp_path / "nope.yml", IMAGE, DIGEST)
    assert result.returncode == 1
    assert "cannot read" in result.stderr
    assert "Traceback" not in result.stderr


@given(st.text(max_size=80))
def test_no_random_text_passes_as_a_digest(text: str) -> None:
    candidate = "sha256:" + text
    accepted = True
    try:
        pin_image.image_reference(IMAGE, candidate)
    except pin_image.PinError:
        accepted = False
    assert accepted == (len(text) == 64 and set(text) <= set("0123456789abcdef"))


@given(st.binary(min_size=32, max_size=32), st.sampled_from(["Dockerfile", "'Dockerfile'", '"Dockerfile"']))
def test_any_valid_digest_round_trips_through_yaml(raw: bytes, written: str) -> None:
    digest = "sha256:" + raw.hex()
    text = (REPO / "action.yml").read_text(encoding="utf-8").replace("image: Dockerfile", f"image: {written}")
    pinned = pin_image.pin(text, pin_image.image_reference(IMAGE, digest))
    assert _load_yaml(pinned.text)["runs"]["image"] == f"docker://{IMAGE}@{digest}"


# Layouts where the line that looks like runs.image is not the key a YAML reader sees (review of issue 12).
_HOSTILE = {
    "quoted key, fake line in a flow sequence": "runs:\n  using: docker\n  args: [\n  image: Dockerfile\n  ]\n"
    '  "image": Dockerfile\n',
    "space before the colon": "runs:\n  using: docker\n  image : Dockerfile\n  args: [\n  image: Dockerfile\n  ]\n",
    "fake line in a multi-line double-quoted scalar": 'runs:\n  using: docker\n  entrypoint: "a\n'
    '  image: Dockerfile\n  "\n  "image": Dockerfile\n',
    "explicit key, fake line in a quoted scalar": "runs:\n  using: docker\n  ? image\n  : Dockerfile\n"
    '  pre-entrypoint: "x\n  image: Dockerfile\n  "\n',
    "fake line in a single-quoted scalar": "runs:\n  using: docker\n  entrypoint: 'a\n  image: Dockerfile\n  '\n"
    "  'image': Dockerfile\n",
}


@pytest.mark.parametrize("body", _HOSTILE.values(), ids=list(_HOSTILE))
def test_a_line_that_only_looks_like_runs_image_is_refused_and_nothing_is_written(tmp_path: Path, body: str) -> None:
    action = tmp_path / "action.yml"
    action.write_text(_GOOD_HEAD + body, encoding="utf-8")

    result = _cli(action, IMAGE, DIGEST)

    assert result.returncode == 1, result.stdout
    assert "YAML reader" in result.stderr
    assert "Traceback" not in result.stderr
    assert action.read_text(encoding="utf-8") == _GOOD_HEAD + body


def test_the_reviewers_hostile_action_yml_is_refused(tmp_path: Path) -> None:
    """The real action.yml with `"image": Dockerfile` and a pinned-looking line inside the entrypoint string."""
    real = (REPO / "action.yml").read_text(encoding="utf-8")
    hidden = f"docker://{IMAGE}@{DIGEST}"
    hostile = real.replace(
        "  image: Dockerfile\n", f'  "image": Dockerfile\n  entrypoint: "/action/run\n  image: {hidden}\n  "\n'
    )
    assert hostile != real
    action = tmp_path / "action.yml"
    action.write_text(hostile, encoding="utf-8")

    result = _cli(action, IMAGE, DIGEST)

    assert result.returncode == 1
    assert "a YAML reader sees runs.image as 'Dockerfile'" in result.stderr
    assert action.read_text(encoding="utf-8") == hostile


def test_a_merge_key_beside_the_real_image_line_still_pins_the_image_a_reader_sees() -> None:
    text = _GOOD_HEAD + "x: &a {image: other}\nruns:\n  <<: *a\n  using: docker\n  image: Dockerfile\n"
    pinned = pin_image.pin(text, f"docker://{IMAGE}@{DIGEST}")
    assert _load_yaml(pinned.text)["runs"]["image"] == f"docker://{IMAGE}@{DIGEST}"


def test_a_pinned_action_yml_keeps_the_entry_point_kubernetes_runners_need(tmp_path: Path) -> None:
    """A release ref is what Kubernetes runners can run (no hook builds a Dockerfile); the hook also needs
    runs.entrypoint and runs.args, so pinning the image must leave both lines exactly as they were."""
    action = tmp_path / "action.yml"
    shutil.copyfile(REPO / "action.yml", action)
    before = _load_yaml(action.read_text(encoding="utf-8"))["runs"]

    assert _cli(action, IMAGE, DIGEST).returncode == 0
    after = _load_yaml(action.read_text(encoding="utf-8"))["runs"]

    assert before["entrypoint"] == after["entrypoint"] == "python"
    assert before["args"] == after["args"] == ["-I", "-u", "-B", "/action/entrypoint.py"]
    assert after["image"].startswith("docker://")
