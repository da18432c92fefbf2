"""Trigger a run exactly once, even when answers are lost.

Northflank has no idempotency key, so every failed attempt is classified:
- not created (connection refused, DNS or TLS failure, connect timeout, 429, 503): retry after a backoff;
- maybe created (read timeout, connection dropped after sending, 500, 502, 504, a 200 without a run id):
  look the run up by its name, created after this trigger started, for a settling time (longer when the
  API may still be working on the request: a read timeout, a dropped connection, a 504); adopt it, or
  retry only if it never appears;
- refused (400, 401, 403, 404, 409, any other 4xx): no retry.
The whole phase is bounded in attempts and seconds.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests

from northflank_release.northflank import ApiError, NorthflankClient, RateLimit, run_from
from northflank_release.request import Target

NOT_CREATED_STATUSES = frozenset({429, 503})
MAYBE_CREATED_STATUSES = frozenset({500, 502, 504})
# The API's clock and ours differ by the Date header's one-second resolution plus transit.
CLOCK_SLACK_SECONDS = 2.0
LOOKUP_ATTEMPTS = 3
# How long to keep looking for a run that may exist before sending the request again: a short time for the
# list to show a new run, and up to the read timeout (5 to 30 s) when the API may still be processing it.
SETTLE_SECONDS = 3.0
SLOW_SETTLE_MIN_SECONDS, SLOW_SETTLE_MAX_SECONDS = 5.0, 30.0


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    max_seconds: float = 120.0
    base_delay: float = 1.0
    max_delay: float = 30.0


@dataclass(frozen=True)
class TriggerResult:
    """The run, when known; how many attempts it took; how it was found."""

    run: dict[str, Any] | None
    run_id: str
    attempts: int
    adopted: bool  # found by lookup after an answer was lost, not read from the trigger's answer
    notes: list[str] = field(default_factory=list)


class TriggerFailed(Exception):
    """The run was not triggered (or could not be confirmed): what happened, in a user's words."""

    def __init__(self, message: str, *, status: int | None = None, api_message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.api_message = api_message


@dataclass
class Trigger:
    client: NorthflankClient
    target: Target
    policy: RetryPolicy = RetryPolicy()
    log: Callable[[str], None] = lambda _text: None
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep

    def run(self, body: dict[str, Any]) -> TriggerResult:
        name = str(body.get("name", ""))
        started_wall = self.wall_clock()
        deadline = self.clock() + self.policy.max_seconds
        tried: list[str] = []
        for attempt in range(1, self.policy.max_attempts + 1):
            try:
                answer = self.client.trigger(self.target, body)
            except ApiError as error:
                outcome, wait_hint = _classify_status(error), _wait_hint(error.rate_limit)
                tried.append(f"HTTP {error.status}")
                if outcome == "refused":
                    raise TriggerFailed(
                        _refused_message(error), status=error.status, api_message=error.message
                    ) from None
                last = f"HTTP {error.status}: {error.message}"
            except requests.RequestException as error:
                outcome, wait_hint = _classify_exception(error), None
                tried.append(_describe_exception(error))
                last = _describe_exception(error)
            else:
                run = run_from(answer.data)
                run_id = str(run.get("id") or "") if run else ""
                if run_id:
                    return TriggerResult(run, run_id, attempt, adopted=False)
                # Accepted, but the answer does not say which run: it exists, so never send it again.
                self.log("The API accepted the run but its answer has no run id; looking the run up by name.")
                found = self._lookup(name, started_wall, SETTLE_SECONDS)
                if found:
                    return TriggerResult(found, str(found["id"]), attempt, adopted=True)
                return TriggerResult(None, "", attempt, adopted=False, notes=[_unidentified(name)])

            if outcome in ("maybe", "maybe-slow"):
                self.log(f"Attempt {attempt}: {last}. The run may have been created; looking for it before retrying.")
                # A request the API may still be processing can create its run after the client gave up on it.
                settle = self._slow_settle_seconds() if outcome == "maybe-slow" else SETTLE_SECONDS
                found = self._lookup(name, started_wall, settle)
                if found:
                    self.log(f"Found run {found.get('id')} created by attempt {attempt}; using it (no second run).")
                    return TriggerResult(found, str(found["id"]), attempt, adopted=True)
            delay = self._backoff(attempt, wait_hint)
            remaining = deadline - self.clock()
            if attempt == self.policy.max_attempts or delay > remaining:
                break
            self.log(f"Attempt {attempt}: {last}. Retrying in {delay:.1f}s.")
            self.sleep(delay)
        raise TriggerFailed(
            f"Could not trigger the release flow after {len(tried)} attempt(s) in "
            f"{self.policy.max_seconds - max(0.0, deadline - self.clock()):.0f}s ({', '.join(tried)}); "
            f"last: {last}. No run with the name {name!r} was created."
        )

    def _backoff(self, attempt: int, hint: float | None) -> float:
        if hint is not None:
            return hint
        ceiling = min(self.policy.max_delay, self.policy.base_delay * 2 ** (attempt - 1))
        # Jitter spreads the retries of many jobs that failed together.
        return random.uniform(ceiling / 2, ceiling)

    def _slow_settle_seconds(self) -> float:
        return min(max(self.client.read_timeout, SLOW_SETTLE_MIN_SECONDS), SLOW_SETTLE_MAX_SECONDS)

    def _lookup(self, name: str, started_wall: float, settle: float) -> dict[str, Any] | None:
        """Look for the run for up to `settle` seconds, since a new run may take a moment to be listed."""
        give_up = self.clock() + settle
        pause = 1.0
        while True:
            found = self._lookup_once(name, started_wall)
            remaining = give_up - self.clock()
            if found or remaining <= 0:
                return found
            self.sleep(min(pause, remaining))
            pause = min(pause * 2, 5.0)

    def _lookup_once(self, name: str, started_wall: float) -> dict[str, Any] | None:
        """The run with this name created after the trigger started, by the API's own clock."""
        for attempt in range(1, LOOKUP_ATTEMPTS + 1):
            try:
                return self._find(name, started_wall)
            except (ApiError, requests.RequestException) as error:
                self.log(f"Reading the runs list failed ({_describe(error)}).")
                if attempt < LOOKUP_ATTEMPTS:
                    self.sleep(self.policy.base_delay * 2**attempt)
        raise _LookupFailed()

    def _find(self, name: str, started_wall: float) -> dict[str, Any] | None:
        for run, answer in self.client.list_runs(self.target):
            if run.get("name") != name or not run.get("id"):
                continue
            created = parse_timestamp(run.get("createdAt"))
            # Compare in the API's clock: shift our start by the skew its Date header shows.
            skew = (answer.server_time - self.wall_clock()) if answer.server_time is not None else 0.0
            if created is not None and created >= started_wall + skew - CLOCK_SLACK_SECONDS:
                return run
        return None


def _describe(error: Exception) -> str:
    if isinstance(error, ApiError):
        return f"HTTP {error.status}: {error.message}"
    if isinstance(error, requests.RequestException):
        return _describe_exception(error)
    return error.__class__.__name__


class _LookupFailed(TriggerFailed):
    def __init__(self) -> None:
        super().__init__(
            "The run may have been created, and the runs list could not be read to check. Not retrying, "
            "so as not to deploy twice: look at the pipeline's release flow runs in Northflank."
        )


def _classify_status(error: ApiError) -> str:
    if error.status in NOT_CREATED_STATUSES:
        return "not-created"
    if error.status == 504:  # the gateway gave up waiting; the API behind it may still create the run
        return "maybe-slow"
    if error.status in MAYBE_CREATED_STATUSES or error.status >= 500:
        return "maybe"
    return "refused"


def _classify_exception(error: requests.RequestException) -> str:
    # Failures before the request left this machine cannot have created anything.
    if isinstance(error, (requests.ConnectTimeout, requests.exceptions.SSLError, requests.exceptions.InvalidURL)):
        return "not-created"
    if isinstance(error, requests.ConnectionError):
        text = repr(error)
        if "NewConnectionError" in text or "NameResolutionError" in text or "Connection refused" in text:
            return "not-created"
    # A read timeout or a connection closed mid-request: the API may still be working on it.
    return "maybe-slow"


def _describe_exception(error: requests.RequestException) -> str:
    if isinstance(error, requests.ConnectTimeout):
        return "connection timed out"
    if isinstance(error, requests.ReadTimeout):
        return "no answer before the read timeout"
    if isinstance(error, requests.exceptions.SSLError):
        return "TLS handshake failed"
    if isinstance(error, requests.ConnectionError):
        text = repr(error)
        if "Connection refused" in text:
            return "connection refused"
        if "NameResolutionError" in text or "Name or service not known" in text:
            return "the API host name does not resolve"
        return "connection closed before an answer"
    return error.__class__.__name__


def _wait_hint(rate_limit: RateLimit) -> float | None:
    if rate_limit.retry_after is not None:
        return rate_limit.retry_after
    if rate_limit.remaining == 0 and rate_limit.reset_seconds is not None:
        return rate_limit.reset_seconds
    return None


CAUSES = {
    400: "the API refused the request body",
    401: "the API token is missing, wrong or revoked: check the secret passed as api-token",
    403: "the token lacks the permission Project > Pipelines > General > Update on this project "
    "(an organisation token also needs team-id)",
    404: "no such project, pipeline or stage: check project-id, pipeline-id and stage (ids, not display names)",
    409: "the release flow refused a new run, most likely because its concurrency policy forbids one while "
    "another is running",
}


def _refused_message(error: ApiError) -> str:
    cause = CAUSES.get(error.status, "the API refused the request")
    return f"Northflank answered HTTP {error.status}: {error.message}. Likely cause: {cause}."


def _unidentified(name: str) -> str:
    return (
        f"The API accepted the run but did not say its id, and no run named {name!r} was found in the runs list; "
        "run-id is empty."
    )


def parse_timestamp(value: Any) -> float | None:
    """Northflank writes `2021-01-01 12:01:00.000Z` (a space, not T); accept ISO 8601 too."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
