"""Tests of the Northflank stand-in itself, over real HTTP with `requests`."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import requests

from testing.clock import FakeClock
from testing.northflank_standin import (
    API_TOKEN_DEFAULT,
    LIST_FIELDS,
    Fault,
    NorthflankStandin,
    RunPlan,
)

AUTH = {"Authorization": f"Bearer {API_TOKEN_DEFAULT}"}
FLOW = "/v1/projects/proj/pipelines/pipe/release-flows/staging/runs"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def standin(simulated: NorthflankStandin) -> NorthflankStandin:
    """Every test here drives the stand-in's clock by hand."""
    return simulated


def trigger(standin: NorthflankStandin, body: Any = None, **kw: Any) -> requests.Response:
    return requests.post(
        standin.url + FLOW,
        json={"name": "Release one"} if body is None else body,
        headers=kw.pop("headers", AUTH),
        timeout=kw.pop("timeout", 5),
        **kw,
    )


def error_message(response: requests.Response) -> str:
    message: str = response.json()["error"]["message"]
    return message


def test_trigger_creates_run_with_documented_shape(standin: NorthflankStandin) -> None:
    response = trigger(standin, {"name": "v1-2-3 release", "arguments": {"TAG": "v1.2.3"}})

    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(response.content))
    assert response.headers["x-ratelimit-limit"] == "1000"
    assert response.headers["x-ratelimit-remaining"] == "999"
    assert response.headers["x-ratelimit-reset"] == "3600"
    run = response.json()["data"]
    assert run["name"] == "v1-2-3 release"
    assert "description" not in run, "none was given: left out, not empty or null"
    assert run["arguments"] == {"TAG": "v1.2.3"}
    assert run["options"] == {"concurrencyPolicy": "allow", "paused": False}
    assert run["apiVersion"] == "v1.2"
    assert (run["status"], run["concluded"]) == ("success", True)
    for key in ("createdAt", "updatedAt", "startedAt", "concludedAt"):
        assert TIMESTAMP.match(run[key]), key
    steps = run["spec"]["spec"]["steps"]
    assert [(s["kind"], s["ref"], s["response"]["status"]) for s in steps] == [
        ("StartBuild", "build", "success"),
        ("Release", "deploy", "success"),
    ]
    assert standin.runs() == [{**run, "projectId": "proj", "pipelineId": "pipe", "stage": "staging"}]
    got = requests.get(f"{standin.url}{FLOW}/{run['id']}", headers=AUTH, timeout=5)
    assert got.json() == {"data": run}
    [listed] = requests.get(standin.url + FLOW, headers=AUTH, timeout=5).json()["data"]["runs"]
    assert listed == {key: run[key] for key in LIST_FIELDS if key in run}, "a listed run: the list's fields only"


def test_unnamed_runs_get_generated_names(standin: NorthflankStandin) -> None:
    names = [trigger(standin, {}).json()["data"]["name"] for _ in range(2)]
    assert names == ["Run 1", "Run 2"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": API_TOKEN_DEFAULT}],
)
def test_bad_token_is_401_and_still_recorded(standin: NorthflankStandin, headers: dict[str, str]) -> None:
    response = trigger(standin, headers=headers)

    assert response.status_code == 401
    assert error_message(response) == "Unauthorized"
    assert response.json()["error"]["status"] == 401
    assert standin.runs() == []
    assert len(standin.requests_to("trigger", "POST")) == 1


def test_checks_run_in_documented_order(standin: NorthflankStandin) -> None:
    standin.known_projects = {"proj"}
    standin.known_pipelines = {"pipe"}
    base = standin.url + "/v1/projects/{}/pipelines/{}/release-flows/{}/runs"
    bad_body = {"name": "x"}

    def post(project: str, pipeline: str, stage: str) -> tuple[int, str]:
        url = base.format(project, pipeline, stage)
        response = requests.post(url, json=bad_body, headers=AUTH, timeout=5)
        return response.status_code, error_message(response)

    assert post("other", "other", "Staging") == (404, "Stage not found")
    assert post("other", "other", "staging") == (404, "Project not found")
    assert post("proj", "other", "staging") == (404, "Pipeline not found")
    assert post("proj", "pipe", "staging") == (400, "Invalid request body")
    unknown = requests.get(standin.url + "/v1/nothing", headers=AUTH, timeout=5)
    assert unknown.status_code == 404
    assert "error" in unknown.json()


