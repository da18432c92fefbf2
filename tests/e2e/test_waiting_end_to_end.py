"""wait: true, against the stand-in with runs that move through their statuses over a few seconds."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from testing import flows
from testing.northflank_standin import Fault, FlowStep, NorthflankStandin, Outage, RunPlan, workflow
from testing.runner import ActionRun, run_action, start_action


@pytest.fixture
def waiting(inputs: dict[str, str], standin: NorthflankStandin) -> dict[str, str]:
    # A short rate-limit window, so a 1 s poll interval is not stretched to spread 1000 requests over an hour.
    standin.ratelimit_reset = 30
    return {**inputs, "wait": "true", "poll-interval": "1s", "timeout": "1m"}


def status_lines(result: ActionRun) -> list[str]:
    """The run's status lines; node lines are indented under them."""
    lines = [line.split("] ", 1)[1] for line in result.stdout.splitlines() if line.startswith("[") and "] " in line]
    return [line for line in lines if not line.startswith(" ")]


def node_lines(result: ActionRun) -> list[str]:
    lines = [line.split("] ", 1)[1] for line in result.stdout.splitlines() if line.startswith("[") and "] " in line]
    return [line.strip() for line in lines if line.startswith("  ")]


def test_success_exits_zero_with_final_outputs_and_a_report(
    tmp_path: Path, standin: NorthflankStandin, waiting: dict[str, str]
) -> None:
    standin.plan = RunPlan(steps=[(0.0, "queued"), (1.0, "running"), (2.5, "success")])
    result = run_action(tmp_path, waiting)

    assert result.exit_code == 0, result.log
    assert result.outputs["status"] == "success"
    assert result.outputs["concluded"] == "true"
    assert result.outputs["concluded-at"].endswith("Z")
    assert status_lines(result) == ["queued", "running", "success"]  # one line per change, not per poll
    assert "::group ::Waiting up to 1m" in result.stdout or "::group::Waiting up to 1m" in result.stdout
    assert "Release flow run **success**" in result.summary
    assert "| build | StartBuild | ✅ success |" in result.summary


def test_failure_names_the_failed_node_and_its_message(
    tmp_path: Path, standin: NorthflankStandin, waiting: dict[str, str]
) -> None:
    standin.plan = RunPlan(
        steps=[(0.0, "running"), (1.5, "failure")], failing_node="deploy", error_message="Image pull failed"
    )
    result = run_action(tmp_path, waiting)

    assert result.exit_code == 1
    [(title, message)] = result.annotations
    assert title == "Release failure"
    assert "deploy: " in message
    assert "Image pull failed" in message
    assert result.outputs["status"] == "failure"
    assert "**❌ failure**" in result.summary
    assert "Image pull failed" in result.summary


def test_each_node_transition_is_logged_once(
    tmp_path: Path, standin: NorthflankStandin, waiting: dict[str, str]
) -> None:
    standin.plan = RunPlan.following(flows.build_then_two_regions(us_fails=True))
    result = run_action(tmp_path, waiting)

    assert result.exit_code == 1
    lines = node_lines(result)
    assert lines[0] == "build-image: async_wait"
    assert lines.count("build-image: success after 2s") == 1
    assert lines.count("deploy-eu: success after 1s") == 1
    assert lines.count("deploy-us: failure after 2s: Image pull failed (NODE_FAILED)") == 1
    assert len(lines) == len(set(lines))  # once each, not once per poll
    assert not any(line.startswith(("release", "deploy:")) for line in lines)  # Workflow nodes speak through steps
    assert lines.index("build-image: success after 2s") < lines.index("deploy-eu: success after 1s")
    assert "Failed first: deploy&#45;us" in result.summary or "Failed first: deploy-us" in result.summary
    assert "```mermaid" in result.summary


def test_hostile_node_names_stay_plain_log_text(
    tmp_path: Path, standin: NorthflankStandin, waiting: dict[str, str]
) -> None:
    standin.plan = RunPlan.following(flows.hostile(duration=0.2))
    result = run_action(tmp_path, waiting)

    assert result.exit_code == 1
    # The runner reads no command from an API name: the one annotation is ours.
    assert [title for title, _ in result.annotations] == ["Release failure"]
    assert not any(line.startswith("::warning") for line in result.stdout.splitlines())


def test_aborted_run_fails_the_job(tmp_path: Path, standin: NorthflankStandin, waiting: dict[str, str]) -> None:
    standin.plan = RunPlan(steps=[(0.0, "running"), (1.0, "aborted")])
    result = run_action(tmp_path, waiting)

    assert result.exit_code == 1
    assert result.annotations[0][0] == "Release aborted"
    assert result.outputs["status"] == "aborted"


