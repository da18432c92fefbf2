"""Trigger a run exactly once, even when answers are lost.

Northflank has no idempotency key, so every failed attempt is classified:
- not created (connection refused, DNS failure, TLS handshake failure, connect timeout, 429):
  retry after a backoff;
- maybe created (read timeout, connection dropped after sending, 500, 502, 503, 504): look the run up
  (lookup.py) for a settling time (longer when the API may still be working on the request: a read
  timeout, a dropped connection, a 504); adopt it when it is provably this trigger's, retry only when the
  list proves it was not created, and otherwise fail without resending. A list read that fails proves
  nothing either way, so through an outage the list is read again (paced by the API and a capped backoff)
  until it answers or the budget is spent;
- answered but unreadable (a 2xx that is not the API's JSON, or JSON without the run's id): never sent
  again; the run is looked up, and a body that was not the API's JSON fails the step when it is not found;
- refused (400, 401, 403, 404, 409, any other 4xx, a proxy refusing the tunnel, an unverifiable TLS
  certificate, a request that could not be built): no retry.
The whole phase is bounded in attempts, seconds and list reads, and a cancellation stops it between requests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import requests

from northflank_release import lookup
from northflank_release.api.client import ApiError, NorthflankClient, UnexpectedAnswer, run_from
from northflank_release.api.failures import Failure, classify
from northflank_release.api.target import Target
from northflank_release.causes import with_cause
from northflank_release.lookup import Identity
from northflank_release.pacing import asked_or, backoff, grown
from northflank_release.runs import is_run_id

MAX_LIST_READ_PAUSE = 15.0  # the cap of the backoff between failed list reads while looking for the run
MAX_WALK_PAUSE = 5.0  # the cap of the pause between whole walks while a new run may not be listed yet
MAX_LIST_READS = 40  # for the whole trigger phase: 4% of the hourly budget every job on the token shares
# How long to keep looking for a run that may exist before sending the request again: a short time for the
# list to show a new run, and up to the read timeout (5 to 30 s) when the API may still be processing it.
SETTLE_SECONDS = 3.0
# A read that stands between a proven run and its published id (a status the answer left out, the whole of a
# run found in the list): short, since the id it holds up is what a cancelled or killed job must not lose.
SHORT_READ_SECONDS = 3.0
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
    """The run was not triggered, or could not be confirmed: what happened, in a user's words, and whether
    a run may exist (`may_exist`): the title above the message must not say more than that."""

    def __init__(self, message: str, *, may_exist: bool = False) -> None:
        super().__init__(message)
        self.may_exist = may_exist

    @property
    def title(self) -> str:
        if self.may_exist:
            return "Unknown whether the release flow was triggered"
        return "The release flow was not triggered"


# What a failed request means for the run: not created (send again after a pause); maybe created, and maybe
# still being created (look it up first); unsent for good (a request that cannot be built, a refused tunnel,
# an unverifiable certificate); refused by the API. A failed list read is "transient" or "refused".
Outcome = Literal["not-created", "maybe", "maybe-slow", "unsent", "refused", "transient"]


@dataclass(frozen=True)
class _Failure:
    outcome: Outcome
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
    list_reads: int = 0  # list requests made by the lookups, so they stay within their share of the rate limit
    deadline: float = float("inf")  # on `clock`: when the trigger's retry budget ends; every request is capped by it
    candidates: lookup.Candidates | None = None  # the runs read one by one while looking, set by run()

    def run(self, body: dict[str, Any], *, identifiable: bool) -> TriggerResult:
        """Send the body once; `identifiable` says its description carries this trigger's random marker."""
        name = str(body.get("name", ""))
        arguments = body.get("arguments")
        identity = Identity(
            name=name,
            description=str(body.get("description", "")),
            arguments=arguments if isinstance(arguments, dict) else {},
            started_wall=self.wall_clock(),
            unique=identifiable,
        )
        deadline = self.deadline = self.clock() + self.policy.max_seconds
        self.candidates = lookup.Candidates(self.client, self.target, lambda: self.deadline - self.clock())
        tried: list[str] = []
        last = ""
        for attempt in range(1, self.policy.max_attempts + 1):
            self.check_cancelled()
            try:
                self.requests_sent += 1
                answer = self.client.trigger(self.target, body, within=deadline - self.clock())
            except UnexpectedAnswer as error:
                return self._answered_unreadably(error, identity)
            except (ApiError, requests.RequestException) as error:
                failure = _trigger_outcome(classify(error, self.client.proxy_variables))
            else:
                run = run_from(answer.data) or {}
                if run.get("id") is not None and not is_run_id(run["id"]):
                    # An id that could not be a run's: not the API answering, so judged as an unreadable answer.
                    unreadable = self.client.unexpected(answer, "a run id of letters, digits, '-' and '_'")
                    return self._answered_unreadably(unreadable, identity)
                return self._accepted(answer.data, identity)

            tried.append(failure.text.split(":")[0])
            last = failure.text
            if failure.outcome == "refused":
                raise TriggerFailed(f"Northflank answered {failure.text}.") from None
            if failure.outcome == "unsent":
                raise TriggerFailed(f"Could not send the request: {failure.text}.") from None
            if failure.outcome in ("maybe", "maybe-slow"):
                self.log(f"Attempt {attempt}: {last}. The run may have been created; looking for it before retrying.")
                # A request the API may still be processing can create its run after the client gave up on it.
                settle = self._slow_settle_seconds() if failure.outcome == "maybe-slow" else SETTLE_SECONDS
                walk = self._lookup(identity, settle)
                if walk.found:
                    self.log(
                        f"Found run {walk.found.get('id')} created by attempt {attempt}; using it (no second run)."
                    )
                    return self._adopt(walk.found)
                self._refuse_to_guess(walk, f"the answer to attempt {attempt} was lost ({last})")
            delay = asked_or(
                failure.wait_hint, backoff(attempt, first=self.policy.base_delay, cap=self.policy.max_delay)
            )
            if attempt == self.policy.max_attempts or delay > deadline - self.clock():
                break
            self.log(f"Attempt {attempt}: {last}. Retrying in {delay:.1f}s.")
            self.sleep(delay)
        spent = self.policy.max_seconds - max(0.0, deadline - self.clock())
        raise TriggerFailed(
            f"Could not trigger the release flow after {len(tried)} attempt(s) in {spent:.0f}s "
            f"({', '.join(tried)}); last: {last}. No run named {name!r} was found."
        )

    def _accepted(self, data: dict[str, Any], identity: Identity) -> TriggerResult:
        run = run_from(data)
        if run and run.get("id"):
            return TriggerResult(run, str(run["id"]))
        # Accepted in the API's own JSON, but without saying which run: it exists, so never send it again.
        self.log("The API accepted the run but its answer has no run id; looking the run up by name.")
        try:
            walk = self._lookup(identity, SETTLE_SECONDS)
        except TriggerFailed as failed:
            return TriggerResult(None, "", notes=[f"The API accepted the run but did not say its id. {failed}"])
        if walk.found:
            return self._adopt(walk.found)
        if walk.candidates:
            why = f"runs {_ids(walk.candidates)} match it, but another job could have created them"
        else:
            why = f"no run named {identity.name!r} could be found in the runs list"
        return TriggerResult(
            None, "", notes=[f"The API accepted the run but did not say its id, and {why}; run-id is empty."]
        )

    def _answered_unreadably(self, error: UnexpectedAnswer, identity: Identity) -> TriggerResult:
        """A 2xx that is not the API's JSON: maybe the API behind a mangling proxy, maybe a sign-in page."""
        self.log(f"The trigger was answered with {error}; looking for the run before deciding anything.")
        walk = self._lookup(identity, SETTLE_SECONDS)
        if walk.found:
            self.log(f"Found run {walk.found.get('id')}; using it (no second run).")
            return self._adopt(walk.found)
        self._refuse_to_guess(walk, f"the trigger was answered with {error}")
        raise TriggerFailed(
            f"The trigger was answered with {error}. No run from this job was found in the runs list. Not sending "
            "the request again, since it may have been accepted: look at the pipeline's release flow runs in "
            "Northflank, and check that api-url reaches the Northflank API.",
            may_exist=True,
        )

    def _adopt(self, listed: dict[str, Any]) -> TriggerResult:
        """The run found in the list, read on its own when the budget allows: a listed run carries only the
        list's few fields (no arguments, no flow), and the outputs and the wait want the whole run."""
        run_id = str(listed["id"])
        try:
            run = run_from(
                self.client.get_run(
                    self.target, run_id, within=min(SHORT_READ_SECONDS, self.deadline - self.clock())
                ).data
            )
        except (ApiError, UnexpectedAnswer, requests.RequestException):
            run = None
        return TriggerResult(run or listed, run_id)

    def _refuse_to_guess(self, walk: lookup.Walk, what: str) -> None:
        """Fail when the list cannot prove the run absent: resending could deploy twice, adopting could lie."""
        if walk.candidates:
            raise TriggerFailed(
                f"{what[0].upper()}{what[1:]}. Run(s) {_ids(walk.candidates)} match the request (name, "
                "description and, where a read of the run shows them, arguments), but with a description of your "
                "own the action cannot tell whether this job or another one (a matrix leg, a re-run) created them. "
                "Not adopting them and not sending again: look at the pipeline's release "
                "flow runs in Northflank. Leave description empty to let the action mark its runs uniquely.",
                may_exist=True,
            )
        if not walk.complete:
            raise TriggerFailed(
                f"{what[0].upper()}{what[1:]}. The runs list is longer than the {walk.pages} page(s) the action may "
                "read, and not ordered newest first, so it could not check whether the run was created. Not sending "
                "again, so as not to deploy twice: look at the pipeline's release flow runs in Northflank.",
                may_exist=True,
            )

    def _count_list_read(self) -> None:
        self.list_reads += 1

    def _slow_settle_seconds(self) -> float:
        return min(max(self.client.read_timeout, SLOW_SETTLE_MIN_SECONDS), SLOW_SETTLE_MAX_SECONDS)

    def _lookup(self, identity: Identity, settle: float) -> lookup.Walk:
        """Read the runs list until it proves the run there (found, or candidates that forbid a guess) or
        absent (a whole walk without it, once `settle` seconds have passed: a new run may take a moment to be
        listed). A failed read proves nothing, so it is retried, paced by the API's rate-limit answers and a
        capped backoff, for as long as the trigger's budget lasts: reads are not resends."""
        settled_at = self.clock() + min(settle, max(0.0, self.deadline - self.clock()))
        walk_pause, read_pause = 1.0, 1.0
        failing_since: float | None = None
        failed_reads = 0
        last = ""
        while True:
            self.check_cancelled()
            budget = MAX_LIST_READS - self.list_reads
            if budget <= 0:
                raise TriggerFailed(
                    f"The run may have been created, and the {MAX_LIST_READS} list reads one trigger may use were "
                    f"spent before the runs list could show whether it was (last: {last or 'no failure'}). "
                    f"{_NOT_RESENDING}",
                    may_exist=True,
                )
            try:
                walk = lookup.walk(
                    self.client,
                    self.target,
                    identity,
                    self.wall_clock,
                    min(budget, lookup.MAX_PAGES),
                    time_left=lambda: self.deadline - self.clock(),
                    counted=self._count_list_read,
                )
                if self.candidates is not None:
                    walk = self.candidates.narrow(walk, identity)
            except (ApiError, UnexpectedAnswer, requests.RequestException) as error:
                failure = _list_outcome(classify(error, self.client.proxy_variables))
                last = failure.text
                if failure.outcome == "refused":
                    raise TriggerFailed(
                        f"The run may have been created, and the runs list could not be read to check "
                        f"({last}). {_NOT_RESENDING}",
                        may_exist=True,
                    ) from None
                failed_reads += 1
                if failing_since is None:
                    failing_since = self.clock()
                delay = asked_or(failure.wait_hint, read_pause)
                read_pause = grown(read_pause, cap=MAX_LIST_READ_PAUSE)
                self.log(
                    f"Reading the runs list failed ({last}); reading it again in {delay:.1f}s "
                    f"(failing for {self.clock() - failing_since:.0f}s)."
                )
                if delay > self.deadline - self.clock():
                    raise TriggerFailed(
                        f"The run may have been created, and the runs list could not be read to check: the API "
                        f"was unreachable for the whole {self.policy.max_seconds:.0f}s the trigger may take "
                        f"({failed_reads} failed list read(s) over {self.clock() - failing_since:.0f}s; last: "
                        f"{last}). {_NOT_RESENDING}",
                        may_exist=True,
                    ) from None
                self.sleep(delay)
                continue
            if failing_since is not None:
                self.log(f"The runs list answers again, after {self.clock() - failing_since:.0f}s of failed reads.")
                failing_since, read_pause = None, 1.0
            remaining = settled_at - self.clock()
            if walk.found or walk.candidates or not walk.complete or remaining <= 0:
                return walk
            self.sleep(min(walk_pause, remaining))
            walk_pause = grown(walk_pause, cap=MAX_WALK_PAUSE)


_NOT_RESENDING = (
    "Not retrying, so as not to deploy twice: look at the pipeline's release flow runs in Northflank, and re-run "
    "the job only if the run is not there."
)


def _ids(runs: list[dict[str, Any]]) -> str:
    return ", ".join(str(run.get("id")) for run in runs[:5]) + (" and more" if len(runs) > 5 else "")


def _trigger_outcome(failure: Failure) -> _Failure:
    """What a failed trigger means for sending it again (api/failures.py judged the failure)."""
    if failure.arrival == "refused":
        return _Failure("refused", with_cause(failure, reading=False))
    if failure.arrival == "late":
        return _Failure("maybe-slow", failure.text, failure.pause)
    if failure.arrival == "maybe":
        return _Failure("maybe", failure.text, failure.pause)
    if failure.lasting:
        return _Failure("unsent", failure.text)
    return _Failure("not-created", failure.text, failure.pause)


def _list_outcome(failure: Failure) -> _Failure:
    """A failed list read: "refused" when reading again cannot help (the token may not read runs, no such flow,
    a request that cannot be sent), else "transient", with the API's own pause when it asked for one."""
    if failure.lasting:
        return _Failure("refused", with_cause(failure, reading=True))
    return _Failure("transient", failure.text, failure.pause)
