"""Unit tests of parsing and validation, with property tests that no input ends in a traceback."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from northflank_release.context import GitHubContext
from northflank_release.inputs import InputFormatError, parse_arguments, parse_boolean, parse_duration
from northflank_release.main import load
from northflank_release.request import (
    NAME_PATTERN,
    derive_description,
    derive_run_name,
    description_problem,
    name_problem,
    suggest_name,
)
from northflank_release.settings import INPUTS
from testing.northflank_standin import ecma_fullmatch

SCHEMA_NAME = r"^[a-zA-Z]((-|\s)?[a-zA-Z0-9]+((-|\s)[a-zA-Z0-9]+)*)?$"
SCHEMA_DESCRIPTION = r"^[a-zA-Z0-9.,?\s\\/'\"()[\];`%^&*\-_:!]+$"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("VERSION=1.10\nURL=https://x/?a=b\n", {"VERSION": "1.10", "URL": "https://x/?a=b"}),
        ("# comment\n\n  A = spaced value  \n", {"A": "spaced value"}),
        ("VERSION: 1.10\nENABLED: yes\nEMPTY: null\n", {"VERSION": "1.10", "ENABLED": "yes", "EMPTY": "null"}),
        ('{"COUNT": 3, "FLAG": true}', {"COUNT": 3, "FLAG": True}),
        ("KEY=", {"KEY": ""}),
    ],
)
def test_arguments_forms(text: str, expected: dict[str, Any]) -> None:
    assert parse_arguments(text) == expected


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("15m", 900), ("1h30m", 5400), (" 2h ", 7200)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "1d", "30m1h", "1h 30m", "-5", "1e3"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(InputFormatError):
        parse_duration(text)


@pytest.mark.parametrize(("text", "value"), [("true", True), ("TRUE", True), ("False", False), (" false\n", False)])
def test_booleans(text: str, value: bool) -> None:
    assert parse_boolean(text) is value


@pytest.mark.parametrize("text", ["yes", "1", "on", "tRuE", ""])
def test_bad_booleans(text: str) -> None:
    with pytest.raises(InputFormatError):
        parse_boolean(text)


@pytest.mark.parametrize(
    ("ref", "run_id", "attempt", "expected"),
    [
        ("v1.2.3", "8123456789", "1", "v1-2-3 run 8123456789-1"),
        ("1.2.3", "8123456789", "2", "ref-1-2-3 run 8123456789-2"),
        ("feature/a-very-long-branch-name-indeed-it-is", "8123456789", "1", "feature-a-very-long-br run 8123456789-1"),
        ("", "8123456789", "1", "release run 8123456789-1"),
        ("---", "1", "", "release run 1-1"),
        ("v2", "9" * 40, "12345", "v2 run 9999999999999999-1234"),
        ("", "0", "000:0", "release run 0-000"),
        ("", "123456789012345:6", "1", "release run 123456789012345-1"),
    ],
)
def test_derived_names(ref: str, run_id: str, attempt: str, expected: str) -> None:
    name = derive_run_name(GitHubContext(ref_name=ref, run_id=run_id, run_attempt=attempt))
    assert name == expected
    assert name_problem(name) is None


def test_derived_description_avoids_characters_the_api_refuses() -> None:
    context = GitHubContext(
        repository="acme/shop", ref_name="v1.0.0+build", ref_type="tag", sha="abcdef0123", workflow="CI #1 @main",
        run_number="7", job="deploy",
    )  # fmt: skip
    description = derive_description(context, marker="0a1b2c3d")
    assert description == (
        "Triggered by acme/shop, tag v1.0.0-build, commit abcdef0, workflow CI -1 -main run 7, job deploy, "
        "trigger 0a1b2c3d"
    )
    assert description_problem(description) is None


def test_every_derived_description_carries_its_own_marker_even_when_cut_to_length() -> None:
    context = GitHubContext(repository="acme/" + "x" * 300, run_number="7")
    first, second = derive_description(context), derive_description(context)
    assert first != second
    assert len(first) == 200
    assert re.fullmatch(r".*, trigger [0-9a-f]{8}", first)


contexts = st.builds(
    GitHubContext,
    repository=st.text(max_size=120),
    ref_name=st.text(max_size=300),
    ref_type=st.sampled_from(["tag", "branch", ""]),
    sha=st.text(max_size=50),
    workflow=st.text(max_size=200),
    run_id=st.text(max_size=30),
    run_number=st.text(max_size=12),
    run_attempt=st.text(max_size=5),
    job=st.text(max_size=100),
)


@given(contexts)
def test_derived_name_and_description_are_always_valid_for_the_api(context: GitHubContext) -> None:
    name, description = derive_run_name(context), derive_description(context)
    assert 3 <= len(name) <= 39
    assert ecma_fullmatch(SCHEMA_NAME, name)
    assert len(description) <= 200
    assert ecma_fullmatch(SCHEMA_DESCRIPTION, description)


@given(st.text(max_size=60))
def test_our_name_check_agrees_with_the_api_pattern(name: str) -> None:
    api_accepts = 3 <= len(name.encode("utf-16-le")) // 2 <= 39 and ecma_fullmatch(SCHEMA_NAME, name)
    assert (name_problem(name) is None) == api_accepts


@given(st.text(max_size=250))
def test_our_description_check_agrees_with_the_api_pattern(description: str) -> None:
    api_accepts = len(description.encode("utf-16-le")) // 2 <= 200 and ecma_fullmatch(SCHEMA_DESCRIPTION, description)
    assert (description_problem(description) is None) == api_accepts


@given(st.text(max_size=80))
def test_every_suggested_name_is_valid(name: str) -> None:
    assert name_problem(suggest_name(name)) is None


def test_the_name_pattern_refuses_a_trailing_newline_that_re_search_would_accept() -> None:
    assert re.search(SCHEMA_NAME, "Release one\n")  # what jsonschema's `pattern` would do
    assert NAME_PATTERN.fullmatch("Release one\n") is None
    assert name_problem("Release one\n") is not None


# Text that looks like every input form, and like nothing at all.
odd_text = st.one_of(
    st.text(max_size=200),
    st.text(alphabet="{}[]:=#-\n \t\"'!&*|>%@`,", max_size=80),
    st.from_regex(r"[A-Z_]{1,5}=[^\n]{0,10}(\n[a-z ]{0,5}){0,3}", fullmatch=True),
    st.sampled_from(["{", "[]", "a: [", "&a [*a]", "!!python/object:os.system ls", "null", "~", "- x", "a: *b"]),
)


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({}, optional={spec.env: odd_text for spec in INPUTS}))
def test_no_input_however_odd_ends_in_a_traceback(environ: dict[str, str]) -> None:
    _settings, request, problems = load(environ, GitHubContext())
    assert problems or request is not None
    for problem in problems:
        assert problem.message
        assert problem.input in {spec.name for spec in INPUTS}
