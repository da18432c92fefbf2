"""The Northflank API client: one requests.Session, explicit timeouts, typed answers and errors.

It makes exactly one HTTP request per call and never retries: the retry rules differ between the
trigger (which must not deploy twice) and reads, so they live with their callers (trigger, waiting).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from northflank_release import __version__
from northflank_release.request import Target

CONNECT_TIMEOUT = 10.0
USER_AGENT = f"northflank-release-action/{__version__}"
MAX_LIST_PAGES = 50  # 5,000 runs at 100 a page: far past any sane history, and a bound on a runaway cursor


@dataclass(frozen=True)
class RateLimit:
    remaining: int | None = None
    reset_seconds: float | None = None
    retry_after: float | None = None

    @classmethod
    def from_headers(cls, headers: Any) -> RateLimit:
        return cls(
            remaining=_int_header(headers, "x-ratelimit-remaining"),
            reset_seconds=_float_header(headers, "x-ratelimit-reset"),
            retry_after=_float_header(headers, "retry-after"),
        )

    def retry_delay(self, *, rate_limited: bool) -> float | None:
        """How long the API asks us to wait: Retry-After, else the window's reset once it is spent."""
        if self.retry_after is not None:
            return self.retry_after
        if self.reset_seconds is not None and (rate_limited or self.remaining == 0):
            return self.reset_seconds
        return None


@dataclass(frozen=True)
class ApiAnswer:
    """A 2xx answer: the parsed JSON (None when the body was not JSON) and its headers' facts."""

    data: Any
    rate_limit: RateLimit
    date_header: str  # the API's clock, for comparing its timestamps with ours

    @property
    def server_time(self) -> float | None:
        """The Date header as a Unix time."""
        return _parse_http_date(self.date_header)


class ApiError(Exception):
    """A non-2xx answer: the status, Northflank's own message (when it sent one) and the rate-limit facts."""

    def __init__(self, status: int, message: str, *, error_id: str = "", rate_limit: RateLimit | None = None) -> None:
        # Northflank's error id lets its support find the request, so it is part of every message.
        super().__init__(f"HTTP {status}: {message}" + (f" (error id {error_id})" if error_id else ""))
        self.status = status
        self.message = message
        self.error_id = error_id
        self.rate_limit = rate_limit or RateLimit()


@dataclass
class NorthflankClient:
    api_url: str
    token: str = field(repr=False)
    read_timeout: float = 30.0
    debug: Callable[[str], None] = lambda _text: None
    session: requests.Session = field(default_factory=requests.Session, repr=False)

    def __post_init__(self) -> None:
        # Auth on the session, not per call, so no code path can send a request without it. As an auth
        # object (not a plain header) it also stops requests from replacing it with a ~/.netrc entry.
        self.session.auth = _BearerToken(self.token)
        self.session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})

    def trigger(self, target: Target, body: dict[str, Any]) -> ApiAnswer:
        return self._request("POST", target.runs_path, body=body)

    def get_run(self, target: Target, run_id: str) -> ApiAnswer:
        return self._request("GET", f"{target.runs_path}/{quote(run_id, safe='')}")

    def abort_run(self, target: Target, run_id: str, timeout: float | None = None) -> ApiAnswer:
        return self._request("POST", f"{target.runs_path}/{quote(run_id, safe='')}/abort", timeout=timeout)

    def list_runs(self, target: Target, per_page: int = 100) -> Iterator[tuple[dict[str, Any], ApiAnswer]]:
        """Every run of the flow, page by page, with the answer each came in."""
        params: dict[str, str] = {"per_page": str(per_page)}
        for page in range(1, MAX_LIST_PAGES + 1):
            answer = self._request("GET", target.runs_path, params=params)
            payload = answer.data if isinstance(answer.data, dict) else {}
            data = payload.get("data")
            runs = data.get("runs") if isinstance(data, dict) else None
            for run in runs if isinstance(runs, list) else []:
                if isinstance(run, dict):
                    yield run, answer
            pagination = payload.get("pagination")
            if not isinstance(pagination, dict) or not pagination.get("hasNextPage"):
                return
            cursor = pagination.get("cursor")
            params = {"per_page": str(per_page)}
            if cursor:
                params["cursor"] = str(cursor)
            else:
                params["page"] = str(page + 1)

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> ApiAnswer:
        url = self.api_url + path
        self.debug(
            f"{method} {url}" + (f"?{_query(params)}" if params else "") + (f" {json.dumps(body)}" if body else "")
        )
        read_timeout = timeout if timeout is not None else self.read_timeout
        response = self.session.request(
            method,
            url,
            json=body,
            params=params,
            timeout=(min(CONNECT_TIMEOUT, read_timeout), read_timeout),
            allow_redirects=False,  # a redirect could carry the token to another host
        )
        rate_limit = RateLimit.from_headers(response.headers)
        text = response.text
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            data = None
        self.debug(f"-> HTTP {response.status_code}, {len(text)} bytes, rate limit remaining {rate_limit.remaining}")
        if not 200 <= response.status_code < 300:
            message, error_id = _error_message(data, text, response.status_code, response.reason)
            raise ApiError(response.status_code, message, error_id=error_id, rate_limit=rate_limit)
        return ApiAnswer(data, rate_limit, response.headers.get("date") or "")


