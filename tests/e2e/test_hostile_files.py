"""Files the action is pointed at: confined to the workspace inside Actions, regular, bounded, never blocking,
and never quoted back. YAML values JSON cannot carry are input errors, not crashes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from northflank_release.context import GitHubContext
from northflank_release.files import FileRefused, is_inside, read_regular_file
from northflank_release.main import load
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


def test_yaml_errors_quote_no_long_text_from_the_file(tmp_path: Path) -> None:
    (tmp_path / "body.yml").write_text("name: !s3cret-token-value x\n", encoding="utf-8")
    environ = {"NORTHFLANK_PROJECT_ID": "p", "NORTHFLANK_PIPELINE_ID": "q", "NORTHFLANK_STAGE": "staging"}
    environ |= {"NORTHFLANK_DRY_RUN": "true", "NORTHFLANK_REQUEST_FILE": "body.yml", "GITHUB_WORKSPACE": str(tmp_path)}

    _settings, _request, [problem] = load(environ, GitHubContext())

    assert "s3cret" not in problem.message
    assert "for the tag (text of 19 characters) at line 1" in problem.message


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


# --- The file reader itself -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "refusal"),
    [
        (lambda path: path.symlink_to("/dev/zero"), "is a character device, not a regular file"),
        (lambda path: os.mkfifo(path), "is a FIFO (named pipe), not a regular file"),
        (lambda path: path.mkdir(), "is a directory, not a regular file"),
        (lambda path: path.write_bytes(b"x" * 1025), "is 1025 bytes long; at most 1024 are read"),
        (lambda path: None, "does not exist"),
    ],
)
def test_each_hostile_file_is_refused_without_reading_it(tmp_path: Path, make: object, refusal: str) -> None:
    path = tmp_path / "file"
    make(path)  # type: ignore[operator]

    with pytest.raises(FileRefused, match=re.escape(refusal)):
        read_regular_file(str(path), 1024)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_a_proc_file_that_says_it_is_empty_is_still_bounded() -> None:
    assert os.stat("/proc/self/status").st_size == 0
    with pytest.raises(FileRefused, match="more than 10 bytes"):
        read_regular_file("/proc/self/status", 10)


def test_a_symlink_out_of_the_workspace_is_outside(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "inner").write_text("{}", encoding="utf-8")
    (tmp_path / "ws" / "out").symlink_to(tmp_path)

    assert is_inside(str(tmp_path / "ws" / "inner"), str(tmp_path / "ws"))
    assert not is_inside(str(tmp_path / "ws" / "out" / "x"), str(tmp_path / "ws"))
    assert not is_inside(str(tmp_path / "ws-sibling"), str(tmp_path / "ws"))


# --- YAML that JSON cannot carry --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "kind"),
    [
        ("overrides", "build:\n  when: 2001-12-14\n", "a date or time (YAML timestamp) at line 2"),
        ("overrides", "build:\n  blob: !!binary aGVsbG8=\n", "binary data (YAML !!binary) at line 2"),
        ("release-node-overrides", "svc: !!set {a, b}\n", "a set (YAML !!set) at line 1"),
        ("arguments", "WHEN: !!timestamp 2001-12-14\n", "a date or time (YAML timestamp) at line 1"),
        ("arguments", "TAGS: !!set {a}\n", "a set (YAML !!set) at line 1"),
        ("overrides", "build:\n  n: " + "9" * 5000 + "\n", "an integer of 5000 digits"),
        ("arguments", '{"N": ' + "9" * 5000 + "}", "an integer of 5000 digits"),
        ("overrides", "2001-12-14: x\n", "a date or time (YAML timestamp) at line 1"),
        ("overrides", "1: {}\n", "has a key at line 1 that is not text"),
    ],
)
def test_yaml_that_json_cannot_carry_is_an_input_error_naming_the_input_and_the_type(
    name: str, text: str, kind: str
) -> None:
    environ = {"NORTHFLANK_PROJECT_ID": "p", "NORTHFLANK_PIPELINE_ID": "q", "NORTHFLANK_STAGE": "staging"}
    environ |= {"NORTHFLANK_DRY_RUN": "true", f"NORTHFLANK_{name.upper().replace('-', '_')}": text}

    _settings, _request, problems = load(environ, GitHubContext())

    [problem] = problems
    assert problem.input == name
    assert kind in problem.message


def test_a_date_in_a_request_file_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "body.yml").write_text("arguments:\n  DAY: 2001-12-14\n", encoding="utf-8")
    environ = {"NORTHFLANK_PROJECT_ID": "p", "NORTHFLANK_PIPELINE_ID": "q", "NORTHFLANK_STAGE": "staging"}
    environ |= {"NORTHFLANK_DRY_RUN": "true", "NORTHFLANK_REQUEST_FILE": "body.yml", "GITHUB_WORKSPACE": str(tmp_path)}

    _settings, _request, [problem] = load(environ, GitHubContext())

    assert problem.input == "request-file"
    assert "a date or time (YAML timestamp) at line 2" in problem.message
