"""The client's size limit and total deadline, in-process against the stand-in (northflank_release/bounded.py)."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from northflank_release.bounded import MAX_ANSWER_BYTES, AnswerTooSlow
from northflank_release.network import explain
from northflank_release.northflank import MIN_REQUEST_SECONDS, ApiError, NorthflankClient, UnexpectedAnswer, run_from
from northflank_release.request import Target
from tests.northflank_standin import API_TOKEN_DEFAULT, Fault, NorthflankStandin, RunPlan

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


def test_a_dripping_answer_ends_at_the_callers_deadline(standin: NorthflankStandin, client: NorthflankClient) -> None:
    run_id = new_run(client)
    standin.add_fault(Fault("GET", "get", "drip", delay=0.5))

    started = time.monotonic()
    with pytest.raises(AnswerTooSlow) as raised:
        client.get_run(TARGET, run_id, within=0.0)
    took = time.monotonic() - started

    assert MIN_REQUEST_SECONDS - 0.1 <= took < MIN_REQUEST_SECONDS + 1.0
    problem = explain(raised.value)
    assert problem.may_have_arrived  # like a read timeout: the trigger looks the run up, the wait reads again
    assert problem.text == "no complete answer within 3s"
