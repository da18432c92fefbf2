"""Polling that expects the end: with the flow's recent runs, reads cluster around when the run should end,
on a simulated clock against the stand-in (its runs list is the history)."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence

import pytest

from northflank_release.api.client import run_from
from northflank_release.api.target import Target
from northflank_release.cancellation import Cancellation
from northflank_release.expectation import Expectation, expectation_from
from northflank_release.waiting import PollPolicy, Waiter, WaitResult
from testing.clock import FakeClock, TimedClient
from testing.northflank_standin import (
    API_TOKEN_DEFAULT,
    HISTORY_SPREAD,
    Fault,
    FlowStep,
    NorthflankStandin,
    RunPlan,
    workflow,
)

SPREAD = HISTORY_SPREAD


def follow(
    standin: NorthflankStandin,
    clock: FakeClock,
    plan: RunPlan,
    *,
    history: Sequence[float] = (),
    pipeline: str = "release-pipeline",
    timeout: float = 3600.0,
    history_plan: RunPlan | None = None,
) -> tuple[WaitResult, list[float], list[str]]:
    """Seed the flow's past runs (durations, oldest first), trigger one run with `plan` and wait for it:
    the result, the simulated times of the status reads (from the trigger) and the log."""
    target = Target("shop", pipeline, "production")
    if history:
        standin.plan = history_plan or plan
        standin.seed_runs(target.project_id, pipeline, target.stage, len(history), durations=history)
    standin.plan = plan
    client = TimedClient(standin.url, API_TOKEN_DEFAULT)
    client.read_times, client.read_ids, client.clock = [], [], clock
    started = clock.now
    run = run_from(client.trigger(target, {"name": "Simulated run"}).data)
    assert run is not None
    log: list[str] = []
    waiter = Waiter(client, target, PollPolicy(), Cancellation(), log=log.append, clock=clock, sleep=clock.sleep)
    result = waiter.wait(str(run["id"]), timeout, run)
    # The followed run's own reads: a read of a past run (for its nodes) is no status read.
    own = [moment for moment, read in zip(client.read_times, client.read_ids, strict=True) if read == run["id"]]
    return result, [moment - started for moment in own], log


def simple(duration: float, outcome: str = "success") -> RunPlan:
    return RunPlan(steps=[(0.0, "running"), (duration, outcome)])


def notice_delay(reads: list[float], duration: float) -> float:
    return reads[-1] - duration


def test_a_ten_minute_run_with_history_is_noticed_within_seconds_in_at_most_30_reads(
    simulated: NorthflankStandin, clock: FakeClock
) -> None:
    result, reads, log = follow(simulated, clock, simple(600.0), history=[600.0 * f for f in SPREAD])

    assert result.reason == "concluded"
    assert len(reads) <= 30
    assert 0.0 <= notice_delay(reads, 600.0) <= 5.0
    assert any("Recent runs of this flow took" in line for line in log)


@pytest.mark.parametrize("with_history", [True, False], ids=["history", "no-history"])
def test_runs_of_one_to_ten_minutes(simulated: NorthflankStandin, clock: FakeClock, with_history: bool) -> None:
    """With history, the median notice delay over runs of 1 to 10 minutes is at most 5 s; without it, each
    is noticed within the interval's cap, as today."""
    delays: list[float] = []
    for index, duration in enumerate(range(60, 601, 30)):
        jitter = SPREAD[index % len(SPREAD)]
        history = [duration * f for f in SPREAD] if with_history else []
        result, reads, _log = follow(
            simulated, clock, simple(duration * jitter), history=history, pipeline=f"pipeline-{index}"
        )
        assert result.reason == "concluded"
        assert len(reads) <= 30
        delays.append(notice_delay(reads, duration * jitter))
    if with_history:
        assert statistics.median(delays) <= 5.0
    else:
        assert max(delays) <= PollPolicy().max_interval


def test_without_history_the_schedule_is_todays(simulated: NorthflankStandin, clock: FakeClock) -> None:
    """Reads every `interval`, growing 1.25x per unchanged read up to 30 s, and one list read before."""
    _result, reads, log = follow(simulated, clock, simple(600.0))

    policy = PollPolicy()
    expected, gap = [], policy.interval
    for _ in range(len(reads)):
        expected.append(gap)
        gap = min(gap * policy.growth, policy.max_interval)
    gaps = [later - earlier for earlier, later in itertools.pairwise([0.0, *reads])]
    assert gaps == pytest.approx(expected)
    assert len(simulated.requests_to("list")) == 1
    assert not any("Recent runs" in line for line in log)


def test_a_history_read_that_fails_leaves_the_wait_as_without_history(
    simulated: NorthflankStandin, clock: FakeClock
) -> None:
    simulated.add_fault(Fault("GET", "list", "html", status=200))
    result, reads, _log = follow(simulated, clock, simple(600.0), history=[600.0] * 5)

    assert result.reason == "concluded"
    assert reads[0] == pytest.approx(PollPolicy().interval)
    assert reads[1] - reads[0] == pytest.approx(PollPolicy().interval * PollPolicy().growth)


def test_an_overrun_backs_off_and_is_still_noticed_within_the_cap(
    simulated: NorthflankStandin, clock: FakeClock
) -> None:
    result, reads, _log = follow(simulated, clock, simple(900.0), history=[300.0 * f for f in SPREAD])

    assert result.reason == "concluded"
    assert notice_delay(reads, 900.0) <= PollPolicy().max_interval
    late = [later - earlier for earlier, later in itertools.pairwise(reads) if earlier > 400.0]
    assert late == sorted(late)  # past the window, each wait at least as long as the one before
    assert len(reads) <= 60  # no more than today's schedule spends on a 15-minute run