def test_timeout_is_a_distinct_error_and_leaves_the_run_alone(
    tmp_path: Path, standin: NorthflankStandin, waiting: dict[str, str]
) -> None:
    standin.plan = RunPlan(steps=[(0.0, "running"), (3600.0, "success")])
    started = time.monotonic()
    result = run_action(tmp_path, {**waiting, "timeout": "3s"})

    assert time.monotonic() - started < 10
    assert result.exit_code == 1
    [(title, message)] = result.annotations
    assert title == "Timed out waiting for the release"
    assert "still running after 3s" in message
    assert standin.requests_to("abort") == []
    assert result.outputs["status"] == "running"
    assert result.outputs["concluded"] == "false"


def test_timeout_with_abort_on_timeout_aborts_the_run(
    tmp_path: Path, standin: NorthflankStandin, waiting: dict[str, str]
) -> None:
    standin.plan = RunPlan(steps=[(0.0, "running"), (3600.0, "success")])
    result = run_action(tmp_path, {**waiting, "timeout": "2s", "abort-on-timeout": "true"})

    assert result.exit_code == 1
    assert len(standin.requests_to("abort")) == 1
    assert standin.runs()[0]["status"] == "aborted"
    assert "Asked Northflank to abort run" in result.stdout
    assert "The run was aborted" in result.errors[0]
    assert result.outputs["status"] == "aborted"


@pytest.mark.parametrize("abort", [True, False])
def test_sigterm_during_the_wait_ends_within_two_seconds(
    tmp_path: Path, standin: NorthflankStandin, waiting: dict[str, str], abort: bool
) -> None:
    standin.plan = RunPlan(steps=[(0.0, "running"), (3600.0, "success")])
    action = start_action(tmp_path, {**waiting, "abort-on-timeout": str(abort).lower()})
    deadline = time.monotonic() + 20
    while not standin.requests_to("get") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert standin.requests_to("get"), "the action never started waiting"

    action.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    result = action.finish(timeout=10)
    took = time.monotonic() - signalled

    assert took < 2, f"took {took:.2f}s to stop"
    assert result.exit_code == 143
    assert result.outputs["run-id"] == standin.runs()[0]["id"]
    assert "Cancelled while waiting" in result.errors[0]
    if abort:
        assert len(standin.requests_to("abort")) == 1
        assert standin.runs()[0]["status"] == "aborted"
        assert result.outputs["status"] == "aborted"
    else:
        assert standin.requests_to("abort") == []
        assert result.outputs["status"] == "running"


@pytest.mark.parametrize(
    "fault",
    [
        Fault("GET", "get", "status", status=500, message="internal error"),
        Fault("GET", "get", "html", status=502),
        Fault("GET", "get", "drop"),
        Fault("GET", "get", "status", status=429, headers={"Retry-After": "1"}, message="slow down"),
    ],
    ids=["500", "502-html", "dropped", "429-retry-after"],
)
def test_one_failed_status_read_does_not_fail_the_job(
    tmp_path: Path, standin: NorthflankStandin, waiting: dict[str, str], fault: Fault
) -> None:
    standin.plan = RunPlan(steps=[(0.0, "running"), (2.0, "success")])
    standin.add_fault(fault)
    result = run_action(tmp_path, waiting)

    assert result.exit_code == 0, result.log
    assert result.outputs["status"] == "success"
    assert len(standin.requests_to("get")) >= 2
    assert "status read failed" in result.stdout or "Rate limited on a status read" in result.stdout


def test_an_unknown_status_is_logged_and_waited_through(
    tmp_path: Path, standin: NorthflankStandin, waiting: dict[str, str]
) -> None:
    standin.plan = RunPlan(steps=[(0.0, "running"), (1.0, "quantum_wait"), (3.0, "success")])
    result = run_action(tmp_path, waiting)

    assert result.exit_code == 0, result.log
    assert "quantum_wait" in status_lines(result)
    assert "Status 'quantum_wait' is new to this action; treating it as still in progress." in result.stdout


def test_a_token_that_cannot_read_runs_is_told_what_permission_it_lacks(
    tmp_path: Path, standin: NorthflankStandin, waiting: dict[str, str]
) -> None:
    standin.plan = RunPlan(steps=[(0.0, "running"), (3600.0, "success")])
    standin.add_fault(Fault("GET", "get", "status", status=403, message="Forbidden"))
    result = run_action(tmp_path, waiting)

    assert result.exit_code == 1
    assert "Pipelines > General > Read" in result.errors[0]
    assert result.outputs["run-id"]  # the run was triggered: its id is still there for later steps


