"""The client's size limit and total deadline, in-process against the stand-in (northflank_release/api/bounded.py)."""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

import pytest

from northflank_release.api import client as client_module
from northflank_release.api.bounded import MAX_ANSWER_BYTES, AnswerTooSlow
from northflank_release.api.client import (
    ApiAnswer,
    ApiError,
    NorthflankClient,
    RunsPage,
    UnexpectedAnswer,
    run_from,
)
from northflank_release.api.network import explain
from northflank_release.api.target import Target
from northflank_release.trigger import RetryPolicy, Trigger
from testing.clock import FakeClock
from testing.northflank_standin import API_TOKEN_DEFAULT, Fault, NorthflankStandin, RunPlan

TARGET = Target("shop", "release-pipeline", "production")


@pytest.fixture
def client(standin: NorthflankStandin) -> NorthflankClient:
    standin.plan = RunPlan(steps=[(0.0, "running"), (3600.0, "success")])
    return NorthflankClient(standin.url, API_TOKEN_DEFAULT, read_timeout=30.0)


def new_run(client: NorthflankClient) -> str:
    run = run_from(client.trigger(TARGET, {"name": "Bounded run"}).data)
    assert run is not None
    return str(run["id"])


def test_an_endless_answer_is_read_to_the_limit_only(standin: NorthflankStandin, client: NorthflankClient) -> None:
    run_id = new_run(client)
    standin.add_fault(Fault("GET", "get", "endless"))

    tracemalloc.start()
    try:
        with pytest.raises(UnexpectedAnswer, match="went on past 4 MiB"):
            client.get_run(TARGET, run_id)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 8 * MAX_ANSWER_BYTES
    # The cut connection is not reused: the next read gets the run.
    assert run_from(client.get_run(TARGET, run_id).data) is not None


def test_a_huge_error_answer_keeps_its_status(standin: NorthflankStandin, client: NorthflankClient) -> None:
    new_run(client)
    standin.add_fault(Fault("GET", "get", "huge"))
    # "huge" pads the real answer: here the API's 404 for a run that does not exist.
    with pytest.raises(ApiError) as raised:
        client.get_run(TARGET, "no-such-run")
    assert raised.value.status == 404
    assert "not JSON" in str(raised.value)  # cut, so never parsed


def test_a_dripping_answer_ends_at_the_callers_deadline(
    standin: NorthflankStandin, client: NorthflankClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The deadline is a real timer, so the floor a spent budget still gets is shortened from its 3 s here;
    # tests/e2e/test_hostile_answers.py shows the real floor, end to end.
    monkeypatch.setattr(client_module, "MIN_REQUEST_SECONDS", 1.0)
    run_id = new_run(client)
    standin.add_fault(Fault("GET", "get", "drip", delay=0.2))

    started = time.monotonic()
    with pytest.raises(AnswerTooSlow) as raised:
        client.get_run(TARGET, run_id, within=0.0)
    took = time.monotonic() - started

    assert 0.9 <= took < 1.9
    problem = explain(raised.value)
    assert problem.may_have_arrived  # like a read timeout: the trigger looks the run up, the wait reads again
    assert problem.text == "no complete answer within 1s"


class BudgetClient(NorthflankClient):
    """The real client, noting the `within` of each trigger and list read and the simulated time it was made."""

    calls: list[tuple[str, float, float | None]]
    clock: FakeClock

    def trigger(self, target: Target, body: dict[str, Any], within: float | None = None) -> ApiAnswer:
        self.calls.append(("trigger", self.clock.now, within))
        return super().trigger(target, body, within)

    def list_page(self, target: Target, params: dict[str, str], within: float | None = None) -> RunsPage:
        self.calls.append(("list", self.clock.now, within))
        return super().list_page(target, params, within)


def test_every_trigger_request_and_lookup_is_capped_by_the_trigger_budget(
    simulated: NorthflankStandin, clock: FakeClock
) -> None:
    simulated.add_fault(Fault("POST", "trigger", "status", status=502, times=2))  # lost answers: looked up
    client = BudgetClient(simulated.url, API_TOKEN_DEFAULT)
    client.calls, client.clock = [], clock
    trigger = Trigger(client, TARGET, RetryPolicy(max_seconds=60.0), clock=clock, sleep=clock.sleep)

    result = trigger.run({"name": "Budgeted run", "description": "Budget, trigger 1a2b3c4d"}, identifiable=True)

    assert result.run_id
    kinds = [kind for kind, _, _ in client.calls]
    assert kinds.count("trigger") == 3
    assert "list" in kinds
    for _kind, at, within in client.calls:
        assert within == pytest.approx(60.0 - at)