def test_an_early_failure_is_noticed_as_soon_as_today(simulated: NorthflankStandin, clock: FakeClock) -> None:
    result, reads, _log = follow(simulated, clock, simple(75.0, "failure"), history=[600.0 * f for f in SPREAD])

    assert result.reason == "concluded"
    assert notice_delay(reads, 75.0) <= PollPolicy().max_interval


def test_finished_nodes_move_the_expected_end(simulated: NorthflankStandin, clock: FakeClock) -> None:
    """Past builds took 5 minutes and the deploy one; this build takes 8. Once it ends, the end is expected
    a minute later (not at the 6-minute median, already passed), and noticed within seconds."""

    def release(build: float) -> FlowStep:
        return workflow("release", "sequential", FlowStep("build", duration=build), FlowStep("deploy", duration=60.0))

    history = [360.0] * 6
    result, reads, _log = follow(
        simulated,
        clock,
        RunPlan.following(release(480.0)),
        history=history,
        history_plan=RunPlan.following(release(300.0)),
    )

    assert result.reason == "concluded"
    assert notice_delay(reads, 540.0) <= 5.0
    after_build = [moment for moment in reads if 482.0 <= moment < 540.0 - 10.0]
    assert len(after_build) <= 3  # sparse after the build, close again only near its new expected end


def test_a_low_budget_still_stretches_polling_with_history(simulated: NorthflankStandin, clock: FakeClock) -> None:
    simulated.ratelimit_remaining = 40
    simulated.ratelimit_reset = 1800
    result, reads, _log = follow(simulated, clock, simple(1200.0), history=[1200.0] * 5)

    assert result.reason == "concluded"
    gaps = [later - earlier for earlier, later in itertools.pairwise([0.0, *reads])]
    assert min(gaps) >= 60.0  # 40 left, 10 kept in reserve: at most one read per 1800 / 30 = 60 s


def test_only_concluded_successes_of_other_runs_count() -> None:
    def run(run_id: str, status: str, created: str, concluded: str | None) -> dict[str, object]:
        return {
            "id": run_id,
            "status": status,
            "concluded": concluded is not None,
            "createdAt": created,
            "concludedAt": concluded,
        }

    runs = [
        run("a", "success", "2026-01-01T10:00:00Z", "2026-01-01T10:04:00Z"),
        run("b", "failure", "2026-01-01T11:00:00Z", "2026-01-01T11:00:30Z"),
        run("c", "success", "2026-01-01T12:00:00Z", "2026-01-01T12:06:00Z"),
        run("d", "running", "2026-01-01T13:00:00Z", None),
        run("e", "success", "2026-01-01T14:00:00Z", "2026-01-01T14:05:00Z"),
        run("me", "success", "2026-01-01T15:00:00Z", "2026-01-01T15:00:01Z"),
    ]
    expectation = expectation_from(runs, exclude="me")

    assert [past.duration for past in expectation.history] == [300.0, 360.0, 240.0]  # newest first
    assert expectation.duration == 300.0
    assert not Expectation()


@pytest.mark.parametrize("history", [(60.0, 1800.0, 3600.0), (300.0, 320.0, 7200.0, 7300.0)], ids=str)
@pytest.mark.parametrize("duration", [70.0, 330.0, 600.0])
def test_a_widely_varied_history_never_leaves_a_gap_over_the_cap(
    simulated: NorthflankStandin, clock: FakeClock, history: tuple[float, ...], duration: float
) -> None:
    """A window of hours once spaced reads a quarter of it apart: a 70 s run was noticed 230 s late."""
    result, reads, _log = follow(simulated, clock, simple(duration), history=history, timeout=4 * 3600.0)

    assert result.reason == "concluded"
    gaps = [later - earlier for earlier, later in itertools.pairwise([0.0, *reads])]
    assert max(gaps) <= PollPolicy().max_interval
    assert notice_delay(reads, duration) <= PollPolicy().max_interval


def test_node_timings_come_only_from_one_read_of_the_latest_success(
    simulated: NorthflankStandin, clock: FakeClock
) -> None:
    """The list carries no nodes (a rich one is not trusted for them): one GET of the newest success gives them."""
    simulated.rich_list = True
    flow = workflow("release", "sequential", FlowStep("build", duration=300.0), FlowStep("deploy", duration=60.0))
    follow(simulated, clock, RunPlan.following(flow), history=[360.0] * 6)

    listed = {run["id"] for run in simulated.runs()}
    past_reads = [request for request in simulated.requests_to("get") if request.path.rsplit("/", 1)[-1] in listed]
    newest_past = simulated.runs()[-2]["id"]
    assert {request.path.rsplit("/", 1)[-1] for request in past_reads} >= {newest_past}
    assert sum(1 for request in past_reads if request.path.endswith(newest_past)) == 1


def test_a_short_history_is_not_worth_a_read_of_its_nodes(simulated: NorthflankStandin, clock: FakeClock) -> None:
    _result, reads, _log = follow(simulated, clock, simple(30.0), history=[30.0] * 5)

    assert len(simulated.requests_to("get")) == len(reads), "only the followed run was read"
