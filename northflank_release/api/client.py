"""The Northflank API client: one requests.Session, explicit timeouts, typed answers and errors.

It makes exactly one HTTP request per call and never retries: the retry rules differ between the
trigger (which must not deploy twice) and reads, so they live with their callers (trigger, waiting).
Every 2xx answer is checked for the shape its route promises; one that is not the API's JSON (a sign-in
page, a captive portal, an empty or cut body) raises UnexpectedAnswer rather than reading as "nothing".
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from math import inf
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from northflank_release import __version__
from northflank_release.api.bounded import MAX_ANSWER_BYTES, AnswerTooSlow, deadline, read_body
from northflank_release.api.target import Target
from northflank_release.numbers import bounded, count, seconds
from northflank_release.redaction import Redactor
from northflank_release.text import decode_json_text, maskable_json, parse_json

CONNECT_TIMEOUT = 10.0
# The least time a request is given, even when the caller's budget is spent: the last status read at the
# timeout, and the lookups after the trigger's last attempt, still get their answer.
MIN_REQUEST_SECONDS = 3.0
USER_AGENT = f"northflank-release-action/{__version__}"
PREVIEW_CHARS = 80  # of a body that is not the API's JSON, quoted in the error


@dataclass(frozen=True)
class RateLimit:
    remaining: int | None = None
    reset_seconds: float | None = None
    retry_after: float | None = None

    @classmethod
    def from_headers(cls, headers: Any) -> RateLimit:
        # Every figure through numbers.py: `inf`, `nan`, `1e400` or `-1` reads as absent, a huge one is capped.
        return cls(
            remaining=count(headers.get("x-ratelimit-remaining")),
            reset_seconds=seconds(headers.get("x-ratelimit-reset")),
            retry_after=_retry_after(headers.get("retry-after")),
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
    """A 2xx answer whose body is a JSON object, and its headers' facts."""

    data: dict[str, Any]
    rate_limit: RateLimit
    date_header: str  # the API's clock, for comparing its timestamps with ours
    status: int = 200
    content_type: str = ""

    @property
    def server_time(self) -> float | None:
        """The Date header as a Unix time."""
        return _parse_http_date(self.date_header)


@dataclass(frozen=True)
class RunsPage:
    """One page of the runs list, and the query of the next page (None on the last)."""

    runs: list[dict[str, Any]]
    next_params: dict[str, str] | None
    answer: ApiAnswer


