"""Where a run waits, as the user sees it: awaiting approval, queued, a paused flow, superseded, skipped, and
forbid's refusal. Each state is said once (a notice), and a failure says why in the state's own words."""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from testing.northflank_standin import API_TOKEN_DEFAULT, NorthflankStandin, RunPlan
from testing.runner import ActionRun, run_action, start_action, unescape

FLOW = "/v1/projects/shop/pipelines/release-pipeline/release-flows/production/runs"
AUTH = {"Authorization": f"Bearer {API_TOKEN_DEFAULT}"}


@pytest.fixture
def waiting(inputs: dict[str, str], standin: NorthflankStandin) -> dict[str, str]:
    standin.ratelimit_reset = 30  # so a 1 s poll interval is not stretched over an hour's budget
    return {**inputs, "wait": "true", "poll-interval": "1s", "timeout": "1m"}


def notices(result: ActionRun) -> list[tuple[str, str]]:
    """The `::notice` annotations as (title, message)."""
    found = []
    for line in result.stdout.splitlines():
        match = re.match(r"^::notice(?: (?P<props>[^:]*))?::(?P<message>.*)$", line)
        if match:
            props = dict(part.split("=", 1) for part in (match.group("props") or "").split(",") if "=" in part)
            found.append((unescape(props.get("title", "")), unescape(match.group("message"))))
    return found


def other_run(standin: NorthflankStandin, name: str) -> str:
    """A run someone else started, straight through the API."""
    answer = requests.post(standin.url + FLOW, json={"name": name}, headers=AUTH, timeout=5)
    return str(answer.json()["data"]["id"])


def when(condition: Callable[[], bool], then: Callable[[], None], timeout: float = 20.0) -> threading.Thread:
    """Call `then()` once `condition()` holds (polled), in the background."""

    def watch() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                then()
                return
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


APPROVAL = RunPlan(steps=[(0.0, "running"), (1.0, "approval_wait"), (3600.0, "success")])


def test_a_timeout_awaiting_approval_says_so_and_never_aborts_the_run(
    tmp_path: Path, standin: NorthflankStandin, waiting: dict[str, str]
) -> None:
    standin.plan = APPROVAL
    result = run_action(tmp_path, {**waiting, "timeout": "4s", "abort-on-timeout": "true"})

    assert result.exit_code == 1, result.log
    [(title, message)] = result.annotations
    assert title == "Timed out awaiting approval"
    assert re.search(r"still awaiting approval since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, after 4s \(timeout\)", message)
    assert "abort-on-timeout does not abort a run awaiting approval" in message
    assert "stop-at-approval: true" in message
    assert standin.requests_to("abort") == [], "a person's decision is pending: a timeout is no reason to abort"
    assert standin.runs()[0]["status"] == "approval_wait"
    [(_notice_title, notice)] = [item for item in notices(result) if item[0] == "Awaiting approval"]
    assert "is awaiting approval since" in notice
    assert "set stop-at-approval: true" in notice
    assert re.search(r"still \*\*awaiting approval\*\* since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", result.summary)
    assert result.outputs["status"] == "approval_wait"
    assert result.outputs["concluded"] == "false"


def test_stop_at_approval_ends_the_step_successfully_when_the_run_reaches_approval(
    tmp_path: Path, standin: NorthflankStandin, waiting: dict[str, str]
) -> None:
    standin.plan = APPROVAL
    started = time.monotonic()
    result = run_action(tmp_path, {**waiting, "stop-at-approval": "true"})

    assert result.exit_code == 0, result.log
    assert time.monotonic() - started < 20, "the runner is not held until the timeout"
    assert result.outputs["status"] == "approval_wait"
    assert result.outputs["concluded"] == "false"
    assert result.outputs["run-id"] == standin.runs()[0]["id"]
    [(_title, notice)] = [item for item in notices(result) if item[0] == "Awaiting approval"]
    assert "Ending the step here (stop-at-approval)" in notice
    assert "✋ Awaiting approval since" in result.summary
    assert result.errors == []
    assert standin.requests_to("abort") == []


def test_a_queued_run_names_the_policy_and_the_run_ahead_then_succeeds(
    tmp_path: Path, standin: NorthflankStandin, waiting: dict[str, str]
) -> None:
    standin.concurrency = "queue"
    standin.plan = RunPlan(steps=[(0.0, "running"), (3.0, "success")])
    ahead = other_run(standin, "Earlier release")
    result = run_action(tmp_path, waiting)

    assert result.exit_code == 0, result.log
    [(_title, notice)] = [item for item in notices(result) if item[0] == "Queued"]
    assert "is queued: the release flow's concurrency policy is queue" in notice
    assert f"Ahead of it: {ahead} (running)" in notice
    assert result.outputs["status"] == "success"


