"""Bad input: one clear ::error per problem, naming the input, a non-zero exit, and nothing sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from testing.northflank_standin import NorthflankStandin
from testing.runner import run_action


def test_every_problem_is_reported_at_once_and_nothing_is_sent(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    result = run_action(
        tmp_path,
        {
            **inputs,
            "project-id": "",
            "pipeline-id": "../admin",
            "stage": "prod",
            "name": "v1.2.3",
            "description": "deploy @ 10:00 #release",
            "wait": "yes",
            "timeout": "ten minutes",
            "arguments": "VERSION=1\nnot a pair\n",
        },
    )

    assert result.exit_code == 1
    assert standin.requests == []
    titles = [title for title, _ in result.annotations]
    # The inputs in action.yml's order (the catalogue's), then what the request body's schema finds.
    assert titles == [
        "Invalid input: project-id",
        "Invalid input: pipeline-id",
        "Invalid input: stage",
        "Invalid input: arguments",
        "Invalid input: wait",
        "Invalid input: timeout",
        "Invalid input: name",
        "Invalid input: description",
    ]
    assert "Traceback" not in result.log
    assert "nothing was sent" in result.stdout


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        ({"api-token": ""}, "api-token is required"),
        ({"stage": "qa"}, "use development, staging or production"),
        ({"project-id": "my project"}, "use only letters, digits and '-'"),
        ({"team-id": "a/b"}, "team-id 'a/b' is not a Northflank id"),
        ({"name": "v1.2.3"}, "contains '.', which run names cannot contain. Try 'v1-2-3'"),
        ({"name": "ab"}, "2 characters long"),
        ({"name": "1st release"}, "must start with a letter"),
        ({"description": "x" * 201}, "at most 200"),
        ({"description": "by @alice"}, "contains '@'"),
        ({"arguments": '{"VERSION": '}, "is not valid JSON: Expecting value at line 1, column 13"),
        ({"arguments": "A=1\nA=2"}, "key 'A' is given twice"),
        ({"arguments": "a: [1"}, "is not valid YAML"),
        ({"arguments": "[1, 2]"}, "line 1 has no '=': write KEY=VALUE lines, a JSON object or a YAML mapping"),
        ({"overrides": "just text"}, "must be a mapping"),
        ({"overrides": '{"build": "main"}'}, "overrides: the value at overrides/build is invalid"),
        ({"release-node-overrides": "[]"}, "release-node-overrides"),
        ({"request-file": "missing.json"}, "does not exist"),
        ({"wait": "1"}, "'1' is not a boolean: use true or false"),
        ({"dry-run": "y"}, "is not a boolean"),
        ({"timeout": "7h"}, "at most 6h"),
        ({"timeout": "0"}, "above 0"),
        ({"poll-interval": "500ms"}, "is not a duration"),
        ({"poll-interval": "0.5"}, "at least 1s"),
        ({"api-url": "http://api.example.com"}, "clear text"),
        ({"api-url": "ftp://x"}, "is not a URL"),
        ({"arguments": '{"X": NaN}'}, "has NaN, which is not a JSON number"),
        ({"overrides": "build:\n  replicas: .inf\n"}, "is inf, which JSON cannot carry"),
        ({"overrides": "build:\n  branch: a\nbuild:\n  branch: b\n"}, "key 'build' is given twice"),
        ({"arguments": "[a, b]: c"}, "has a key at line 1 that is not text"),
        ({"overrides": "a: &x [*x]"}, "uses the YAML alias *x at line 1"),
        ({"api-token": "nf-token-with a space"}, "copy the token again"),
        ({"api-token": "nf-token-with\nnewline"}, "copy the token again"),
        ({"api-token": "nf-token-\u2026-pasted"}, "copy the token again"),
    ],
)
def test_each_bad_input_gets_a_clear_error(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str], changed: dict[str, str], expected: str
) -> None:
    result = run_action(tmp_path, {**inputs, **changed})

    assert result.exit_code == 1
    assert standin.requests == []
    [error] = result.errors
    input_name = next(iter(changed))
    assert error.startswith(f"Invalid input: {input_name}:")
    assert expected in error


def test_unknown_keys_in_the_request_file_are_named(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    (tmp_path / "workspace").mkdir()
    (tmp_path / "workspace" / "body.json").write_text('{"name": "Ok name", "stage": "production"}', encoding="utf-8")

    result = run_action(tmp_path, {**inputs, "request-file": "body.json"})

    assert result.exit_code == 1
    [error] = result.errors
    assert "1 unknown key(s), 'stage'" in error
    assert standin.requests == []


def test_a_name_with_a_trailing_newline_from_a_file_is_refused_like_the_api_would(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    (tmp_path / "workspace").mkdir()
    (tmp_path / "workspace" / "body.json").write_text('{"name": "Release one\\n"}', encoding="utf-8")

    result = run_action(tmp_path, {**inputs, "request-file": "body.json"})

    assert result.exit_code == 1
    [error] = result.errors
    assert "ends with a space or line break" in error
    assert standin.requests == []


def test_plain_http_to_loopback_is_allowed(tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]) -> None:
    assert inputs["api-url"].startswith("http://127.0.0.1:")
    assert run_action(tmp_path, inputs).exit_code == 0


def test_a_bad_command_line_flag_is_one_error_that_does_not_repeat_its_value(tmp_path: Path) -> None:
    result = run_action(tmp_path, {}, args=["--api_token=nf-secret-value-123456"], outside_github=True)

    assert result.exit_code == 1
    assert "unrecognized arguments; see --help" in result.stderr
    assert "nf-secret-value-123456" not in result.log
    assert "Traceback" not in result.log


def test_an_odd_key_hides_no_other_problem(tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]) -> None:
    result = run_action(tmp_path, {**inputs, "arguments": "[a, b]: c", "stage": "prod", "project-id": "bad id"})

    assert result.exit_code == 1
    titles = [title for title, _ in result.annotations]
    assert titles == ["Invalid input: project-id", "Invalid input: stage", "Invalid input: arguments"]
