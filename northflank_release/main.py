"""The story of one run: settings -> request -> trigger -> outputs -> wait -> summary."""

from __future__ import annotations

import json
import os
from typing import Any

from northflank_release.cancellation import Cancellation, Cancelled
from northflank_release.github import Workflow
from northflank_release.inputs import format_duration
from northflank_release.northflank import ApiError, NorthflankClient, Target, run_from
from northflank_release.request import RequestError, RunRequest, build_request
from northflank_release.runs import failed_nodes, run_state
from northflank_release.settings import (
    GitHubContext,
    InputProblem,
    Settings,
    SettingsError,
    read_github_context,
    read_settings,
)
from northflank_release.summary import dry_run_summary, trigger_summary, wait_summary
from northflank_release.trigger import RetryPolicy, Trigger, TriggerFailed
from northflank_release.waiting import PollPolicy, Waiter, WaitResult

ABORT_TIMEOUT_ON_CANCEL = 1.5  # the runner kills the container soon after SIGTERM


def main(argv: list[str] | None = None) -> int:
    flags: dict[str, str] = {}
    if argv:
        # The container runs with no arguments, so argparse is loaded only when there are some.
        from northflank_release.cli import parse_command_line

        flags = parse_command_line(argv)
    environ = {**os.environ, **flags}
    context = read_github_context(environ)
    workflow = Workflow(in_actions=context.in_actions, debug=context.debug, environ=environ)
    workflow.mask(environ.get("NORTHFLANK_API_TOKEN", "").strip())  # before anything else is printed
    cancellation = Cancellation()
    cancellation.install()
    try:
        return ReleaseAction(environ, context, workflow, cancellation).run()
    except Cancelled as cancelled:
        workflow.error("The job was cancelled before the run was triggered; nothing was sent.", title="Cancelled")
        return cancelled.exit_code
    except Exception as error:  # noqa: BLE001 - the last guard: one readable line, never a traceback
        workflow.error(f"{error.__class__.__name__}: {error}", title="Unexpected error in the Northflank action")
        return 1