class UnexpectedAnswer(Exception):
    """A 2xx answer that is not what the route promises: not JSON at all, or JSON of another shape."""

    def __init__(self, status: int, content_type: str, body: str, expected: str) -> None:
        preview = " ".join(body.split())[:PREVIEW_CHARS]
        what = (
            f"HTTP {status} with {content_type or 'no content type'}, "
            + (f"{len(body)} bytes starting {preview!r}" if body.strip() else "and an empty body")
            + f", instead of {expected}"
        )
        if "html" in content_type.lower() or preview.lstrip().startswith("<"):
            what += " (a proxy, captive portal or sign-in page may be answering for api-url)"
        super().__init__(what)
        self.status = status


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
    ca_bundle: str = ""  # a CA file or folder to trust instead of the default bundle
    session: requests.Session = field(default_factory=requests.Session, repr=False)
    # The proxy variables that apply to api_url, named when one cannot be used (api/network.py).
    proxy_variables: tuple[str, ...] = ()
    # Other secrets an answer could echo (a proxy's credentials, proxies.proxy_secrets), redacted with the token.
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        self._redact = Redactor((self.token, *self.secrets))

        # Auth on the session, not per call, so no code path can send a request without it. As an auth
        # object (not a plain header) it also stops requests from replacing it with a ~/.netrc entry.
        self.session.auth = _BearerToken(self.token)
        self.session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
        if urlsplit(self.api_url).scheme.lower() == "http":
            # Plain http (allowed only to loopback) must never go through http_proxy / all_proxy: the proxy
            # would read the token in clear text. Without trust_env requests ignores every proxy variable.
            self.session.trust_env = False

    def trigger(self, target: Target, body: dict[str, Any], within: float | None = None) -> ApiAnswer:
        """`within`, on every call: the seconds the caller's own budget has left, which caps the request's."""
        answer = self._request("POST", target.runs_path, body=body, within=_floor(within), expected="the API's JSON")
        if not isinstance(answer.data.get("data"), dict) and "id" not in answer.data:
            # Neither the API's envelope nor a bare run: a gateway or sign-in service answering in JSON.
            raise self.unexpected(answer, "the API's JSON (a run in a data object)")
        return answer

    def get_run(self, target: Target, run_id: str, within: float | None = None) -> ApiAnswer:
        path = f"{target.runs_path}/{quote(run_id, safe='')}"
        answer = self._request("GET", path, within=_floor(within), expected="the run as JSON")
        return self._expect_run(answer, run_id)

    def abort_run(self, target: Target, run_id: str, timeout: float | None = None) -> ApiAnswer:
        path = f"{target.runs_path}/{quote(run_id, safe='')}/abort"
        answer = self._request("POST", path, timeout=timeout, within=timeout, expected="the run as JSON")
        return self._expect_run(answer, run_id)

    def get_release_flow(self, target: Target, within: float | None = None) -> ApiAnswer:
        """The flow's template (the SDK's GetReleaseFlowResponse, in the usual `data` envelope): an answer whose
        `spec` is no object is a failed read, never a template with no nodes."""
        answer = self._request("GET", target.flow_path, within=_floor(within), expected="the release flow as JSON")
        flow = run_from(answer.data)
        if flow is None or not isinstance(flow.get("spec"), dict):
            raise self.unexpected(answer, "a release flow template (data.spec)")
        return answer

    def list_page(self, target: Target, params: dict[str, str], within: float | None = None) -> RunsPage:
        """One page of the flow's runs; a page without `data.runs` as a list is a failed read, never "no runs"."""
        answer = self._request(
            "GET", target.runs_path, params=params, within=_floor(within), expected="the runs list as JSON"
        )
        data = answer.data.get("data")
        runs = data.get("runs") if isinstance(data, dict) else None
        if not isinstance(runs, list) or not all(isinstance(run, dict) for run in runs):
            raise self.unexpected(answer, "a runs list (data.runs)")
        pagination = answer.data.get("pagination")
        next_params: dict[str, str] | None = None
        if isinstance(pagination, dict) and pagination.get("hasNextPage"):
            next_params = {key: value for key, value in params.items() if key not in ("cursor", "page")}
            if cursor := pagination.get("cursor"):
                next_params["cursor"] = str(cursor)
            else:
                next_params["page"] = str(int(params.get("page", "1")) + 1)
        return RunsPage(runs, next_params, answer)

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        timeout: float | None = None,
        within: float | None = None,
        expected: str,
    ) -> ApiAnswer:
        url = self.api_url + path
        self.debug(
            f"{method} {url}" + (f"?{_query(params)}" if params else "") + (f" {maskable_json(body)}" if body else "")
        )
        read_timeout = timeout if timeout is not None else self.read_timeout
        total = min(CONNECT_TIMEOUT + read_timeout, within if within is not None else inf)
        try:
            with deadline(total):
                response = self.session.request(
                    method,
                    url,
                    json=body,
                    params=params,
                    timeout=(min(CONNECT_TIMEOUT, read_timeout, total), min(read_timeout, total)),
                    allow_redirects=False,  # a redirect could carry the token to another host
                    # True lets requests use REQUESTS_CA_BUNDLE; settings resolved SSL_CERT_FILE into ca_bundle.
                    verify=self.ca_bundle or True,
                    stream=True,
                )
                answer_body = read_body(response)
        except AnswerTooSlow:
            self.reset_connections()  # the interrupted connection must not go back to the pool
            raise
        rate_limit = RateLimit.from_headers(response.headers)
        # Parsed exactly as received: an answer is data, and a short token could match inside any of it
        # ("Triggered" holds "T"). The token is taken out only of what is shown (_shown).
        # UTF-8 whatever the charset says, and cleaned as it is parsed (text.py): nothing published later can
        # meet a NaN, an infinite number, a lone surrogate or a nesting the encoder cannot follow.
        text = decode_json_text(answer_body.data)
        try:
            data = parse_json(text) if text.strip() and not answer_body.cut else None
        except ValueError:  # not JSON, or nested past what a parser should follow
            data = None
        self.debug(f"-> HTTP {response.status_code}, {len(text)} bytes, rate limit remaining {rate_limit.remaining}")
        if not 200 <= response.status_code < 300:
            message, error_id = _error_message(data, text, response.status_code, response.reason, self._shown)
            raise ApiError(response.status_code, message, error_id=error_id, rate_limit=rate_limit)
        content_type = response.headers.get("content-type", "")
        if answer_body.cut:
            expected += f" (the answer went on past {MAX_ANSWER_BYTES // 2**20} MiB and was not read further)"
        if not isinstance(data, dict):
            raise UnexpectedAnswer(response.status_code, content_type, self._shown(text), expected)
        return ApiAnswer(data, rate_limit, response.headers.get("date") or "", response.status_code, content_type)

    def reset_connections(self) -> None:
        """Drop every pooled connection: one a read was interrupted on (a signal, a deadline) must not be reused."""
        self.session.close()

    def _shown(self, text: str) -> str:
        """Text of an answer as it may be shown: a proxy or gateway page may echo our Authorization header.
        Callers redact the whole text before any preview is cut from it, since a cut could split the token."""
        return self._redact(text)

    def unexpected(self, answer: ApiAnswer, expected: str) -> UnexpectedAnswer:
        """A 2xx in JSON of a shape other than the route promises."""
        return UnexpectedAnswer(answer.status, answer.content_type, self._shown(json.dumps(answer.data)), expected)

    def _expect_run(self, answer: ApiAnswer, run_id: str) -> ApiAnswer:
        """A read or abort answer must hold this run; anything else is a failed read, not a run without news."""
        run = run_from(answer.data)
        if run is None or run.get("id", run_id) != run_id or not ({"id", "status"} & set(run)):
            raise self.unexpected(answer, f"run {run_id} as JSON")
        return answer


