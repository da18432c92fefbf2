"""text.py: answers decoded as RFC 8259 says, cleaned so they can always be published, and shown inertly."""

from __future__ import annotations

import json

import pytest

from northflank_release.github import json_output
from northflank_release.text import MAX_JSON_DEPTH, TOO_DEEP, decode_json_text, parse_json, printable


def test_a_byte_order_mark_is_dropped_and_utf8_is_read_whatever_the_charset_said() -> None:
    assert parse_json(decode_json_text(b'\xef\xbb\xbf{"id": "r1"}')) == {"id": "r1"}
    assert decode_json_text('{"name": "Ünïcode"}'.encode()) == '{"name": "Ünïcode"}'
    assert decode_json_text(b'{"name": "+2AA-"}') == '{"name": "+2AA-"}'  # UTF-7 is not decoded as such


def test_bytes_that_are_not_utf8_are_replaced_not_turned_into_surrogates() -> None:
    text = decode_json_text(b'{"name": "\xed\xa0\x80 \xff"}')
    assert "\ufffd" in text
    text.encode("utf-8")  # every character can be written


@pytest.mark.parametrize(
    "body",
    [
        '{"a": NaN, "b": Infinity, "c": -Infinity}',
        '{"a": 1e400, "b": -1e400, "c": null}',
        '{"a": ' + "9" * 5000 + ', "b": null, "c": null}',
    ],
)
def test_numbers_json_cannot_write_back_become_null(body: str) -> None:
    data = parse_json(body)
    assert data == {"a": None, "b": None, "c": None}
    json.dumps(data, allow_nan=False)


def test_half_a_utf16_pair_becomes_a_replacement_character_in_keys_and_values() -> None:
    data = parse_json('{"\\ud800key": ["\\udfff", "ok \\ud83d\\ude00"]}')
    assert data == {"\ufffdkey": ["\ufffd", "ok 😀"]}
    json.dumps(data, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH + 5, 988, 5000, 100_000])
def test_nesting_past_the_bound_is_cut_and_the_rest_still_read(levels: int) -> None:
    data = parse_json('{"id": "r1", "deep": ' + "[" * levels + "]" * levels + ', "status": "pending"}')

    assert data["id"] == "r1"
    assert data["status"] == "pending"
    text = json.dumps(data, allow_nan=False)
    assert TOO_DEEP in text


def test_not_json_is_still_a_value_error() -> None:
    with pytest.raises(ValueError, match="Expecting value"):
        parse_json("<html>Sign in</html>")


def test_json_output_never_writes_nan_or_a_lone_surrogate_whoever_built_the_value() -> None:
    text = json_output({"a": float("nan"), "b": "\ud800", "c": [float("inf")]})
    assert json.loads(text) == {"a": None, "b": "\ufffd", "c": [None]}


def test_json_output_fits_24000_keys_by_measuring_each_once() -> None:
    run = {"id": "r1", "status": "running", **{f"k{index:05d}": "x" * 30 for index in range(24000)}}

    text = json_output(run)

    fitted = json.loads(text)
    assert len(text.encode()) <= 256 * 1024
    assert fitted["id"] == "r1"
    assert fitted["status"] == "running"
    assert "left out" in fitted["_truncated"]
    # The timing is scripts/bench's (docs/performance.md); that it is linear shows in the e2e case's bound.


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[31mred\x1b[0m", "\ufffd[31mred\ufffd[0m"),
        ("abc\u202edef", "abc\ufffddef"),
        ("zero\u200bwidth", "zero\ufffdwidth"),
        ("two\nlines\r", "two lines "),
        ("bell\x07", "bell\ufffd"),
        ("half \ud800", "half \ufffd"),
        ("plain ünïcode 😀", "plain ünïcode 😀"),
    ],
)
def test_log_text_is_printable(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_an_annotation_keeps_its_line_breaks() -> None:
    assert printable("one\ntwo\x1b", one_line=False) == "one\ntwo\ufffd"
