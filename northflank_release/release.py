"""The sending half of a run: trigger, outputs, wait, abort, and the verdict that becomes the exit status."""

from __future__ import annotations

import signal
import time
from typing import Any

import requests

from northflank_release.api.client import ApiError, UnexpectedAnswer, run_from
from northflank_release.api.failures import Failure, classify
from northflank_release.api.target import Target
from northflank_release.cancellation import ANSWER_GRACE_SECONDS, NOTHING_SENT, Cancellation, Cancelled
from northflank_release.causes import with_cause
from northflank_release.connection import client_for
from northflank_release.github import Runner, json_output
from northflank_release.request import NAME_PATTERN, RunRequest
from northflank_release.runs import failed_nodes, output_status, output_timestamp, run_state
from northflank_release.settings import Settings
from northflank_release.summary import trigger_summary, wait_summary
from northflank_release.text import format_duration
from northflank_release.trigger import SHORT_READ_SECONDS, RetryPolicy, Trigger, TriggerFailed

ABORT_TIMEOUT_ON_CANCEL = 1.5  # the runner kills the container soon after SIGTERM
ABORT_TIMEOUT_AFTER_WAIT = 5.0  # so the step ends a few seconds after `timeout`, whatever the API does
FOLLOW_READ_SECONDS = 40.0  # the first read of a followed run: the client's own connect and read timeouts

_FOLLOW_READ_FAILED = "Could not read the run to follow"
_FOLLOW_TITLES = {404: "Run to follow not found"}
_FOLLOW_SUMMARY_TITLE = "Following a Northflank release flow run"


