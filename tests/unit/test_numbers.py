"""numbers.py: every figure from outside that drives a sleep, a count or a format is finite and in range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from northflank_release.api.client import RateLimit
from northflank_release.numbers import MAX_COUNT, MAX_SECONDS, bounded, count, seconds
from northflank_release.text import format_duration

NOT_FINITE = ["inf", "-inf", "nan", "NaN", "Infinity", "1e400", "-1e400", "", "  ", "0x10", "ten", "9" * 400]


@pytest.mark.parametrize("text", NOT_FINITE)
def test_text_that_is_no_finite_number_reads_as_unknown(text: str) -> None:
    assert seconds(text) is None
    assert count(text) is None


@pytest.mark.parametrize("value", [float("inf"), float("nan"), -1, -0.5, True, None, [1], {"a": 1}])
def test_values_that_are_no_usable_number_read_as_unknown(value: object) -> None:
    assert seconds(value) is None
    assert count(value) is None


def test_huge_values_are_capped_and_ordinary_ones_kept() -> None:
    assert seconds("1e300") == MAX_SECONDS
    assert seconds(10**400) == MAX_SECONDS  # an integer no float can hold (valid JSON)
    assert count("123456789012345") == MAX_COUNT
    assert seconds(" 2.5 ") == 2.5
    assert count("7.9") == 7
    assert bounded("-3", -5, 5) == -3


@pytest.mark.parametrize("value", ["inf", "nan", "1e400", "-5", "9" * 30, "Infinity"])
def test_rate_limit_headers_never_hold_a_number_a_sleep_or_int_cannot_take(value: str) -> None:
    limit = RateLimit.from_headers({"x-ratelimit-remaining": value, "x-ratelimit-reset": value, "retry-after": value})

    for figure in (limit.remaining, limit.reset_seconds, limit.retry_after):
        assert figure is None or 0 <= figure <= MAX_COUNT
    delay = limit.retry_delay(rate_limited=True)
    assert delay is None or 0 <= delay <= MAX_SECONDS
    assert format_duration(delay or 0.0)  # what callers do with it: no OverflowError, no ValueError


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_SECONDS),  # far in the future: capped
        ("Sat, 01 Jan 99999 00:00:00 GMT", None),  # no date a clock can read
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),  # in the past: no pause
        ("not a date", None),
    ],
)
def test_retry_after_as_an_http_date_is_a_bounded_pause(header: str, expected: float | None) -> None:
    assert RateLimit.from_headers({"retry-after": header}).retry_after == expected


def test_retry_after_as_an_http_date_soon_is_the_time_until_then() -> None:
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    pause = RateLimit.from_headers({"retry-after": soon}).retry_after
    assert pause is not None
    assert 25 <= pause <= 31


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), -5.0, 1e300])
def test_a_duration_that_is_no_finite_figure_is_still_formatted(value: float) -> None:
    assert format_duration(value) in {"0s", "168h"}
