"""Endless, huge and dripping answers: the action stays within its memory and its time, as the runner runs it.

The bounds a user relies on: peak resident memory under 100 MB whatever the API sends, and a wait that ends
within `timeout` plus a few seconds (the last read's floor and the abort's own deadline), abort included.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from northflank_release.api.client import MIN_REQUEST_SECONDS
from northflank_release.release import ABORT_TIMEOUT_AFTER_WAIT
from testing.northflank_standin import Fault, NorthflankStandin, RunPlan
from testing.runner import ActionRun, start_action

MEMORY_BOUND = 100 * 1024 * 1024
# Interpreter start-up and the summary after the timeout; the requests' own floors are added per test.
SLACK_SECONDS = 3.0


def run_measured(tmp_path: Path, inputs: dict[str, str], job_env: dict[str, str] | None = None) -> ActionRun:
    result = start_action(tmp_path, inputs, job_env=job_env).finish(120, measure=True)
    print(f"peak memory {result.peak_memory / 2**20:.0f} MiB, {result.seconds:.1f}s")  # the figures for the note
    assert "Traceback" not in result.log
    assert "Unexpected error" not in result.log
    return result


@pytest.fixture
def long_run(standin: NorthflankStandin, inputs: dict[str, str]) -> dict[str, str]:
    standin.plan = RunPlan(steps=[(0.0, "running"), (3600.0, "success")])
    standin.ratelimit_reset = 30
    return {**inputs, "wait": "true", "poll-interval": "1s", "timeout": "5s"}


def test_an_endless_status_answer_is_cut_and_the_wait_ends_at_its_timeout(
    tmp_path: Path, standin: NorthflankStandin, long_run: dict[str, str]
) -> None:
    standin.add_fault(Fault("GET", "get", "endless", times=100))

    result = run_measured(tmp_path, long_run)

    assert result.exit_code == 1
    assert result.peak_memory < MEMORY_BOUND
    assert result.seconds < 5 + MIN_REQUEST_SECONDS + SLACK_SECONDS
    assert "went on past 4 MiB" in result.log
    assert [title for title, _ in result.annotations] == ["Timed out waiting for the release"]
    assert result.outputs["status"] == "running"


def test_a_huge_answer_to_the_trigger_is_cut_and_the_run_is_found_not_sent_again(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    standin.add_fault(Fault("POST", "trigger", "huge"))

    result = run_measured(tmp_path, inputs)

    assert result.exit_code == 0, result.log
    assert result.peak_memory < MEMORY_BOUND
    assert len(standin.requests_to("trigger")) == 1
    assert result.outputs["run-id"] == standin.runs()[0]["id"]


def test_a_dripping_status_answer_cannot_hold_the_wait_past_its_timeout_and_the_abort_goes_out(
    tmp_path: Path, standin: NorthflankStandin, long_run: dict[str, str]
) -> None:
    standin.add_fault(Fault("GET", "get", "drip", delay=1.0, times=100))

    result = run_measured(tmp_path, {**long_run, "abort-on-timeout": "true"})

    assert result.exit_code == 1
    assert result.seconds < 5 + MIN_REQUEST_SECONDS + ABORT_TIMEOUT_AFTER_WAIT + SLACK_SECONDS
    assert len(standin.requests_to("abort")) == 1
    assert "The run was aborted (abort-on-timeout)" in result.log
    assert "no complete answer within" in result.log


def test_a_dripping_trigger_answer_is_cut_at_the_trigger_budget_and_the_run_is_looked_up(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    standin.add_fault(Fault("POST", "trigger", "drip", delay=1.0))

    result = run_measured(tmp_path, inputs, job_env={"NORTHFLANK_TRIGGER_RETRY_SECONDS": "5s"})

    assert result.exit_code == 0, result.log
    assert result.seconds < 5 + MIN_REQUEST_SECONDS + SLACK_SECONDS
    assert len(standin.requests_to("trigger")) == 1
    assert result.outputs["run-id"] == standin.runs()[0]["id"]
    assert "The run may have been created; looking for it" in result.log
