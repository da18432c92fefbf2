"""The one judge of a failed request (api/failures.py): a table of failures, judged in both contexts the callers
use (the trigger and its lookup; the wait and the follow), with what the user is told."""

from __future__ import annotations

import ssl

import pytest
import requests
import urllib3.exceptions

from northflank_release.api.client import ApiError, RateLimit, UnexpectedAnswer
from northflank_release.api.failures import Arrival, FailedRequest, classify
from northflank_release.causes import with_cause


def _api(status: int, retry_after: float | None = None) -> ApiError:
    return ApiError(status, "said no", error_id="e-1", rate_limit=RateLimit(retry_after=retry_after))


def _proxy_url_unusable() -> requests.RequestException:
    return requests.exceptions.ProxyError(urllib3.exceptions.LocationParseError("http://user:pw@[bad"))


def _certificate() -> requests.RequestException:
    failure = ssl.SSLCertVerificationError(1, "certificate verify failed")
    failure.verify_message = "self-signed certificate"
    return requests.exceptions.SSLError(failure)


def _refused_connection() -> requests.RequestException:
    return requests.ConnectionError(urllib3.exceptions.NewConnectionError(None, "refused"))  # type: ignore[arg-type]


# failure, arrival, lasting in the trigger's context, lasting in the wait's, pause
TABLE: list[tuple[str, FailedRequest, Arrival, bool, bool, float | None]] = [
    ("429 with Retry-After", _api(429, 7.0), "no", False, False, 7.0),
    ("408", _api(408), "maybe", False, False, None),
    ("500", _api(500), "maybe", False, False, None),
    ("503 with Retry-After", _api(503, 4.0), "maybe", False, False, 4.0),
    ("504", _api(504), "late", False, False, None),
    ("401", _api(401), "refused", True, True, None),
    ("403", _api(403), "refused", True, True, None),
    ("404", _api(404), "refused", True, True, None),
    ("409", _api(409), "refused", True, True, None),
    (
        "2xx not the API's",
        UnexpectedAnswer(200, "text/html", "<html>sign in</html>", "JSON"),
        "maybe",
        False,
        False,
        None,
    ),
    ("read timeout", requests.ReadTimeout("slow"), "late", False, False, None),
    ("connect timeout", requests.ConnectTimeout("slow"), "no", False, False, None),
    ("connection refused", _refused_connection(), "no", False, False, None),
    ("unverifiable certificate", _certificate(), "no", True, True, None),
    # The one difference between the contexts: a proxy that cannot be used ends a lookup, not a wait.
    ("proxy unusable", _proxy_url_unusable(), "no", True, False, None),
]


@pytest.mark.parametrize(
    ("error", "arrival", "lasts_for_trigger", "lasts_for_wait", "pause"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_each_failure_is_judged_once_for_every_caller(
    error: FailedRequest, arrival: Arrival, lasts_for_trigger: bool, lasts_for_wait: bool, pause: float | None
) -> None:
    trigger = classify(error, ("https_proxy",))
    wait = classify(error, ("https_proxy",), proxy_refusal_lasts=False)

    assert (trigger.arrival, trigger.lasting, trigger.pause) == (arrival, lasts_for_trigger, pause)
    assert (wait.arrival, wait.lasting, wait.pause) == (arrival, lasts_for_wait, pause)
    assert trigger.text == wait.text
    assert trigger.text


def test_a_refusal_is_told_with_its_likely_cause_for_each_side() -> None:
    failure = classify(_api(403))

    assert "Project > Pipelines > General > Update" in with_cause(failure, reading=False)
    assert "Project > Pipelines > General > Read" in with_cause(failure, reading=True)
    assert "error id e-1" in with_cause(failure, reading=True)


def test_a_passing_failure_is_told_without_a_cause() -> None:
    assert "Likely cause" not in with_cause(classify(_api(503)), reading=True)


def test_an_unusable_proxy_is_named_and_its_credentials_are_not_quoted() -> None:
    text = classify(_proxy_url_unusable(), ("https_proxy", "HTTPS_PROXY")).text

    assert "https_proxy / HTTPS_PROXY" in text
    assert "pw" not in text