class Release:
    """Trigger a run and follow it (`run`), or follow a run that exists (`follow`, where `request` is None)."""

    def __init__(self, settings: Settings, request: RunRequest | None, runner: Runner, cancellation: Cancellation):
        self.settings = settings
        self.request = request
        self.target = (
            request.target
            if request is not None
            else Target(settings.project_id, settings.pipeline_id, settings.stage, settings.team_id)
        )
        # The run-name output: the name sent, or for a followed run the name the API gives it.
        self.run_name = request.name if request is not None else ""
        self.runner = runner
        self.cancellation = cancellation
        self.client = client_for(settings, debug=runner.debug)
        self.trigger: Trigger | None = None
        self.run_id = ""  # once set, it is in the outputs (a followed run: the one given)
        self.accepted = False  # the trigger ended with a run, its id known or not
        cancellation.announce = self.announce_signal

    def announce_signal(self, signum: int) -> None:
        """What is known when a signal arrives, in the log at once: the process may be killed before it ends."""
        sent = self.trigger.requests_sent if self.trigger is not None else 0
        if self.request is None:
            known = f"following run {self.run_id}; this step triggered nothing"
        elif self.run_id:
            known = f"run {self.run_id} was triggered, and its id is in the step's outputs (run-id)"
        elif self.accepted:
            known = "the run was triggered, but its id is unknown (the API's answer did not say it)"
        elif sent:
            known = (
                "the trigger request was sent and its answer has not come: the run may have been created. Waiting "
                f"up to {ANSWER_GRACE_SECONDS:.0f}s for the answer to learn its id"
            )
        else:
            known = "nothing was sent to Northflank"
        self.runner.info_now(f"Received {signal.Signals(signum).name}: {known}.")

    def run(self) -> int:
        assert self.request is not None  # main builds one unless run-id is given, and then calls follow()
        self.runner.info(
            f"Triggering the {self.target.stage} release flow of pipeline {self.target.pipeline_id}: "
            f"{self.request.name!r}"
        )
        trigger = Trigger(
            self.client,
            self.target,
            RetryPolicy(max_seconds=self.settings.trigger_retry_seconds),
            log=self.runner.info,
            sleep=self.interruptible_sleep,
            check_cancelled=self.cancellation.check,
        )
        self.trigger = trigger
        try:
            result = trigger.run(self.request.body, identifiable=self.request.identifiable)
        except TriggerFailed as failed:
            self.runner.error(str(failed), title=failed.title)
            return 1
        except Cancelled as cancelled:
            sent = trigger.requests_sent
            self.runner.error(
                NOTHING_SENT
                if sent == 0
                else f"The job was cancelled while triggering, after {sent} request(s) whose answers were lost "
                "or refused: look at the pipeline's release flow runs in Northflank before running it again.",
                title="Cancelled",
            )
            return cancelled.exit_code
        run = result.run
        # Publish first: the id goes out before anything else can fail, hang or be killed (a read, writing the
        # whole answer, the summary, the wait). Nothing after this line can take it back.
        self.run_id, self.accepted = result.run_id, True
        self.runner.set_outputs(run_outputs(run, result.run_id, self.request.name, with_response=False))
        self.runner.info(f"Triggered run {result.run_id or '(id unknown)'}: status {run_state(run).status}.")
        for note in result.notes:
            self.runner.warning(note, title="Run id unknown")
        if result.run_id and not (run or {}).get("status") and self.cancellation.signum is None:
            run = self.read_once(result.run_id) or run
            if (run or {}).get("status"):
                self.runner.info(f"Run {result.run_id} is {run_state(run).status}.")
        self.publish(run, result.run_id)
        self.runner.append_summary(
            trigger_summary(self.target, run, result.run_id, self.request.name, self.settings.api_url)
        )
        if self.cancellation.signum is not None:
            # The signal came while the trigger request was in flight: the run exists, say so and stop.
            return self.cancelled(result.run_id, run, Cancelled(self.cancellation.signum), waiting=False)
        if not self.settings.wait:
            return 0
        if not result.run_id:
            self.runner.error("Cannot wait for the run: its id is unknown.", title="Cannot wait for the run")
            return 1
        return self.wait(result.run_id, run)

    def follow(self, run_id: str) -> int:
        """Follow a run that exists: one read that must find it, then the same outputs, summary, waiting,
        abort and cancellation as for a run this action triggered."""
        self.run_id = run_id
        self.runner.info(
            f"Following run {run_id} of the {self.target.stage} release flow of pipeline {self.target.pipeline_id}."
        )
        try:
            with self.cancellation.interruptible():
                answer = self.client.get_run(self.target, run_id, within=FOLLOW_READ_SECONDS)
        except Cancelled as cancelled:
            return self.cancelled(run_id, None, cancelled, waiting=False, when="before the run could be read")
        except (ApiError, UnexpectedAnswer, requests.RequestException) as error:
            # Judged as the wait judges a status read, which it hands over to: a refusal that will not change
            # ends here, anything else (5xx, 408, 429, a reset, a page that is not the API's) only delays.
            failure = classify(error, self.client.proxy_variables, proxy_refusal_lasts=False)
            if failure.arrival == "refused":
                title = _FOLLOW_TITLES.get(failure.status or 0, _FOLLOW_READ_FAILED)
                self.runner.error(_follow_refused(failure, run_id, self.target), title=title)
                return 1
            problem = failure.text
            if failure.lasting:  # nothing was sent, and sending again cannot change that (a certificate)
                self.runner.error(f"Could not read run {run_id}: {problem}.", title=_FOLLOW_READ_FAILED)
                return 1
            if not self.settings.wait:
                self.runner.error(f"Could not read run {run_id}: {problem}.", title=_FOLLOW_READ_FAILED)
                return 1
            # The wait reads again until its timeout, as it does for a status read that fails mid-way.
            self.runner.warning(
                f"Could not read run {run_id} ({problem}); reading it again while waiting.", title=_FOLLOW_READ_FAILED
            )
            run = None
        else:
            run = run_from(answer.data)
        self.run_name = followed_name(run)
        self.publish(run, run_id)
        state = run_state(run)
        self.runner.info(
            f"Run {run_id} is {state.status}" + (" (concluded)." if state.concluded else " (not concluded yet).")
        )
        self.runner.append_summary(
            trigger_summary(self.target, run, run_id, self.run_name, self.settings.api_url, title=_FOLLOW_SUMMARY_TITLE)
        )
        if not self.settings.wait:
            return 0
        return self.wait(run_id, run)

    def wait(self, run_id: str, run: dict[str, Any] | None) -> int:
        # The waiting half (the poll schedule and its history, node progress) loads only in runs that wait: about
        # 5 ms of imports a trigger alone never uses (-X importtime, median of 11; tests/e2e/test_lazy_imports.py
        # pins it).
        from northflank_release.waiting import PollPolicy, Waiter

        waiter = Waiter(
            self.client,
            self.target,
            PollPolicy(interval=self.settings.poll_interval),
            self.cancellation,
            log=self.runner.info,
            warn=lambda text: self.runner.warning(text, title="Northflank API unreachable"),
            notice=lambda text: self.runner.notice(text, title="Northflank API back"),
            state_notice=lambda title, text: self.runner.notice(text, title=title),
            stop_at_approval=self.settings.stop_at_approval,
        )
        title = f"Waiting up to {format_duration(self.settings.timeout)} for run {self.run_name or run_id!r}"
        try:
            with self.runner.group(title):
                result = waiter.wait(run_id, self.settings.timeout, run)
        except Cancelled as cancelled:
            return self.cancelled(run_id, waiter.last_run, cancelled)
        run = result.run
        if self.request is None and not self.run_name:  # a followed run whose first read failed: named now
            self.run_name = followed_name(run)
        status_when_waiting_ended = run_state(run).status
        aborted = None
        # A run awaiting approval waits for a person's decision, which a timeout is not: abort-on-timeout leaves
        # it to them (cancelling the job, an explicit act, still aborts it: see cancelled()).
        awaiting = status_when_waiting_ended == "approval_wait"
        if result.reason == "timeout" and self.settings.abort_on_timeout and not awaiting:
            aborted = self.abort(run_id, ABORT_TIMEOUT_AFTER_WAIT)
            run = aborted or run
        self.publish(run, run_id)
        self.runner.append_summary(
            wait_summary(run, result.reason, result.elapsed, result.message, since=result.approval_since)
        )
        if result.reason == "approval":
            self.runner.info(
                f"The run is awaiting approval after {format_duration(result.elapsed)}; the step ends here "
                "(stop-at-approval)."
            )
            return 0
        if result.reason == "concluded" and status_when_waiting_ended != "success":
            explained = self.explain_end(status_when_waiting_ended, run, result.newer_run, result.elapsed)
            if explained is not None:
                return explained
        if result.reason == "timeout" and awaiting:
            return self.timed_out_awaiting_approval(result.approval_since)
        return self.verdict(
            result.reason, result.elapsed, result.message, status_when_waiting_ended, run, aborted is not None
        )

    def explain_end(
        self, status: str, run: dict[str, Any] | None, newer: dict[str, Any] | None, seconds: float
    ) -> int | None:
        """The failure of a run that was superseded or skipped, said as such; None for any other end."""
        from northflank_release.situation import may_be_superseded, skipped_text, superseded_text

        elapsed = format_duration(seconds)
        if may_be_superseded(run, status):
            self.runner.error(
                f"The release flow run ended {status} after {elapsed}. {superseded_text(run, status, newer)}",
                title="Release superseded by a newer run",
            )
            return 1
        if status == "skipped":
            self.runner.error(
                f"The release flow run ended skipped after {elapsed}. {skipped_text()} See the run in Northflank.",
                title="Release skipped",
            )
            return 1
        return None

    def timed_out_awaiting_approval(self, since: float | None) -> int:
        from northflank_release.situation import utc

        when = f" since {utc(since)}" if since is not None else ""
        aftermath = (
            " abort-on-timeout does not abort a run awaiting approval: approve or reject it in Northflank."
            if self.settings.abort_on_timeout
            else " It stays there until someone approves or rejects it in Northflank."
        )
        self.runner.error(
            f"The run is still awaiting approval{when}, after {format_duration(self.settings.timeout)} (timeout)."
            f"{aftermath} Set stop-at-approval: true to end the step once the run reaches approval.",
            title="Timed out awaiting approval",
        )
        return 1

    def verdict(
        self, reason: str, seconds: float, message: str, status: str, run: dict[str, Any] | None, aborted: bool
    ) -> int:
        """The exit status for how the wait ended (`reason`, after `seconds`, with `message`)."""
        elapsed = format_duration(seconds)
        if reason == "concluded" and status == "success":
            self.runner.info(f"The release flow run succeeded after {elapsed}.")
            return 0
        if reason == "concluded":
            failed = failed_nodes(run)  # the one that failed first, first
            detail = "; ".join(f"{node.name}: {node.error or node.status}" for node in failed[:5])
            detail += f"; and {len(failed) - 5} more" if len(failed) > 5 else ""
            self.runner.error(
                f"The release flow run ended with status {status} after {elapsed}"
                + (f". Failed: {detail}" if detail else ". No node reported an error; see the run in Northflank."),
                title=f"Release {status}",
            )
            return 1
        if reason == "timeout":
            if aborted:
                aftermath = " The run was aborted (abort-on-timeout)."
            elif self.settings.abort_on_timeout:
                aftermath = " Aborting the run failed; it may go on in Northflank."
            else:
                aftermath = " The run goes on in Northflank; set abort-on-timeout: true to abort it instead."
            limit = format_duration(self.settings.timeout)
            outage = f" {message}" if message else ""
            self.runner.error(
                f"The run is still {status} after {limit} (timeout).{outage}{aftermath}",
                title="Timed out waiting for the release",
            )
            return 1
        self.runner.error(message, title="Stopped waiting for the release")
        return 1

    def cancelled(
        self,
        run_id: str,
        run: dict[str, Any] | None,
        cancelled: Cancelled,
        waiting: bool = True,
        when: str = "as the run was triggered",
    ) -> int:
        note = " The run goes on in Northflank."
        if self.settings.abort_on_timeout and self.settings.wait and run_id:
            aborted = self.abort(run_id, ABORT_TIMEOUT_ON_CANCEL)
            run = aborted or run
            note = " The run was aborted." if aborted else " Aborting the run failed; it may go on in Northflank."
        self.publish(run, run_id)
        when = "while waiting" if waiting else when
        self.runner.error(
            f"The job was cancelled ({cancelled}) {when}; the run was {run_state(run).status}.{note}",
            title="Cancelled while waiting for the release" if waiting else "Cancelled",
        )
        return cancelled.exit_code

    def abort(self, run_id: str, timeout: float | None) -> dict[str, Any] | None:
        # A read interrupted by the signal may have left a half-used connection in the pool.
        self.client.reset_connections()
        try:
            answer = self.client.abort_run(self.target, run_id, timeout=timeout)
        except (ApiError, UnexpectedAnswer) as error:
            self.runner.warning(str(error), title="Could not abort the run")
            return None
        except Exception as error:  # noqa: BLE001 - an abort is best effort while the job ends
            self.runner.warning(error.__class__.__name__, title="Could not abort the run")
            return None
        self.runner.info(f"Asked Northflank to abort run {run_id}.")
        run = run_from(answer.data)
        if run is not None and not run.get("status"):
            run = {**run, "status": "aborting"}
        return run

    def interruptible_sleep(self, seconds: float) -> None:
        with self.cancellation.interruptible():
            time.sleep(seconds)

    def read_once(self, run_id: str) -> dict[str, Any] | None:
        """The status the trigger's answer left out: one short read that a signal cuts at once (the id is
        already published, so a cancelled job only ends sooner)."""
        try:
            with self.cancellation.interruptible():
                return run_from(self.client.get_run(self.target, run_id, within=SHORT_READ_SECONDS).data)
        except Cancelled:
            return None  # run() sees the signal and reports the cancellation
        except Exception:  # noqa: BLE001 - the trigger worked; a missing status is not worth failing for
            return None

    def publish(self, run: dict[str, Any] | None, run_id: str) -> None:
        self.runner.set_outputs(run_outputs(run, run_id, self.run_name))


