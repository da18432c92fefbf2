"""Trigger in-process, on a simulated clock: exactly once through an API that goes away for a while (the
stand-in's outage switch: 503 from a gateway, a reset connection, a hang until the read timeout), and through
tokens that also occur inside the answers. testing.clock.SimulatedTimeoutClient charges each hang the read
timeout a user would wait, so an outage of minutes takes a fraction of a second.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from northflank_release.api.client import NorthflankClient
from northflank_release.api.target import Target
from northflank_release.trigger import RetryPolicy, Trigger, TriggerFailed, TriggerResult
from testing.clock import USERS_READ_TIMEOUT, FakeClock, client_on
from testing.northflank_standin import Fault, NorthflankStandin, Outage

TARGET = Target("shop", "release-pipeline", "production")
BODY = {
    "name": "Release shop v140",
    "description": "Triggered by acme/shop, trigger 3f9a0c2e",  # the random marker: proof the run is ours
    "arguments": {"VERSION": "v1.4.0"},
}
MODES = ("503", "reset", "hang")


@pytest.fixture
def quiet() -> list[str]:
    """The log lines of the code under test."""
    return []


def trigger_with(standin: NorthflankStandin, clock: FakeClock, log: list[str], budget: float = 120.0) -> TriggerResult:
    trigger = Trigger(
        client_on(standin, clock),
        TARGET,
        RetryPolicy(max_seconds=budget),
        log=log.append,
        clock=clock,
        sleep=clock.sleep,
    )
    return trigger.run(dict(BODY), identifiable=True)


# --- The trigger ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seconds", [8.0, 30.0])
def test_an_outage_shorter_than_the_budget_ends_with_one_run_and_its_id(
    simulated: NorthflankStandin, clock: FakeClock, quiet: list[str], mode: str, seconds: float
) -> None:
    simulated.outage = Outage(mode, seconds, hang_seconds=1.0)

    result = trigger_with(simulated, clock, quiet)

    [run] = simulated.runs()
    assert result.run_id == run["id"], "\n".join(quiet)
    assert len(simulated.requests_to("trigger")) == 2, "sent again only once the list proved the run absent"
    assert simulated.requests_to("trigger")[1].body_json == BODY
    assert simulated.requests_to("trigger")[1].at >= seconds, "sent again after the outage, not during it"
    if mode != "hang":  # a hang costs the POST its 30 s read timeout, and the outage is over by then
        assert any("answers again" in line for line in quiet), "\n".join(quiet)


@pytest.mark.parametrize("mode", MODES)
def test_an_outage_longer_than_the_budget_fails_honestly_without_a_second_request(
    simulated: NorthflankStandin, clock: FakeClock, quiet: list[str], mode: str
) -> None:
    simulated.outage = Outage(mode, 150.0, hang_seconds=1.0)

    with pytest.raises(TriggerFailed) as failed:
        trigger_with(simulated, clock, quiet)

    assert simulated.runs() == []
    assert len(simulated.requests_to("trigger")) == 1
    message = str(failed.value)
    assert "unreachable for the whole 120s" in message, message
    assert "Not retrying, so as not to deploy twice" in message
    assert 100.0 <= clock.now <= 120.0 + USERS_READ_TIMEOUT, "it kept looking for most of the budget"
    lists = simulated.requests_to("list")
    # Each hung read costs its read timeout, so a hang leaves room for fewer reads.
    assert (3 if mode == "hang" else 5) <= len(lists) <= 40, f"{len(lists)} list reads"


def test_list_reads_during_an_outage_follow_a_capped_backoff(
    simulated: NorthflankStandin, clock: FakeClock, quiet: list[str]
) -> None:
    simulated.outage = Outage("503", 150.0)
    times: list[float] = []
    real_list_page = NorthflankClient.list_page

    def timed_list_page(
        self: NorthflankClient, target: Target, params: dict[str, str], within: float | None = None
    ) -> Any:
        times.append(clock.now)
        return real_list_page(self, target, params, within)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(NorthflankClient, "list_page", timed_list_page)
        with pytest.raises(TriggerFailed):
            trigger_with(simulated, clock, quiet)

    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert gaps == sorted(gaps), gaps
    assert max(gaps) <= 15.0


def test_the_api_asking_for_a_pause_on_the_list_is_obeyed(
    simulated: NorthflankStandin, clock: FakeClock, quiet: list[str]
) -> None:
    simulated.add_fault(Fault("POST", "trigger", "drop", create_first=True))
    simulated.add_fault(
        Fault("GET", "list", "status", status=429, times=2, message="Slow down", headers={"Retry-After": "20"})
    )

    result = trigger_with(simulated, clock, quiet)

    [run] = simulated.runs()
    assert result.run_id == run["id"]
    lists = [request.time for request in simulated.requests_to("list")]
    assert len(lists) == 3
    assert clock.now >= 40.0, "two pauses of 20 s, as Retry-After asked"


def test_a_list_the_token_may_not_read_fails_at_once_without_a_second_request(
    simulated: NorthflankStandin, clock: FakeClock, quiet: list[str]
) -> None:
    simulated.add_fault(Fault("POST", "trigger", "drop", create_first=True))
    simulated.add_fault(Fault("GET", "list", "status", status=403, times=50, message="Forbidden"))

    with pytest.raises(TriggerFailed) as failed:
        trigger_with(simulated, clock, quiet)

    assert len(simulated.requests_to("trigger")) == 1
    assert len(simulated.requests_to("list")) == 1
    assert "Pipelines > General > Read" in str(failed.value)


# --- Odd tokens: an answer is parsed as received ---------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "T",  # one character, inside "Triggered by": it must not turn our description into "***riggered"
        "Release",  # a common word, inside the run's name
        "v1.4.0",  # inside the run's arguments
    ],
)
@pytest.mark.parametrize("fault", ["drop-after-create", "500-after-create", "no-id"])
def test_a_token_found_inside_the_answer_changes_nothing_that_is_read(
    clock: FakeClock, quiet: list[str], token: str, fault: str
) -> None:
    with NorthflankStandin(token, clock=clock) as standin:
        standin.add_fault(
            {
                "drop-after-create": Fault("POST", "trigger", "drop", create_first=True),
                "500-after-create": Fault("POST", "trigger", "status", status=500, create_first=True),
                "no-id": Fault("POST", "trigger", "no_id"),
            }[fault]
        )
        trigger = Trigger(client_on(standin, clock, token), TARGET, log=quiet.append, clock=clock, sleep=clock.sleep)
        result = trigger.run(dict(BODY), identifiable=True)

        [run] = standin.runs()
        assert result.run_id == run["id"], "\n".join(quiet)
        assert result.run is not None
        assert result.run["description"] == BODY["description"]
        assert result.run["arguments"] == BODY["arguments"]
        assert len(standin.requests_to("trigger")) == 1


@pytest.mark.parametrize("created", [True, False], ids=["created-then-408", "408-before-the-api"])
def test_a_408_is_looked_up_before_anything_is_sent_again(
    simulated: NorthflankStandin, clock: FakeClock, quiet: list[str], created: bool
) -> None:
    """A 408 may come from whatever stands before the API, after the API acted: one run either way."""
    simulated.add_fault(Fault("POST", "trigger", "status", status=408, create_first=created, message="Timeout"))

    result = trigger_with(simulated, clock, quiet)

    [run] = simulated.runs()
    assert result.run_id == run["id"], "\n".join(quiet)
    assert len(simulated.requests_to("trigger")) == (1 if created else 2)
    assert simulated.requests_to("list"), "the list was read before any resend"
