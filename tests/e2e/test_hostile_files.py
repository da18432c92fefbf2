"""Files the action is pointed at: confined to the workspace inside Actions, regular, bounded, never blocking,
and never quoted back. The reader itself and YAML values JSON cannot carry: tests/unit/test_files.py and
tests/unit/test_inputs.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from northflank_release.settings import MAX_REQUEST_FILE_BYTES, MAX_REQUEST_YAML_BYTES
from testing.northflank_standin import NorthflankStandin
from testing.runner import ActionRun, run_action

PASSWD_LINE = "root:x:0:0:"  # how /etc/passwd starts on every Linux


def assert_no_file_content(result: ActionRun, *fragments: str) -> None:
    for fragment in fragments:
        assert fragment not in result.log + result.raw_outputs + result.summary


# --- Inside Actions, as the runner runs the action -------------------------------------------------------


@pytest.mark.parametrize("path", ["/etc/passwd", "../../../../../../etc/passwd", "link-to-passwd"])
def test_a_request_file_outside_the_workspace_is_not_read(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str], path: str
) -> None:
    (tmp_path / "workspace").mkdir()
    (tmp_path / "workspace" / "link-to-passwd").symlink_to("/etc/passwd")

    result = run_action(tmp_path, {**inputs, "request-file": path})

    assert result.exit_code == 1
    assert standin.requests == []
    [error] = result.errors
    assert "outside the workspace" in error
    assert_no_file_content(result, PASSWD_LINE)


def test_a_workspace_symlink_to_dev_zero_is_refused_at_once(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    (tmp_path / "workspace").mkdir()
    (tmp_path / "workspace" / "body.yml").symlink_to("/dev/zero")

    result = run_action(tmp_path, {**inputs, "request-file": "body.yml"}, timeout=20)

    assert result.exit_code == 1
    [error] = result.errors
    assert "outside the workspace" in error


def test_a_fifo_in_the_workspace_does_not_block(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    (tmp_path / "workspace").mkdir()
    os.mkfifo(tmp_path / "workspace" / "body.yml")

    result = run_action(tmp_path, {**inputs, "request-file": "body.yml"}, timeout=20)

    assert result.exit_code == 1
    [error] = result.errors
    assert "is a FIFO (named pipe), not a regular file" in error


def test_a_ca_bundle_that_is_a_fifo_does_not_block_a_dry_run(tmp_path: Path, inputs: dict[str, str]) -> None:
    fifo = tmp_path / "ca.pem"
    os.mkfifo(fifo)

    result = run_action(tmp_path, {**inputs, "dry-run": "true"}, job_env={"CURL_CA_BUNDLE": str(fifo)}, timeout=20)

    assert result.exit_code == 1
    [error] = result.errors
    assert error.startswith("Invalid input: CURL_CA_BUNDLE:")
    assert "FIFO" in error


def test_many_unknown_keys_make_one_short_error_that_quotes_no_line(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    (tmp_path / "workspace").mkdir()
    lines = [f'"root:*:{n}:0:99999:7::": x' for n in range(3000)] + [f"key{n}: x" for n in range(3000)]
    (tmp_path / "workspace" / "body.yml").write_text("\n".join(lines), encoding="utf-8")

    result = run_action(tmp_path, {**inputs, "request-file": "body.yml"})

    assert result.exit_code == 1
    [error] = result.errors
    assert "6000 unknown key(s), 'key0', 'key1', 'key10' and 5997 more: the API accepts only" in error
    assert_no_file_content(result, "root:*:", "99999")
    assert len(result.stdout.splitlines()) < 10


def test_keys_that_are_not_short_identifiers_are_never_quoted(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    (tmp_path / "workspace").mkdir()
    (tmp_path / "workspace" / "shadow.yml").write_text('"root:*:20228:0:99999:7::": x\n', encoding="utf-8")

    result = run_action(tmp_path, {**inputs, "request-file": "shadow.yml"})

    [error] = result.errors
    assert "1 unknown key(s), a key of 24 characters:" in error
    assert_no_file_content(result, "root:*:", "20228")


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        ("{}" + " " * MAX_REQUEST_FILE_BYTES, f"at most {MAX_REQUEST_FILE_BYTES} are read"),
        ("k: v\n" * (MAX_REQUEST_YAML_BYTES // 5 + 1), f"YAML is read up to {MAX_REQUEST_YAML_BYTES} bytes"),
    ],
)
def test_a_request_file_over_the_limit_is_not_parsed(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str], text: str, refusal: str
) -> None:
    (tmp_path / "workspace").mkdir()
    (tmp_path / "workspace" / "body.yml").write_text(text, encoding="utf-8")

    result = run_action(tmp_path, {**inputs, "request-file": "body.yml"})

    [error] = result.errors
    assert refusal in error