class ReleaseAction:
    def __init__(self, environ: dict[str, str], context: GitHubContext, workflow: Workflow, cancellation: Cancellation):
        self.environ = environ
        self.context = context
        self.workflow = workflow
        self.cancellation = cancellation
        self.outputs: dict[str, str] = {}

    def run(self) -> int:
        settings, request, problems = self.load()
        if problems or request is None:
            for problem in problems:
                self.workflow.error(problem.message, title=f"Invalid input: {problem.input}")
            self.workflow.info(f"{len(problems)} problem(s) with the inputs; nothing was sent to Northflank.")
            return 1
        target = Target(request.project_id, request.pipeline_id, request.stage, request.team_id)
        request_json = json.dumps(request.body, separators=(",", ":"))
        self.publish({"run-name": request.name, "request": request_json})
        if settings.dry_run:
            self.workflow.info(f"Dry run: would POST {settings.api_url}{target.runs_path} with this body:")
            for line in json.dumps(request.body, indent=2).splitlines():
                self.workflow.info(line)
            self.workflow.append_summary(dry_run_summary(target, json.dumps(request.body, indent=2)))
            return 0

        client = NorthflankClient(
            settings.api_url, settings.api_token, read_timeout=settings.http_timeout, debug=self.workflow.debug
        )
        self.workflow.info(
            f"Triggering the {target.stage} release flow of pipeline {target.pipeline_id}: {request.name!r}"
        )
        policy = RetryPolicy(max_seconds=settings.trigger_retry_seconds)
        try:
            result = Trigger(client, target, policy, log=self.workflow.info).run(request.body)
        except TriggerFailed as failed:
            self.workflow.error(str(failed), title="The release flow was not triggered")
            return 1
        run = result.run
        for note in result.notes:
            self.workflow.warning(note, title="Run id unknown")
        if (result.run_id and not run_state(run).status) or (run_state(run).status == "unknown" and result.run_id):
            run = self.read_once(client, target, result.run_id) or run
        self.publish(run_outputs(run, result.run_id, request.name))
        self.workflow.info(f"Triggered run {result.run_id or '(id unknown)'}: status {run_state(run).status}.")
        self.workflow.append_summary(trigger_summary(target, run, result.run_id, request.name, settings.api_url))
        if not settings.wait:
            return 0
        if not result.run_id:
            self.workflow.error("Cannot wait for the run: its id is unknown.", title="Cannot wait for the run")
            return 1
        return self.wait(settings, client, target, result.run_id, request, run)

    def load(self) -> tuple[Settings, RunRequest | None, list[InputProblem]]:
        """Every problem with the inputs and the body, found in one pass."""
        problems: list[InputProblem] = []
        try:
            settings = read_settings(self.environ)
        except SettingsError as error:
            settings, problems = error.partial, list(error.problems)
        try:
            return settings, build_request(settings, self.context), problems
        except RequestError as error:
            seen = {problem.input for problem in problems}
            return settings, None, problems + [p for p in error.problems if p.input not in seen]

    def wait(
        self,
        settings: Settings,
        client: NorthflankClient,
        target: Target,
        run_id: str,
        request: RunRequest,
        run: dict[str, Any] | None,
    ) -> int:
        policy = PollPolicy(interval=settings.poll_interval)
        waiter = Waiter(client, target, policy, self.cancellation, log=self.workflow.info)
        try:
            with self.workflow.group(f"Waiting up to {format_duration(settings.timeout)} for run {request.name!r}"):
                result = waiter.wait(run_id, settings.timeout, run)
        except Cancelled as cancelled:
            return self.cancelled(settings, client, target, run_id, request, waiter.last_run, cancelled)
        run = result.run
        state = run_state(run)
        if result.reason == "timeout" and settings.abort_on_timeout:
            run = self.abort(client, target, run_id, None) or run
        self.publish(run_outputs(run, run_id, request.name))
        self.workflow.append_summary(wait_summary(run, result.reason, result.elapsed, result.message))
        return self.verdict(settings, result, state.status, run)

    def verdict(self, settings: Settings, result: WaitResult, status: str, run: dict[str, Any] | None) -> int:
        elapsed = format_duration(result.elapsed)
        if result.reason == "concluded" and status == "success":
            self.workflow.info(f"The release flow run succeeded after {elapsed}.")
            return 0
        if result.reason == "concluded":
            nodes = failed_nodes(run)
            detail = "; ".join(f"{node.name}: {node.error or node.status}" for node in nodes)
            self.workflow.error(
                f"The release flow run ended with status {status} after {elapsed}"
                + (f". Failed: {detail}" if detail else ". No node reported an error; see the run in Northflank."),
                title=f"Release {status}",
            )
            return 1
        if result.reason == "timeout":
            aborted = (
                " The run was aborted (abort-on-timeout)."
                if settings.abort_on_timeout
                else (" The run goes on in Northflank; set abort-on-timeout: true to abort it instead.")
            )
            self.workflow.error(
                f"The run is still {status} after {format_duration(settings.timeout)} (timeout).{aborted}",
                title="Timed out waiting for the release",
            )
            return 1
        self.workflow.error(result.message, title="Stopped waiting for the release")
        return 1

    def cancelled(
        self,
        settings: Settings,
        client: NorthflankClient,
        target: Target,
        run_id: str,
        request: RunRequest,
        run: dict[str, Any] | None,
        cancelled: Cancelled,
    ) -> int:
        note = " The run goes on in Northflank."
        if settings.abort_on_timeout:
            aborted = self.abort(client, target, run_id, ABORT_TIMEOUT_ON_CANCEL)
            run = aborted or run
            note = " The run was aborted." if aborted else " Aborting the run failed; it may go on in Northflank."
        self.publish(run_outputs(run, run_id, request.name))
        self.workflow.error(
            f"The job was cancelled ({cancelled}) while waiting; the run was {run_state(run).status}.{note}",
            title="Cancelled while waiting for the release",
        )
        return cancelled.exit_code

    def abort(
        self, client: NorthflankClient, target: Target, run_id: str, timeout: float | None
    ) -> dict[str, Any] | None:
        # A read interrupted by the signal may have left a half-used connection in the pool.
        client.session.close()
        try:
            answer = client.abort_run(target, run_id, timeout=timeout)
        except ApiError as error:
            self.workflow.warning(f"HTTP {error.status}: {error.message}", title="Could not abort the run")
            return None
        except Exception as error:  # noqa: BLE001 - an abort is best effort while the job ends
            self.workflow.warning(error.__class__.__name__, title="Could not abort the run")
            return None
        self.workflow.info(f"Asked Northflank to abort run {run_id}.")
        run = run_from(answer.data)
        if run is not None and not run.get("status"):
            run = {**run, "status": "aborting"}
        return run

    def read_once(self, client: NorthflankClient, target: Target, run_id: str) -> dict[str, Any] | None:
        try:
            return run_from(client.get_run(target, run_id).data)
        except Exception:  # noqa: BLE001 - the trigger worked; a missing status is not worth failing for
            return None

    def publish(self, outputs: dict[str, str]) -> None:
        self.outputs.update(outputs)
        self.workflow.set_outputs(outputs)


def run_outputs(run: dict[str, Any] | None, run_id: str, run_name: str) -> dict[str, str]:
    state = run_state(run)
    return {
        "run-id": run_id,
        "run-name": str(run.get("name") or run_name) if run else run_name,
        "status": state.status,
        "concluded": "true" if state.concluded else "false",
        "started-at": state.started_at,
        "concluded-at": state.concluded_at,
        "response": json.dumps(run, separators=(",", ":")) if run is not None else "",
    }
