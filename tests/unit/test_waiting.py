"""Waiter on a simulated clock: request counts and notice delays, and outages that only delay the answer."""

from __future__ import annotations

import itertools

import pytest

from northflank_release.api.client import run_from
from northflank_release.api.target import Target
from northflank_release.cancellation import Cancellation
from northflank_release.waiting import PollPolicy, Waiter, WaitResult
from testing.clock import FakeClock, TimedClient, client_on
from testing.northflank_standin import API_TOKEN_DEFAULT, Fault, NorthflankStandin, Outage, RunPlan

TARGET = Target("shop", "release-pipeline", "production")
MODES = ("503", "reset", "hang")


def follow(
    standin: NorthflankStandin, clock: FakeClock, duration: float, timeout: float = 1800.0
) -> tuple[WaitResult, list[float]]:
    standin.plan = RunPlan(steps=[(0.0, "running"), (duration, "success")])
    client = TimedClient(standin.url, API_TOKEN_DEFAULT)
    client.read_times, client.budgets, client.clock = [], [], clock
    run = run_from(client.trigger(TARGET, {"name": "Simulated run"}).data)
    assert run is not None
    waiter = Waiter(client, TARGET, PollPolicy(), Cancellation(), log=lambda _: None, clock=clock, sleep=clock.sleep)
    return waiter.wait(str(run["id"]), timeout, run), client.read_times


def test_a_ten_minute_run_costs_at_most_40_reads_and_is_noticed_within_30_seconds(
    simulated: NorthflankStandin, clock: FakeClock
) -> None:
    result, reads = follow(simulated, clock, duration=600.0)

    assert result.reason == "concluded"
    assert len(reads) == len(simulated.requests_to("get")) <= 40
    assert clock.now - 600.0 <= 30.0


def test_an_hour_long_run_stays_frugal(simulated: NorthflankStandin, clock: FakeClock) -> None:
    result, reads = follow(simulated, clock, duration=3600.0, timeout=6 * 3600.0)

    assert result.reason == "concluded"
    assert len(reads) <= 3600 / 30 + 10
    assert clock.now - 3600.0 <= 30.0


def test_a_low_remaining_budget_stretches_polling_until_the_reset(
    simulated: NorthflankStandin, clock: FakeClock
) -> None:
    simulated.ratelimit_remaining = 40
    simulated.ratelimit_reset = 1800
    result, reads = follow(simulated, clock, duration=1200.0)

    assert result.reason == "concluded"
    # 40 left, 10 kept in reserve: at most one read per 1800 / 30 = 60 s.
    gaps = [later - earlier for earlier, later in itertools.pairwise(reads)]
    assert min(gaps) >= 60.0
    assert len(reads) <= 1200 / 60 + 2


def test_timeout_ends_with_a_read_at_the_deadline(simulated: NorthflankStandin, clock: FakeClock) -> None:
    result, reads = follow(simulated, clock, duration=3600.0, timeout=95.0)

    assert result.reason == "timeout"
    assert clock.now == pytest.approx(95.0)
    assert reads[-1] == pytest.approx(95.0)


def test_every_status_read_is_capped_by_the_time_left_before_the_timeout(
    simulated: NorthflankStandin, clock: FakeClock
) -> None:
    simulated.plan = RunPlan(steps=[(0.0, "running"), (3600.0, "success")])
    client = TimedClient(simulated.url, API_TOKEN_DEFAULT)
    client.read_times, client.budgets, client.clock = [], [], clock
    run = run_from(client.trigger(TARGET, {"name": "Simulated run"}).data)
    assert run is not None
    waiter = Waiter(client, TARGET, PollPolicy(), Cancellation(), log=lambda _: None, clock=clock, sleep=clock.sleep)

    result = waiter.wait(str(run["id"]), 95.0, run)

    assert result.reason == "timeout"
    assert client.budgets == [pytest.approx(95.0 - at) for at in client.read_times]
    assert client.budgets[-1] == pytest.approx(0.0)  # the last read still gets MIN_REQUEST_SECONDS (test_bounded)
    # The read of the flow's history before the first status read is capped the same way.
    assert client.list_budgets == [pytest.approx(95.0)]


