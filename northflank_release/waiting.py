"""Follow a run until it concludes, within the timeout and the API's request budget.

Polling starts at the poll interval, backs off gently while nothing changes, and stretches further
when the rate-limit headers say the token's budget (shared by every job using it) would not last
until its reset. Transient read errors are retried; only persistent ones end the wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from northflank_release.cancellation import Cancellation
from northflank_release.inputs import format_duration
from northflank_release.network import explain
from northflank_release.northflank import (
    ApiError,
    NorthflankClient,
    RateLimit,
    UnexpectedAnswer,
    likely_cause,
    run_from,
)
from northflank_release.progress import NodeProgress
from northflank_release.request import Target
from northflank_release.runs import KNOWN_STATUSES, run_state


@dataclass(frozen=True)
class PollPolicy:
    interval: float = 10.0
    growth: float = 1.25  # per unchanged read
    max_interval: float = 30.0  # so a conclusion is noticed within 30 s at the default interval
    budget_reserve: int = 10  # requests left for other jobs sharing the token, and for an abort
    read_error_tolerance: float = 300.0


@dataclass(frozen=True)
class WaitResult:
    run: dict[str, Any] | None
    reason: str  # "concluded", "timeout", "read-failed"
    elapsed: float
    message: str = ""


@dataclass
class Waiter:
    client: NorthflankClient
    target: Target
    policy: PollPolicy
    cancellation: Cancellation
    log: Callable[[str], None]
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    last_run: dict[str, Any] | None = None  # kept on the object so a cancellation still knows the last status

    def wait(self, run_id: str, timeout: float, last_run: dict[str, Any] | None) -> WaitResult:
        start = self.clock()
        deadline = start + timeout
        interval = self.policy.interval
        self.last_run = last_run
        last_status = run_state(last_run).status
        first_error_at: float | None = None
        seen_unknown: set[str] = set()
        self.log(f"[{format_duration(0):>6}] {last_status}")
        nodes = NodeProgress()
        for line in nodes.changes(last_run):
            self.log(f"[{format_duration(0):>6}]   {line}")
        if run_state(last_run).concluded:
            return WaitResult(last_run, "concluded", 0.0)
        # The trigger's answer was the first read, so the loop starts with a sleep.
        delay = interval
        while True:
            remaining = deadline - self.clock()
            with self.cancellation.interruptible():
                # The last sleep ends at the deadline, so the final read happens right at the timeout.
                self.sleep(max(0.0, min(delay, remaining)))
            transient = ""  # what went wrong, when the read failed in a way a later read may not
            try:
                with self.cancellation.interruptible():
                    answer = self.client.get_run(self.target, run_id, within=deadline - self.clock())
            except ApiError as error:
                if error.status == 429:
                    delay = max(error.rate_limit.retry_delay(rate_limited=True) or max(interval * 2, 30.0), 1.0)
                    self.log(f"Rate limited on a status read; next read in {format_duration(delay)}.")
                elif error.status < 500:
                    message = (
                        f"Could not read the run's status: {error}. "
                        f"Likely cause: {likely_cause(error.status, reading=True)}."
                    )
                    return WaitResult(last_run, "read-failed", self.clock() - start, message)
                else:
                    transient = str(error)
            except UnexpectedAnswer as error:
                # Maybe a gateway's passing hiccup, maybe a sign-in page for good: the read-error bound decides.
                transient = str(error)
            except requests.RequestException as error:
                problem = explain(error)
                if problem.persistent:
                    message = f"Could not read the run's status: {problem.text}."
                    return WaitResult(last_run, "read-failed", self.clock() - start, message)
                transient = problem.text
            else:
                first_error_at = None
                run = run_from(answer.data)
                if run is not None:
                    last_run = self.last_run = run
                state = run_state(last_run)
                if state.status != last_status:
                    self.log(f"[{format_duration(self.clock() - start):>6}] {state.status}")
                    if state.status not in KNOWN_STATUSES and state.status not in seen_unknown:
                        seen_unknown.add(state.status)
                        self.log(f"Status {state.status!r} is new to this action; treating it as still in progress.")
                    interval = self.policy.interval
                    last_status = state.status
                else:
                    interval = min(interval * self.policy.growth, max(self.policy.max_interval, self.policy.interval))
                for line in nodes.changes(run) if run is not None else []:
                    self.log(f"[{format_duration(self.clock() - start):>6}]   {line}")
                if state.concluded:
                    return WaitResult(last_run, "concluded", self.clock() - start)
                delay = max(interval, _budget_interval(answer.rate_limit, self.policy.budget_reserve))

            if transient:
                first_error_at = first_error_at if first_error_at is not None else self.clock()
                delay = self._after_read_error(transient, first_error_at, max(delay, interval))
            if first_error_at is not None and self.clock() - first_error_at >= self.policy.read_error_tolerance:
                message = (
                    f"Status reads kept failing for {format_duration(self.clock() - first_error_at)}; "
                    "stopped waiting. The run goes on in Northflank."
                )
                return WaitResult(last_run, "read-failed", self.clock() - start, message)
            if self.clock() >= deadline:
                return WaitResult(last_run, "timeout", self.clock() - start)

    def _after_read_error(self, what: str, first_error_at: float, previous_delay: float) -> float:
        """Log the failed read; the next one waits twice as long as the last wait, up to a minute."""
        failing_for = self.clock() - first_error_at
        self.log(
            f"A status read failed ({what}); retrying. Reads have failed for {format_duration(failing_for)}, "
            f"the wait gives up after {format_duration(self.policy.read_error_tolerance)}."
        )
        return min(max(previous_delay, 1.0) * 2, 60.0)


def _budget_interval(rate_limit: RateLimit, reserve: int) -> float:
    """The interval at which the remaining requests last until the window resets."""
    if rate_limit.remaining is None or rate_limit.reset_seconds is None:
        return 0.0
    usable = max(rate_limit.remaining - reserve, 1)
    return rate_limit.reset_seconds / usable
