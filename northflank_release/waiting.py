"""Follow a run until it concludes, within the timeout and the API's request budget.

Before the first status read, one read of the runs list gives the flow's recent successful runs, and so
when this one is likely to end (expectation.py); for a run expected to take a minute or more, one read of
the latest success adds its nodes' timings. With that, polling is sparse early (the usual growing
interval), close around the expected end, and backs off again if the run overruns. Without history it
starts at the poll interval, backs off gently while nothing changes, and starts over when the status
moves. Whatever the history, no gap between status reads is longer than the interval's cap (30 s at the
default poll-interval), so a run is noticed within that long of its end even after runs that took
minutes and hours. Either way it stretches further when the rate-limit headers say the token's budget
(shared by every job using it) would not last until its reset. Transient read errors are retried until
the timeout, with a backoff capped at a minute; only persistent ones (401, 403, 404) end the wait early.

Where the run is waiting is said once, as a notice (situation.py): awaiting approval (and, with
stop-at-approval, the wait ends there), queued behind another run (one list read names the runs ahead), the
flow paused. A run that ends aborted or skipped under a `latest` or `replace` policy is looked for in one list
read of the runs after it: the newer run that superseded it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from math import inf
from typing import Any

import requests

from northflank_release.api.client import (
    ApiAnswer,
    ApiError,
    NorthflankClient,
    UnexpectedAnswer,
    run_from,
)
from northflank_release.api.failures import classify
from northflank_release.api.target import Target
from northflank_release.cancellation import Cancellation
from northflank_release.causes import with_cause
from northflank_release.expectation import LIST_PER_PAGE, Expectation, expectation_from
from northflank_release.pacing import asked_or, budget_interval, grown
from northflank_release.progress import NodeProgress
from northflank_release.runs import KNOWN_STATUSES, run_state
from northflank_release.situation import (
    approval_notice,
    approval_since,
    may_be_superseded,
    newer_runs,
    options,
    paused_notice,
    queued_notice,
    runs_ahead,
)
from northflank_release.text import format_duration

# A 429 that names no pause: wait at least this long (or two intervals), since the rate window is spent.
RATE_LIMITED_PAUSE = 30.0


@dataclass(frozen=True)
class PollPolicy:
    interval: float = 10.0
    growth: float = 1.25  # per unchanged read
    max_interval: float = 30.0  # so a conclusion is noticed within 30 s at the default interval
    budget_reserve: int = 10  # requests left for other jobs sharing the token, and for an abort
    max_error_delay: float = 60.0  # the cap of the backoff between failed reads while the API is away
    # Around the expected end, reads come this fraction of the interval apart (3 s at the default 10 s), or
    # a quarter of the history's window when runs vary more, so that stretch costs about eight reads.
    close_fraction: float = 0.3
    overrun_backoff: float = 0.5  # past the window, the next read waits this fraction of the overrun


@dataclass(frozen=True)
class WaitResult:
    run: dict[str, Any] | None
    reason: str  # "concluded", "timeout", "read-failed", "approval" (stop-at-approval)
    elapsed: float
    message: str = ""
    approval_since: float | None = None  # Unix seconds: when the run, still awaiting approval, began to
    newer_run: dict[str, Any] | None = None  # the run that superseded this one (latest, replace)


@dataclass(frozen=True)
class _Read:
    """One status read: the answer, or a failure that a later read may not repeat (`retry`), or one it will."""

    answer: ApiAnswer | None = None
    retry: str = ""  # what went wrong, for a failure worth reading again
    rate_limited: bool = False  # a 429: the API is there, and asks for a pause
    retry_after: float | None = None  # the pause it asked for
    fatal: str = ""  # the message that ends the wait


@dataclass
class _Outage:
    """Failed reads in a row: since when, and how long to wait before the next one."""

    since: float
    delay: float


@dataclass
class Waiter:
    """Reads the run until it concludes or `timeout` is reached. A read that fails in a way a later one may not
    (5xx, a page that is not the API's, a reset, a timeout, a proxy error) only delays the answer, whatever
    its length: only the timeout ends the wait then. A refusal that will not change (401, 403, 404) ends it."""

    client: NorthflankClient
    target: Target
    policy: PollPolicy
    cancellation: Cancellation
    log: Callable[[str], None]
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    warn: Callable[[str], None] = lambda _text: None  # once, when the API stops answering
    notice: Callable[[str], None] = lambda _text: None  # once, when it answers again
    state_notice: Callable[[str, str], None] = lambda _title, _text: None  # where the run waits, once each
    stop_at_approval: bool = False  # end the wait, successfully, once the run awaits approval
    wall_clock: Callable[[], float] = time.time
    last_run: dict[str, Any] | None = None  # kept on the object so a cancellation still knows the last status
    # The state of the current wait, set by wait().
    _start: float = field(default=0.0, init=False, repr=False)
    _status: str = field(default="", init=False, repr=False)
    _seen_unknown: set[str] = field(default_factory=set, init=False, repr=False)
    _nodes: NodeProgress = field(default_factory=NodeProgress, init=False, repr=False)
    _expectation: Expectation = field(default_factory=Expectation, init=False, repr=False)
    _approval_since: float | None = field(default=None, init=False, repr=False)
    _announced: set[str] = field(default_factory=set, init=False, repr=False)
    _deadline: float = field(default=0.0, init=False, repr=False)

    def wait(self, run_id: str, timeout: float, last_run: dict[str, Any] | None) -> WaitResult:
        self._start = self.clock()
        deadline = self._start + timeout
        self.last_run = last_run
        self._status = run_state(last_run).status
        self._seen_unknown = set()
        self._nodes = NodeProgress()
        self._approval_since, self._announced, self._deadline = None, set(), deadline
        self._log_at(0.0, self._status)
        for line in self._nodes.changes(last_run):
            self._log_at(0.0, f"  {line}")
        if run_state(last_run).concluded:
            return self._concluded(run_id)
        if self._situation(run_id):
            return self._result("approval")
        interval = self.policy.interval
        outage: _Outage | None = None
        # The trigger's answer was the first read, so the loop starts with a sleep.
        delay = self._history(run_id, interval, within=deadline - self.clock())
        while True:
            with self.cancellation.interruptible():
                # The last sleep ends at the deadline, so the final read happens right at the timeout.
                self.sleep(max(0.0, min(delay, deadline - self.clock())))
            read = self._read(run_id, within=deadline - self.clock())
            if read.fatal:
                return WaitResult(self.last_run, "read-failed", self._elapsed(), read.fatal)
            if read.answer is not None:
                if outage is not None:
                    self.notice(
                        f"The Northflank API answers again, after {format_duration(self.clock() - outage.since)}."
                    )
                    outage = None
                interval, concluded = self._take(read.answer, interval)
                if concluded:
                    return self._concluded(run_id)
                if self._situation(run_id):
                    return self._result("approval")
                delay = max(self._delay(interval), budget_interval(read.answer.rate_limit, self.policy.budget_reserve))
            elif read.rate_limited:
                delay = max(asked_or(read.retry_after, max(grown(interval, cap=inf), RATE_LIMITED_PAUSE)), 1.0)
                self.log(f"Rate limited on a status read; next read in {format_duration(delay)}.")
            else:
                outage = self._failed(read.retry, outage, max(delay, interval))
                delay = outage.delay
            if self.clock() >= deadline:
                message = (
                    f"The Northflank API has not answered since {format_duration(outage.since - self._start)} into "
                    f"the wait ({read.retry})."
                    if outage is not None
                    else ""
                )
                return self._result("timeout", message)

    def _result(self, reason: str, message: str = "") -> WaitResult:
        return WaitResult(self.last_run, reason, self._elapsed(), message, approval_since=self._approval_since)

    def _concluded(self, run_id: str) -> WaitResult:
        """The run has concluded; when it may have been superseded, the newer run, from one list read."""
        newer = None
        if may_be_superseded(self.last_run, run_state(self.last_run).status):
            found = newer_runs(self.last_run, self._list({"per_page": str(LIST_PER_PAGE)}) or [])
            newer = found[0] if found else None
        return WaitResult(self.last_run, "concluded", self._elapsed(), newer_run=newer)

    def _situation(self, run_id: str) -> bool:
        """Say once where the run waits (approval, queue, a paused flow); True when the wait ends here."""
        status = run_state(self.last_run).status
        if status != "approval_wait":
            self._approval_since = None
        elif self._approval_since is None:
            self._approval_since = approval_since(self.last_run, self.wall_clock())
            self.state_notice(
                "Awaiting approval",
                approval_notice(run_id, self.last_run, self._approval_since, self.stop_at_approval),
            )
        if status == "queued" and "queued" not in self._announced:
            self._announced.add("queued")
            listed = self._list({"per_page": str(LIST_PER_PAGE), "concluded": "false"})
            ahead = runs_ahead(self.last_run, listed) if listed is not None else None
            self.state_notice("Queued", queued_notice(run_id, self.last_run, ahead))
        if options(self.last_run).paused and "paused" not in self._announced:
            self._announced.add("paused")
            self.state_notice("Release flow paused", paused_notice(run_id))
        return status == "approval_wait" and self.stop_at_approval

    def _list(self, params: dict[str, str]) -> list[dict[str, Any]] | None:
        """One page of the runs list, within the time left; None when it cannot be read."""
        try:
            with self.cancellation.interruptible():
                return self.client.list_page(self.target, params, within=self._deadline - self.clock()).runs
        except (ApiError, UnexpectedAnswer, requests.RequestException):
            return None

    def _history(self, run_id: str, interval: float, within: float) -> float:
        """One read of the runs list, taking no longer than `within` (the time left before the timeout): the
        expectation, and the delay before the first status read. Any failure leaves the wait as it is without
        history (a 429 still paces the first read)."""
        self._expectation = Expectation()
        try:
            with self.cancellation.interruptible():
                params = {"per_page": str(LIST_PER_PAGE), "status": "success"}
                page = self.client.list_page(self.target, params, within=within)
        except (ApiError, UnexpectedAnswer, requests.RequestException) as error:
            pause = classify(error, self.client.proxy_variables, proxy_refusal_lasts=False).pause
            return max(interval, pause or 0.0)
        self._expectation = expectation_from(page.runs, exclude=run_id)
        budget = budget_interval(page.answer.rate_limit, self.policy.budget_reserve)
        if not self._expectation:
            return max(interval, budget)
        if self._expectation.worth_reading_nodes():
            self._expectation = self._expectation.with_nodes(self._read_past(self._expectation.latest_id, within))
        self.log(
            f"Recent runs of this flow took {format_duration(self._expectation.duration)} (median of "
            f"{len(self._expectation.history)}); reading closely around then."
        )
        return max(self._delay(interval), budget)

    def _read_past(self, run_id: str, within: float) -> dict[str, Any] | None:
        """One read of a past run, for its nodes; any failure only means no node timings."""
        try:
            with self.cancellation.interruptible():
                return run_from(self.client.get_run(self.target, run_id, within=within).data)
        except (ApiError, UnexpectedAnswer, requests.RequestException):
            return None

    def _delay(self, interval: float) -> float:
        """The wait before the next status read. Without history, the growing interval. With it: that interval
        while the expected end is far, capped so a read falls where the window around it opens; close reads
        in the window; past it, a wait that grows with the overrun, up to the interval's cap."""
        if not self._expectation:
            return interval
        now = self._elapsed()
        end = self._expectation.end(self.last_run)
        window = self._expectation.window
        # The cap holds whatever the history: a window of hours (runs of 1 min and 1 h) would otherwise space
        # the reads a quarter of it apart, and a run ending early in it would go unnoticed for many minutes.
        cap = max(self.policy.max_interval, self.policy.interval)
        close = min(max(self.policy.interval * self.policy.close_fraction, window / 4, 1.0), cap)
        if now < end - window:
            return max(close, min(interval, end - window - now))
        if now <= end + window:
            return close
        return min(max(close, (now - end - window) * self.policy.overrun_backoff), cap)

    def _read(self, run_id: str, within: float) -> _Read:
        """One status read, whose request may take no longer than `within` (the time left before the timeout)."""
        try:
            with self.cancellation.interruptible():
                return _Read(answer=self.client.get_run(self.target, run_id, within=within))
        except (ApiError, UnexpectedAnswer, requests.RequestException) as error:
            failure = classify(error, self.client.proxy_variables, proxy_refusal_lasts=False)
        if failure.status == 429:
            return _Read(retry=failure.text, rate_limited=True, retry_after=failure.pause)
        if failure.lasting:
            return _Read(fatal=f"Could not read the run's status: {with_cause(failure, reading=True)}.")
        return _Read(retry=failure.text)  # a 5xx, a gateway's page, a reset, a timeout: the timeout decides

    def _take(self, answer: ApiAnswer, interval: float) -> tuple[float, bool]:
        """Note what the answer says; the next interval (back to the start when the status moved, unless the
        history says when the run ends) and whether the run has concluded."""
        run = run_from(answer.data)
        if run is not None:
            self.last_run = run
        state = run_state(self.last_run)
        moved = state.status != self._status
        if moved:
            self._log_at(self._elapsed(), state.status)
            if state.status not in KNOWN_STATUSES and state.status not in self._seen_unknown:
                self._seen_unknown.add(state.status)
                self.log(f"Status {state.status!r} is new to this action; treating it as still in progress.")
            self._status = state.status
        if moved and not self._expectation:
            interval = self.policy.interval
        else:
            interval = grown(
                interval, factor=self.policy.growth, cap=max(self.policy.max_interval, self.policy.interval)
            )
        for line in self._nodes.changes(run) if run is not None else []:
            self._log_at(self._elapsed(), f"  {line}")
        return interval, state.concluded

    def _failed(self, what: str, outage: _Outage | None, previous_delay: float) -> _Outage:
        """A failed read: warn once when the API stops answering; each next read waits twice as long as the
        last wait, up to `max_error_delay`."""
        delay = grown(previous_delay, cap=self.policy.max_error_delay, floor=1.0)
        if outage is None:
            self.warn(
                f"The Northflank API is not answering status reads ({what}). Still waiting for the run, reading "
                "again with a growing pause, until the timeout; the run goes on in Northflank meanwhile."
            )
            outage = _Outage(self.clock(), delay)
        self.log(
            f"A status read failed ({what}); next read in {format_duration(delay)}. "
            f"Reads have failed for {format_duration(self.clock() - outage.since)}."
        )
        outage.delay = delay
        return outage

    def _elapsed(self) -> float:
        return self.clock() - self._start

    def _log_at(self, elapsed: float, text: str) -> None:
        self.log(f"[{format_duration(elapsed):>6}] {text}")