@pytest.mark.parametrize("policy", ["replace", "latest"])
def test_a_run_superseded_by_a_newer_one_says_so_and_names_it(
    tmp_path: Path, standin: NorthflankStandin, waiting: dict[str, str], policy: str
) -> None:
    """replace: a newer run aborts ours while it runs; latest: a newer run skips ours while it is queued."""
    standin.concurrency = policy
    standin.plan = RunPlan(steps=[(0.0, "running"), (8.0, "success")])
    if policy == "latest":
        other_run(standin, "Earlier release")  # ours queues behind it
    newer: list[str] = []

    def supersede() -> None:
        time.sleep(1.5)
        newer.append(other_run(standin, "Newer release"))

    process = start_action(tmp_path, waiting)
    ours = 2 if policy == "latest" else 1
    watcher = when(lambda: len(standin.runs()) >= ours, supersede)
    result = process.finish()
    watcher.join(timeout=5)

    assert result.exit_code == 1, result.log
    [(title, message)] = result.annotations
    assert title == "Release superseded by a newer run"
    assert newer
    assert f"A newer run of the release flow, {newer[0]}" in message
    assert f"concurrency policy is {policy}" in message
    assert ("skipped it while it was queued" if policy == "latest" else "aborted it") in message
    assert result.outputs["status"] == ("skipped" if policy == "latest" else "aborted")


def test_a_skipped_run_is_said_plainly(tmp_path: Path, standin: NorthflankStandin, waiting: dict[str, str]) -> None:
    standin.plan = RunPlan(steps=[(0.0, "pending"), (3600.0, "success")])
    process = start_action(tmp_path, waiting)

    def skip() -> None:
        time.sleep(1.0)
        standin.set_status(standin.runs()[0]["id"], "skipped")

    when(lambda: bool(standin.runs()), skip)
    result = process.finish()

    assert result.exit_code == 1, result.log
    [(title, message)] = result.annotations
    assert title == "Release skipped"
    assert "Northflank skipped the run: it never ran, so nothing was released." in message
    assert result.outputs["status"] == "skipped"
    assert result.outputs["concluded"] == "true"


def test_a_paused_flow_is_said_once(tmp_path: Path, standin: NorthflankStandin, waiting: dict[str, str]) -> None:
    standin.paused = True
    standin.plan = RunPlan(steps=[(0.0, "pending"), (2.0, "running"), (3.0, "success")])
    result = run_action(tmp_path, waiting)

    assert result.exit_code == 0, result.log
    paused = [message for title, message in notices(result) if title == "Release flow paused"]
    assert len(paused) == 1
    assert "The release flow is paused in Northflank" in paused[0]
    assert "until someone resumes the flow" in paused[0]


def test_forbid_keeps_its_refusal(tmp_path: Path, standin: NorthflankStandin, waiting: dict[str, str]) -> None:
    standin.concurrency = "forbid"
    standin.plan = RunPlan(steps=[(0.0, "running"), (3600.0, "success")])
    other_run(standin, "Earlier release")
    result = run_action(tmp_path, waiting)

    assert result.exit_code == 1
    [error] = result.errors
    assert "HTTP 409" in error
    assert "concurrency policy forbids one while another is running" in error
    assert len(standin.runs()) == 1


def test_cancelling_the_job_is_the_explicit_ask_that_aborts_a_run_awaiting_approval(
    tmp_path: Path, standin: NorthflankStandin, waiting: dict[str, str]
) -> None:
    standin.plan = RunPlan(steps=[(0.0, "approval_wait"), (3600.0, "success")])
    action = start_action(tmp_path, {**waiting, "abort-on-timeout": "true"})
    deadline = time.monotonic() + 20
    while not standin.requests_to("get") and time.monotonic() < deadline:
        time.sleep(0.05)
    action.process.send_signal(signal.SIGTERM)
    result = action.finish(timeout=10)

    assert result.exit_code == 143
    assert len(standin.requests_to("abort")) == 1
    assert standin.runs()[0]["status"] == "aborted"
    assert "The run was aborted." in result.errors[0]
    assert "Awaiting approval" in result.stdout
