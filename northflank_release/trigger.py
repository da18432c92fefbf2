"""Trigger a run exactly once, even when answers are lost.

Northflank has no idempotency key, so every failed attempt is classified:
- not created (connection refused, DNS failure, TLS handshake failure, connect timeout, 429, 503):
  retry after a backoff;
- maybe created (read timeout, connection dropped after sending, 500, 502, 504, a 200 without a run id):
  look the run up by its name, created after this trigger started, for a settling time (longer when the
  API may still be working on the request: a read timeout, a dropped connection, a 504); adopt it, or
  retry only if it never appears; a 200 is never sent again;
- refused (400, 401, 403, 404, 409, any other 4xx, a request that could not be built): no retry.
The whole phase is bounded in attempts and seconds, and a cancellation stops it between requests.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests

from northflank_release.northflank import (
    ApiError,
    NorthflankClient,
    explain_request_exception,
    likely_cause,
    run_from,
)
from northflank_release.request import Target

NOT_CREATED_STATUSES = frozenset({429, 503})
# The API's clock and ours differ by the Date header's one-second resolution plus transit.
CLOCK_SLACK_SECONDS = 2.0
LOOKUP_READ_ATTEMPTS = 3
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
    """The run, when known, and anything the user should be warned about."""

    run: dict[str, Any] | None
    run_id: str
    notes: list[str] = field(default_factory=list)


class TriggerFailed(Exception):
    """The run was not triggered, or could not be confirmed: what happened, in a user's words."""


@dataclass(frozen=True)
class _Failure:
    outcome: str  # "not-created", "maybe", "maybe-slow" or "refused"
    text: str
    wait_hint: float | None = None


@dataclass
class Trigger:
    client: NorthflankClient
    target: Target
    policy: RetryPolicy = RetryPolicy()
    log: Callable[[str], None] = lambda _text: None
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    # Every wait goes through `sleep`, and `check_cancelled` runs before every request: the caller makes
    # both raise on SIGTERM, so a cancelled job stops between requests, never in the middle of one.
    sleep: Callable[[float], None] = time.sleep
    check_cancelled: Callable[[], None] = lambda: None
    requests_sent: int = 0

    def run(self, body: dict[str, Any]) -> TriggerResult:
        name = str(body.get("name", ""))
        started_wall = self.wall_clock()
        deadline = self.clock() + self.policy.max_seconds
        tried: list[str] = []
        last = ""
        for attempt in range(1, self.policy.max_attempts + 1):
            self.check_cancelled()
            try:
                self.requests_sent += 1
                answer = self.client.trigger(self.target, body)
            except ApiError as error:
                failure = _classify_status(error)
            except requests.RequestException as error:
                failure = _classify_exception(error)
            else:
                return self._accepted(answer.data, name, started_wall)

            tried.append(failure.text.split(":")[0])
            last = failure.text
            if failure.outcome == "refused":
                raise TriggerFailed(f"Northflank answered {failure.text}.") from None
            if failure.outcome in ("maybe", "maybe-slow"):
                self.log(f"Attempt {attempt}: {last}. The run may have been created; looking for it before retrying.")
                # A request the API may still be processing can create its run after the client gave up on it.
                settle = self._slow_settle_seconds() if failure.outcome == "maybe-slow" else SETTLE_SECONDS
                found = self._lookup(name, started_wall, min(settle, max(0.0, deadline - self.clock())))
                if found:
                    self.log(f"Found run {found.get('id')} created by attempt {attempt}; using it (no second run).")
                    return TriggerResult(found, str(found["id"]))
            delay = failure.wait_hint if failure.wait_hint is not None else self._backoff(attempt)
            if attempt == self.policy.max_attempts or delay > deadline - self.clock():
                break
            self.log(f"Attempt {attempt}: {last}. Retrying in {delay:.1f}s.")
            self.sleep(delay)
        spent = self.policy.max_seconds - max(0.0, deadline - self.clock())
        raise TriggerFailed(
            f"Could not trigger the release flow after {len(tried)} attempt(s) in {spent:.0f}s "
            f"({', '.join(tried)}); last: {last}. No run named {name!r} was found."
        )

    def _accepted(self, data: Any, name: str, started_wall: float) -> TriggerResult:
        run = run_from(data)
        if run and run.get("id"):
            return TriggerResult(run, str(run["id"]))
        # Accepted, but the answer does not say which run: it exists, so never send it again.
        self.log("The API accepted the run but its answer has no run id; looking the run up by name.")
        try:
            found = self._lookup(name, started_wall, SETTLE_SECONDS)
        except TriggerFailed:
            found = None
        if found:
            return TriggerResult(found, str(found["id"]))
        return TriggerResult(
            None,
            "",
            notes=[
                f"The API accepted the run but did not say its id, and no run named {name!r} could be found "
                "in the runs list; run-id is empty."
            ],
        )

    def _backoff(self, attempt: int) -> float:
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
        for attempt in range(1, LOOKUP_READ_ATTEMPTS + 1):
            self.check_cancelled()
            try:
                return self._find(name, started_wall)
            except ApiError as error:
                self.log(f"Reading the runs list failed ({error}).")
            except requests.RequestException as error:
                self.log(f"Reading the runs list failed ({explain_request_exception(error)[0]}).")
            if attempt < LOOKUP_READ_ATTEMPTS:
                self.sleep(self.policy.base_delay * 2**attempt)
        raise TriggerFailed(
            "The run may have been created, and the runs list could not be read to check. Not retrying, "
            "so as not to deploy twice: look at the pipeline's release flow runs in Northflank."
        )

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


def _classify_status(error: ApiError) -> _Failure:
    text = str(error)
    if error.status in NOT_CREATED_STATUSES:
        return _Failure("not-created", text, error.rate_limit.retry_delay(rate_limited=error.status == 429))
    if error.status == 504:  # the gateway gave up waiting; the API behind it may still create the run
        return _Failure("maybe-slow", text)
    if error.status >= 500:
        return _Failure("maybe", text)
    return _Failure("refused", f"{text}. Likely cause: {likely_cause(error.status, reading=False)}")


def _classify_exception(error: requests.RequestException) -> _Failure:
    text, may_have_arrived = explain_request_exception(error)
    if isinstance(error, (requests.exceptions.InvalidJSONError, requests.exceptions.InvalidHeader)):
        return _Failure("refused", text)  # the same request would fail the same way
    return _Failure("maybe-slow" if may_have_arrived else "not-created", text)


def parse_timestamp(value: Any) -> float | None:
    """Northflank writes `2021-01-01 12:01:00.000Z` (a space, not T); accept ISO 8601 too."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
