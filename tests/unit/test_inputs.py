"""YAML values JSON cannot carry (northflank_release/inputs.py) are input errors naming the input, the type and
the line, and never quote the file's text; read as main.load reads the inputs, in one pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from northflank_release.context import GitHubContext
from northflank_release.main import load


def test_yaml_errors_quote_no_long_text_from_the_file(tmp_path: Path) -> None:
    (tmp_path / "body.yml").write_text("name: !s3cret-token-value x\n", encoding="utf-8")
    environ = {"NORTHFLANK_PROJECT_ID": "p", "NORTHFLANK_PIPELINE_ID": "q", "NORTHFLANK_STAGE": "staging"}
    environ |= {"NORTHFLANK_DRY_RUN": "true", "NORTHFLANK_REQUEST_FILE": "body.yml", "GITHUB_WORKSPACE": str(tmp_path)}

    _settings, _request, [problem] = load(environ, GitHubContext())

    assert "s3cret" not in problem.message
    assert "for the tag (text of 19 characters) at line 1" in problem.message


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