def run_outputs(
    run: dict[str, Any] | None, run_id: str, run_name: str, *, with_response: bool = True
) -> dict[str, str]:
    """What later steps read: each value one we can vouch for (the run id was checked when it arrived), and
    the name the one we sent, as documented, whatever the API calls the run. Without `with_response`: the
    small values only, written the moment the run is known, before the whole answer is serialised."""
    state = run_state(run)
    small = {
        "run-id": run_id,
        "run-name": run_name,
        "status": output_status(state.status),
        "concluded": "true" if state.concluded else "false",
        "started-at": output_timestamp(state.started_at),
        "concluded-at": output_timestamp(state.concluded_at),
    }
    if not with_response:
        return small
    return {**small, "response": json_output(run) if run is not None else ""}


def followed_name(run: dict[str, Any] | None) -> str:
    """The run-name output of a followed run: the API's name when it is one the API's own pattern allows (it
    goes to later steps as an output), else empty."""
    name = (run or {}).get("name")
    return name if isinstance(name, str) and NAME_PATTERN.fullmatch(name) and len(name) <= 39 else ""


def _follow_refused(failure: Failure, run_id: str, target: Target) -> str:
    if failure.status == 404:
        return (
            f"Run {run_id} was not found in the {target.stage} release flow of pipeline {target.pipeline_id} in "
            f"project {target.project_id} ({failure.text}). Check run-id, and that project-id, pipeline-id, stage (and "
            "team-id) are those of the step that triggered the run."
        )
    return f"Could not read run {run_id}: {with_cause(failure, reading=True)}."