class _BearerToken(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "<bearer token hidden>"


_TRIGGER_CAUSES = {
    400: "the API refused the request body",
    401: "the API token is missing, wrong or revoked: check the secret passed as api-token",
    403: "the token lacks the permission Project > Pipelines > General > Update on this project "
    "(an organisation token also needs team-id)",
    404: "no such project, pipeline or stage: check project-id, pipeline-id and stage (ids, not display names)",
    409: "the release flow refused a new run, most likely because its concurrency policy forbids one while "
    "another is running",
}
_READ_CAUSES = {
    401: "the token was rejected",
    403: "the token can trigger runs but not read them: give it Project > Pipelines > General > Read",
    404: "the run was not found (was it deleted?)",
}


def likely_cause(status: int, *, reading: bool) -> str:
    """What a refusal most likely means, for triggering a run or for reading one."""
    causes = _READ_CAUSES if reading else _TRIGGER_CAUSES
    return causes.get(status, "the API refused the read" if reading else "the API refused the request")


def explain_request_exception(error: requests.RequestException) -> tuple[str, bool]:
    """What went wrong in words, and whether the request may have reached the API."""
    text = repr(error)
    if isinstance(error, (requests.exceptions.InvalidJSONError, requests.exceptions.InvalidHeader)):
        return f"the request could not be built ({error.__class__.__name__})", False
    if isinstance(error, requests.ConnectTimeout):
        return "connection timed out", False
    if isinstance(error, requests.exceptions.SSLError):
        # A handshake or certificate failure happens before anything is sent; a TLS error later may not.
        before = any(word in text for word in ("CERTIFICATE", "certificate", "handshake", "HANDSHAKE", "VERSION"))
        return ("TLS handshake failed" if before else "TLS error after sending"), not before
    if isinstance(error, requests.ReadTimeout):
        return "no answer before the read timeout", True
    if isinstance(error, requests.ConnectionError):
        if "Connection refused" in text:
            return "connection refused", False
        if "NameResolutionError" in text or "Name or service not known" in text:
            return "the API host name does not resolve", False
        if "NewConnectionError" in text:
            return "could not connect", False
        return "connection closed before an answer", True
    return error.__class__.__name__, True


def run_from(answer_data: Any) -> dict[str, Any] | None:
    """The run in a `{"data": {...}}` envelope (or a bare run object), when there is one."""
    if isinstance(answer_data, dict):
        inner = answer_data.get("data", answer_data)
        if isinstance(inner, dict):
            return inner
    return None


def _error_message(data: Any, text: str, status: int, reason: str) -> tuple[str, str]:
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        message = str(error.get("message") or "").strip()
        details = error.get("details")
        if details:
            message = f"{message} ({json.dumps(details)[:300]})" if message else json.dumps(details)[:300]
        if message:
            return message, str(error.get("id") or "")
    if data is None and text.strip():
        kind = "an HTML page" if "<html" in text[:500].lower() else "a body that is not JSON"
        return f"{reason or 'error'} (the API answered with {kind}, likely from a proxy or gateway)", ""
    return reason or f"HTTP {status}", ""


def _query(params: dict[str, str]) -> str:
    return "&".join(f"{key}={value}" for key, value in params.items())


def _int_header(headers: Any, name: str) -> int | None:
    value = _float_header(headers, name)
    return int(value) if value is not None else None


def _float_header(headers: Any, name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = float(str(raw).strip())
    except ValueError:
        return _http_date_delay(str(raw)) if name == "retry-after" else None
    return value if value >= 0 else None


def _http_date_delay(raw: str) -> float | None:
    """Retry-After may also be an HTTP date."""
    moment = _parse_http_date(raw)
    return None if moment is None else max(0.0, moment - time.time())


def _parse_http_date(raw: str) -> float | None:
    if not raw:
        return None
    # email.utils costs ~7 ms to import and is needed only when a date is actually read.
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(raw).timestamp()
    except (TypeError, ValueError):
        return None