def test_persistent_read_errors_back_off_to_a_minute_and_only_the_timeout_ends_the_wait(
    simulated: NorthflankStandin, clock: FakeClock
) -> None:
    simulated.add_fault(Fault("GET", "get", "status", status=502, times=1000, message="bad gateway"))
    result, reads = follow(simulated, clock, duration=3600.0, timeout=1800.0)

    assert result.reason == "timeout"
    assert clock.now == pytest.approx(1800.0)
    assert "has not answered since" in result.message
    assert "bad gateway" in result.message
    gaps = [later - earlier for earlier, later in itertools.pairwise(reads)]
    assert gaps[:-1] == sorted(gaps[:-1])  # each wait at least as long as the one before, but the last (deadline)
    assert max(gaps) == 60.0
    assert len(reads) <= 1800 / 60 + 8


# --- Through an outage -----------------------------------------------------------------------------------------


class Watched:
    """A wait on the simulated clock, with what it warned and noticed, and when it read."""

    def __init__(self, standin: NorthflankStandin, clock: FakeClock, duration: float, timeout: float) -> None:
        standin.plan = RunPlan(steps=[(0.0, "running"), (duration, "success")])
        self.client = client_on(standin, clock)
        self.clock = clock
        self.warnings: list[str] = []
        self.notices: list[str] = []
        self.log: list[str] = []
        run = run_from(self.client.trigger(TARGET, {"name": "Release shop v140"}).data)
        assert run is not None
        self.run_id = str(run["id"])
        self.first = run
        self.waiter = Waiter(
            self.client,
            TARGET,
            PollPolicy(),
            Cancellation(),
            log=self.log.append,
            clock=clock,
            sleep=clock.sleep,
            warn=self.warnings.append,
            notice=self.notices.append,
        )
        self.timeout = timeout

    def wait(self) -> WaitResult:
        return self.waiter.wait(self.run_id, self.timeout, self.first)


@pytest.mark.parametrize("mode", MODES)
def test_a_six_minute_outage_inside_the_timeout_only_delays_the_answer(
    simulated: NorthflankStandin, clock: FakeClock, mode: str
) -> None:
    watched = Watched(simulated, clock, duration=480.0, timeout=600.0)
    simulated.outage = Outage(mode, 360.0, start=60.0, hang_seconds=1.0)

    result = watched.wait()

    assert result.reason == "concluded", "\n".join(watched.log)
    assert result.run is not None
    assert result.run["status"] == "success"
    assert len(watched.warnings) == 1
    assert "not answering" in watched.warnings[0]
    assert len(watched.notices) == 1
    assert "answers again" in watched.notices[0]
    reads = simulated.requests_to("get")
    during = [read for read in reads if 60.0 <= read.at < 420.0]
    # Backoff doubling to a minute: about 2+4+8+16+32+60+60+60+60+60 s over six minutes.
    assert len(during) <= 12, f"{len(during)} reads during the outage"


def test_the_same_outage_past_a_two_minute_timeout_is_a_timeout_that_names_the_outage(
    simulated: NorthflankStandin, clock: FakeClock
) -> None:
    watched = Watched(simulated, clock, duration=480.0, timeout=120.0)
    simulated.outage = Outage("503", 360.0, start=60.0)

    result = watched.wait()

    assert result.reason == "timeout"
    assert 120.0 <= clock.now <= 125.0
    assert "has not answered since" in result.message
    assert "503" in result.message
    assert watched.notices == []


def test_a_401_in_mid_wait_ends_it_at_once(simulated: NorthflankStandin, clock: FakeClock) -> None:
    watched = Watched(simulated, clock, duration=480.0, timeout=600.0)
    simulated.add_fault(Fault("GET", "get", "status", status=401, times=1000, message="Unauthorized"))

    result = watched.wait()

    assert result.reason == "read-failed"
    assert "HTTP 401" in result.message
    assert "token" in result.message
    assert len(simulated.requests_to("get")) == 1
    assert clock.now <= 30.0