def _floor(within: float | None) -> float | None:
    return None if within is None else max(within, MIN_REQUEST_SECONDS)


class _BearerToken(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "<bearer token hidden>"


def run_from(answer_data: Any) -> dict[str, Any] | None:
    """The run in a `{"data": {...}}` envelope (or a bare run object), when there is one."""
    if isinstance(answer_data, dict):
        inner = answer_data.get("data", answer_data)
        if isinstance(inner, dict):
            return inner
    return None


def _error_message(data: Any, text: str, status: int, reason: str, shown: Callable[[str], str]) -> tuple[str, str]:
    """Northflank's message and error id, each passed through `shown` before anything is cut from it."""
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        message = shown(str(error.get("message") or "").strip())
        details = error.get("details")
        if details:
            shown_details = shown(json.dumps(details))[:300]
            message = f"{message} ({shown_details})" if message else shown_details
        if message:
            return message, shown(str(error.get("id") or ""))
    if data is None and text.strip():
        kind = "an HTML page" if "<html" in text[:500].lower() else "a body that is not JSON"
        return f"{shown(reason or 'error')} (the API answered with {kind}, likely from a proxy or gateway)", ""
    return shown(reason) or f"HTTP {status}", ""


def _query(params: dict[str, str]) -> str:
    return "&".join(f"{key}={value}" for key, value in params.items())


def _retry_after(raw: str | None) -> float | None:
    """Retry-After: seconds, or an HTTP date (RFC 9110 section 10.2.3), as a pause numbers.py accepts."""
    if raw is None:
        return None
    delay = seconds(raw)
    if delay is not None:
        return delay
    moment = _parse_http_date(raw)
    return None if moment is None else seconds(max(0.0, moment - time.time()))


def _parse_http_date(raw: str) -> float | None:
    if not raw or len(raw) > 64:
        return None
    try:
        moment = parsedate_to_datetime(raw).timestamp()
    except (TypeError, ValueError, OverflowError, IndexError):  # a date past 9999 or no date at all
        return None
    return bounded(moment, 0.0, 253402300799.0)  # 9999-12-31: anything later is no clock's reading