def test_body_validation_follows_schema_and_ecmascript(
    standin: NorthflankStandin,
) -> None:
    response = trigger(standin, {"name": "ab", "colour": "red", "description": "#1"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == "Invalid request body"
    paths = sorted(item["path"] for item in error["details"]["errors"])
    assert paths == ["$", "$.description", "$.name"]

    # Python's `$` would accept the trailing newline; the API's JavaScript regex does not.
    assert trigger(standin, {"name": "Release one\n"}).status_code == 400
    # The description's character class contains `\s`, so JavaScript accepts a newline.
    assert trigger(standin, {"description": "notes\n"}).status_code == 200
    # JavaScript's `\s` lacks U+0085, which Python's includes.
    assert trigger(standin, {"name": "Release\x85one"}).status_code == 400

    not_json = requests.post(
        standin.url + FLOW,
        data="name=x",
        headers={**AUTH, "Content-Type": "application/json"},
        timeout=5,
    )
    assert not_json.status_code == 400
    form = requests.post(standin.url + FLOW, data={"name": "Release one"}, headers=AUTH, timeout=5)
    assert form.status_code == 400
    assert len(standin.runs()) == 1


def test_run_follows_plan_as_clock_advances(standin: NorthflankStandin, clock: FakeClock) -> None:
    standin.plan = RunPlan(
        steps=[(5.0, "running"), (10.0, "quantum_wait"), (20.0, "failure")],
        failing_node="deploy",
        error_message="Release failed: image missing",
    )
    run_id = trigger(standin).json()["data"]["id"]

    def read() -> dict[str, Any]:
        response = requests.get(f"{standin.url}{FLOW}/{run_id}", headers=AUTH, timeout=5)
        data: dict[str, Any] = response.json()["data"]
        return data

    first = read()
    assert (first["status"], first["concluded"]) == ("pending", False)
    assert "startedAt" not in first, "an optional field without a value is left out, not null"
    assert "concludedAt" not in first
    clock.now += 5
    assert read()["status"] == "running"
    clock.now += 5
    assert (read()["status"], read()["concluded"]) == ("quantum_wait", False)
    clock.now += 10
    final = read()
    assert (final["status"], final["concluded"]) == ("failure", True)
    assert final["concludedAt"] is not None
    build, deploy = final["spec"]["spec"]["steps"]
    assert build["response"]["status"] == "success"
    assert deploy["response"]["status"] == "failure"
    assert deploy["response"]["error"] == {
        "code": "BUILD_FAILED",
        "message": "Release failed: image missing",
    }

    standin.set_status(run_id, "running")
    assert (read()["status"], read()["concluded"]) == ("running", False)


def test_list_paginates_filters_and_flips_order(standin: NorthflankStandin) -> None:
    standin.seed_runs("proj", "pipe", "staging", 5)
    standin.seed_runs("proj", "pipe", "production", 2)

    def page(**params: Any) -> dict[str, Any]:
        response = requests.get(standin.url + FLOW, params=params, headers=AUTH, timeout=5)
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body

    first = page(per_page=2)
    assert [r["name"] for r in first["data"]["runs"]] == ["Old run 5", "Old run 4"]
    assert first["pagination"]["hasNextPage"] is True
    assert first["pagination"]["count"] == 2
    after = page(per_page=2, cursor=first["pagination"]["cursor"])
    assert [r["name"] for r in after["data"]["runs"]] == ["Old run 3", "Old run 2"]
    last = page(per_page=2, page=3)
    assert [r["name"] for r in last["data"]["runs"]] == ["Old run 1"]
    assert last["pagination"] == {"hasNextPage": False, "cursor": None, "count": 1}

    standin.list_order = "oldest_first"
    names = [r["name"] for r in page()["data"]["runs"]]
    assert names == [f"Old run {n}" for n in range(1, 6)]
    too_many = requests.get(standin.url + FLOW, params={"per_page": 101}, headers=AUTH, timeout=5)
    assert too_many.status_code == 400


def test_abort_concludes_once(standin: NorthflankStandin) -> None:
    standin.plan = RunPlan(steps=[(0.0, "running"), (3600.0, "success")])
    run_id = trigger(standin).json()["data"]["id"]
    url = f"{standin.url}{FLOW}/{run_id}/abort"

    aborted = requests.post(url, headers=AUTH, timeout=5)
    assert aborted.status_code == 200
    run = aborted.json()["data"]
    assert (run["status"], run["concluded"]) == ("aborted", True)
    assert {s["response"]["status"] for s in run["spec"]["spec"]["steps"]} == {"aborted"}
    again = requests.post(url, headers=AUTH, timeout=5)
    assert (again.status_code, error_message(again)) == (409, "Run already concluded")
    missing = requests.post(f"{standin.url}{FLOW}/nope/abort", headers=AUTH, timeout=5)
    assert missing.status_code == 404


@pytest.mark.parametrize("create_first", [True, False])
def test_drop_closes_connection_and_may_leave_run(standin: NorthflankStandin, create_first: bool) -> None:
    standin.add_fault(Fault("POST", "trigger", "drop", create_first=create_first))

    with pytest.raises(requests.ConnectionError):
        trigger(standin)

    assert len(standin.runs()) == (1 if create_first else 0)
    assert len(standin.requests_to("trigger")) == 1
    assert trigger(standin).status_code == 200  # the fault is used up


def test_status_fault_repeats_then_clears(standin: NorthflankStandin) -> None:
    standin.add_fault(
        Fault(
            "POST",
            "trigger",
            "status",
            status=503,
            times=2,
            headers={"Retry-After": "1"},
        )
    )

    answers = [trigger(standin) for _ in range(3)]

    assert [a.status_code for a in answers] == [503, 503, 200]
    assert answers[0].headers["Retry-After"] == "1"
    assert answers[0].json()["error"]["message"] == "injected fault"
    assert "x-ratelimit-remaining" in answers[0].headers
    assert len(standin.runs()) == 1
    assert standin.faults == []


@pytest.mark.parametrize(
    ("kind", "content_type", "body"),
    [
        ("html", "text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
        ("empty", None, b""),
        ("not_json", "text/plain", b"success"),
        ("no_id", "application/json", b'{"data": {}}'),
    ],
)
def test_bad_answers_and_whether_they_create(
    standin: NorthflankStandin, kind: str, content_type: str | None, body: bytes
) -> None:
    standin.add_fault(Fault("POST", "trigger", kind))

    response = trigger(standin)

    assert response.status_code == (502 if kind == "html" else 200)
    assert response.content == body
    if content_type is not None:
        assert response.headers["Content-Type"].startswith(content_type)
    assert len(standin.runs()) == (0 if kind == "html" else 1)


def test_delay_with_create_first_strands_a_run(standin: NorthflankStandin) -> None:
    standin.add_fault(Fault("POST", "trigger", "delay", delay=1.0, create_first=True))
    started = time.monotonic()

    with pytest.raises(requests.ReadTimeout):
        trigger(standin, timeout=(5, 0.1))

    assert time.monotonic() - started < 1.0
    assert len(standin.runs()) == 1
    standin.add_fault(Fault("GET", "list", "delay", delay=0.1))
    slow = requests.get(standin.url + FLOW, headers=AUTH, timeout=5)
    assert slow.status_code == 200
    listed = standin.requests_to("list")
    assert slow.elapsed.total_seconds() >= 0.1
    assert len(listed) == 1


def test_rate_limit_counts_down_to_429(standin: NorthflankStandin) -> None:
    standin.ratelimit_limit = 2
    url = standin.url + FLOW

    answers = [requests.get(url, headers=AUTH, timeout=5) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["1", "0", "0"]
    assert answers[2].headers["x-ratelimit-reset"] == "3600"
    assert "Retry-After" not in answers[2].headers
    assert answers[2].json()["error"]["status"] == 429


def test_forbid_concurrency_and_team_scope(standin: NorthflankStandin) -> None:
    standin.concurrency = "forbid"
    standin.plan = RunPlan(steps=[(0.0, "running"), (3600.0, "success")])
    standin.team_id = "team-a"
    team_flow = standin.url + "/v1/teams/team-a" + FLOW.removeprefix("/v1")
    body = {"name": "Release one"}

    plain = trigger(standin)
    assert plain.status_code == 403
    assert "team route" in error_message(plain)
    first = requests.post(team_flow, json=body, headers=AUTH, timeout=5)
    assert first.status_code == 200
    second = requests.post(team_flow, json=body, headers=AUTH, timeout=5)
    assert second.status_code == 409
    standin.set_status(first.json()["data"]["id"], "success")
    third = requests.post(team_flow, json=body, headers=AUTH, timeout=5)
    assert third.status_code == 200


@pytest.mark.parametrize("policy", ["queue", "latest", "replace"])
def test_concurrency_policies_queue_skip_or_abort(standin: NorthflankStandin, clock: FakeClock, policy: str) -> None:
    """queue: a second run waits `queued` behind the first and then follows its plan; latest: a third run
    replaces the queued second, which ends `skipped`; replace: a new run aborts the one in progress."""
    standin.concurrency = policy
    standin.plan = RunPlan(steps=[(0.0, "running"), (60.0, "success")])
    first, second = (trigger(standin).json()["data"]["id"] for _ in range(2))
    clock.now += 1
    third = trigger(standin).json()["data"]["id"]

    def status(run_id: str) -> str:
        run = requests.get(f"{standin.url}{FLOW}/{run_id}", headers=AUTH, timeout=5).json()["data"]
        assert run["options"]["concurrencyPolicy"] == policy
        return str(run["status"])

    if policy == "replace":
        assert [status(first), status(second), status(third)] == ["aborted", "aborted", "running"]
        return
    assert status(first) == "running"
    assert status(second) == ("queued" if policy == "queue" else "skipped")
    assert status(third) == "queued"
    clock.now += 60
    assert status(first) == "success"
    if policy == "queue":
        assert [status(second), status(third)] == ["running", "queued"]
        clock.now += 60
        assert [status(second), status(third)] == ["success", "running"]
    else:
        assert status(third) == "running"