def test_status_reads_stay_within_the_polling_rules(
    tmp_path: Path, standin: NorthflankStandin, waiting: dict[str, str]
) -> None:
    standin.plan = RunPlan(steps=[(0.0, "running"), (6.0, "success")])
    result = run_action(tmp_path, waiting)

    assert result.exit_code == 0
    # 1 s base interval growing by 1.25x while nothing changes: reads at about 1, 2.25, 3.8, 5.8, 8.3 s.
    assert 3 <= len(standin.requests_to("get")) <= 6


def test_timeout_says_so_when_the_abort_itself_failed(
    tmp_path: Path, standin: NorthflankStandin, waiting: dict[str, str]
) -> None:
    standin.plan = RunPlan(steps=[(0.0, "running"), (3600.0, "success")])
    standin.add_fault(Fault("POST", "abort", "status", status=500, message="abort broke"))
    result = run_action(tmp_path, {**waiting, "timeout": "2s", "abort-on-timeout": "true"})

    assert result.exit_code == 1
    [(title, message)] = result.annotations
    assert title == "Timed out waiting for the release"
    assert "Aborting the run failed; it may go on in Northflank." in message
    assert "Could not abort the run" in result.stdout  # the warning, with Northflank's message
    assert standin.runs()[0]["status"] == "running"


def test_sigterm_while_the_trigger_retries_stops_before_the_next_request(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    standin.add_fault(
        Fault("POST", "trigger", "status", status=503, times=5, headers={"Retry-After": "3"}, message="busy")
    )
    action = start_action(tmp_path, inputs)
    deadline = time.monotonic() + 10
    while not standin.requests_to("trigger") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # now in the 3 s wait before the next attempt

    action.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    result = action.finish(timeout=10)

    assert time.monotonic() - signalled < 2
    assert result.exit_code == 143
    assert len(standin.requests_to("trigger")) == 1
    assert standin.runs() == []
    [(title, message)] = result.annotations
    assert title == "Cancelled"
    assert "after 1 request(s)" in message


@pytest.mark.parametrize("status", ["success", "failure"])
def test_an_answer_without_concluded_ends_the_wait_at_a_terminal_status(
    tmp_path: Path, standin: NorthflankStandin, waiting: dict[str, str], status: str
) -> None:
    """`concluded` is documented, but an API that leaves it out must not keep the job waiting until the timeout."""
    standin.omit_fields = {"concluded", "concludedAt"}
    standin.plan = RunPlan(steps=[(0.0, "running"), (1.5, status)])
    started = time.monotonic()
    result = run_action(tmp_path, {**waiting, "timeout": "30s"}, timeout=45)

    assert time.monotonic() - started < 15, "waited for the timeout"
    assert result.exit_code == (0 if status == "success" else 1), result.log
    assert result.outputs["status"] == status
    assert result.outputs["concluded"] == "true"
    assert "timeout" not in "\n".join(result.errors)


def test_an_api_outage_while_waiting_is_one_warning_then_one_notice_and_the_release_goes_on(
    tmp_path: Path, standin: NorthflankStandin, waiting: dict[str, str]
) -> None:
    standin.plan = RunPlan(steps=[(0.0, "running"), (7.0, "success")])
    standin.outage = Outage("503", 4.0, start=standin.clock() + 1.5)  # starts after the trigger
    result = run_action(tmp_path, waiting)

    assert result.exit_code == 0, result.log
    assert result.outputs["status"] == "success"
    warnings = [line for line in result.stdout.splitlines() if line.startswith("::warning")]
    notices = [line for line in result.stdout.splitlines() if line.startswith("::notice")]
    assert len(warnings) == 1, warnings
    assert "Northflank API unreachable" in warnings[0]
    assert "HTTP 503" in warnings[0]
    assert len(notices) == 1, notices
    assert "answers again" in notices[0]


def test_a_half_emoji_from_the_api_cannot_fail_a_successful_release(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    """A JavaScript `.slice()` can cut an emoji in two; JSON then carries a lone "\\ud83d"."""
    standin.ratelimit_reset = 30
    standin.plan = RunPlan.following(
        workflow("root", "sequential", FlowStep("deploy \ud83d", duration=1.0), FlowStep("notify", duration=0.5))
    )
    result = run_action(tmp_path, {**inputs, "wait": "true", "poll-interval": "1s", "timeout": "1m"})

    assert result.exit_code == 0, result.log
    assert result.errors == []
    assert "deploy \ufffd" in result.summary
    assert "deploy \ufffd: success" in result.stdout
