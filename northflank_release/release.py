"""The sending half of a run: trigger, outputs, wait, abort, and the verdict that becomes the exit status."""

from __future__ import annotations

import time
from typing import Any

from northflank_release.api.client import ApiError, NorthflankClient, UnexpectedAnswer, run_from
from northflank_release.cancellation import NOTHING_SENT, Cancellation, Cancelled
from northflank_release.github import Runner, json_output
from northflank_release.request import RunRequest
from northflank_release.runs import failed_nodes, output_status, output_timestamp, run_state
from northflank_release.settings import Settings
from northflank_release.summary import trigger_summary, wait_summary
from northflank_release.text import format_duration
from northflank_release.trigger import RetryPolicy, Trigger, TriggerFailed

ABORT_TIMEOUT_ON_CANCEL = 1.5  # the runner kills the container soon after SIGTERM
ABORT_TIMEOUT_AFTER_WAIT = 5.0  # so the step ends a few seconds after `timeout`, whatever the API does


class Release:
    def __init__(self, settings: Settings, request: RunRequest, runner: Runner, cancellation: Cancellation):
        self.settings = settings
        self.request = request
        self.target = request.target
        self.runner = runner
        self.cancellation = cancellation
        self.client = NorthflankClient(
            settings.api_url,
            settings.api_token,
            read_timeout=settings.http_timeout,
            debug=runner.debug,
            ca_bundle=settings.ca_bundle,
        )

    def run(self) -> int:
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
        try:
            result = trigger.run(self.request.body, identifiable=self.request.identifiable)
        except TriggerFailed as failed:
            self.runner.error(str(failed), title="The release flow was not triggered")
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
        for note in result.notes:
            self.runner.warning(note, title="Run id unknown")
        run = result.run
        if result.run_id and not (run or {}).get("status"):
            run = self.read_once(result.run_id) or run
        self.publish(run, result.run_id)
        self.runner.info(f"Triggered run {result.run_id or '(id unknown)'}: status {run_state(run).status}.")
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
        )
        title = f"Waiting up to {format_duration(self.settings.timeout)} for run {self.request.name!r}"
        try:
            with self.runner.group(title):
                result = waiter.wait(run_id, self.settings.timeout, run)
        except Cancelled as cancelled:
            return self.cancelled(run_id, waiter.last_run, cancelled)
        run = result.run
        status_when_waiting_ended = run_state(run).status
        aborted = None
        if result.reason == "timeout" and self.settings.abort_on_timeout:
            aborted = self.abort(run_id, ABORT_TIMEOUT_AFTER_WAIT)
            run = aborted or run
        self.publish(run, run_id)
        self.runner.append_summary(wait_summary(run, result.reason, result.elapsed, result.message))
        return self.verdict(
            result.reason, result.elapsed, result.message, status_when_waiting_ended, run, aborted is not None
        )

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

    def cancelled(self, run_id: str, run: dict[str, Any] | None, cancelled: Cancelled, waiting: bool = True) -> int:
        note = " The run goes on in Northflank."
        if self.settings.abort_on_timeout and self.settings.wait and run_id:
            aborted = self.abort(run_id, ABORT_TIMEOUT_ON_CANCEL)
            run = aborted or run
            note = " The run was aborted." if aborted else " Aborting the run failed; it may go on in Northflank."
        self.publish(run, run_id)
        when = "while waiting" if waiting else "as the run was triggered"
        self.runner.error(
            f"The job was cancelled ({cancelled}) {when}; the run was {run_state(run).status}.{note}",
            title="Cancelled while waiting for the release" if waiting else "Cancelled",
        )
        return cancelled.exit_code

    def abort(self, run_id: str, timeout: float | None) -> dict[str, Any] | None:
        # A read interrupted by the signal may have left a half-used connection in the pool.
        self.client.session.close()
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
        try:
            return run_from(self.client.get_run(self.target, run_id).data)
        except Exception:  # noqa: BLE001 - the trigger worked; a missing status is not worth failing for
            return None

    def publish(self, run: dict[str, Any] | None, run_id: str) -> None:
        self.runner.set_outputs(run_outputs(run, run_id, self.request.name))


def run_outputs(run: dict[str, Any] | None, run_id: str, run_name: str) -> dict[str, str]:
    """What later steps read: each value one we can vouch for (the run id was checked when it arrived), and
    the name the one we sent, as documented, whatever the API calls the run."""
    state = run_state(run)
    return {
        "run-id": run_id,
        "run-name": run_name,
        "status": output_status(state.status),
        "concluded": "true" if state.concluded else "false",
        "started-at": output_timestamp(state.started_at),
        "concluded-at": output_timestamp(state.concluded_at),
        "response": json_output(run) if run is not None else "",
    }
