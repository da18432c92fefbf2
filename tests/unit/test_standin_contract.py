"""The stand-in's answers held against the run shape the API documents (tests/unit/contract/run.schema.json).

Every route that returns a run (trigger, get, list, abort) is read at several moments of flows of every
kind, so a change to the stand-in that serves another type (an ISO string for a node time, a null, an
undocumented status) fails here instead of silently teaching the action the wrong world.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator

from testing import flows
from testing.clock import FakeClock
from testing.northflank_standin import API_TOKEN_DEFAULT, NODE_STATUSES, FlowStep, NorthflankStandin, RunPlan, workflow

SCHEMA = json.loads((Path(__file__).parent / "contract" / "run.schema.json").read_text(encoding="utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA)
LISTED_VALIDATOR = Draft202012Validator({**SCHEMA, **SCHEMA["$defs"]["listedRun"]})
AUTH = {"Authorization": f"Bearer {API_TOKEN_DEFAULT}"}
FLOW = "/v1/projects/proj/pipelines/pipe/release-flows/staging/runs"

PLANS: dict[str, RunPlan] = {
    "default-success": RunPlan(steps=[(0.0, "queued"), (5.0, "running"), (60.0, "success")]),
    "default-build-fails": RunPlan(steps=[(0.0, "running"), (60.0, "failure")], failing_node="build"),
    "default-deploy-fails": RunPlan(steps=[(0.0, "running"), (60.0, "failure")], failing_node="deploy"),
    "every-status": RunPlan.following(flows.every_status()),
    "failed-nested": RunPlan.following(flows.failed_nested()),
    "succeeded-nested": RunPlan.following(flows.succeeded_nested()),
    "sixty-nodes": RunPlan.following(flows.big(60)),
    "deep": RunPlan.following(flows.deep(12)),
    "hostile": RunPlan.following(flows.hostile()),
}


def problems(run: Any, validator: Draft202012Validator = VALIDATOR) -> list[str]:
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(run)]


def nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    if node.get("kind") == "Workflow":
        for step in node["spec"]["steps"]:
            yield from nodes(step)


def test_the_schema_is_the_documented_status_list() -> None:
    assert tuple(SCHEMA["$defs"]["nodeStatus"]["enum"]) == NODE_STATUSES
    Draft202012Validator.check_schema(SCHEMA)


def test_the_schema_rejects_what_the_stand_in_used_to_serve() -> None:
    """The shapes of the old stand-in: ISO strings as node times, nulls, a root without a response."""
    node = {"kind": "StartBuild", "ref": "b", "spec": {}, "response": {"status": "success"}}
    good = {
        "apiVersion": "v1.2",
        "id": "r",
        "name": "n",
        "description": "",
        "status": "success",
        "concluded": True,
        "createdAt": "2026-01-01 00:00:00.000Z",
        "updatedAt": "2026-01-01 00:00:00.000Z",
        "spec": {
            "kind": "Workflow",
            "spec": {"type": "sequential", "steps": [node]},
            "response": {"status": "success"},
        },
    }
    assert problems(good) == []
    for bad_run in ({**good, "startedAt": None}, {**good, "pipelineId": "p"}, {**good, "status": "bogus"}):
        assert problems(bad_run), bad_run
    listed = {key: good[key] for key in ("id", "name", "status", "concluded", "createdAt", "updatedAt")}
    assert problems(listed, LISTED_VALIDATOR) == []
    assert problems({**listed, "arguments": {}}, LISTED_VALIDATOR), "the list carries no arguments"
    assert problems({**listed, "spec": good["spec"]}, LISTED_VALIDATOR), "nor a flow"
    for bad_response in (
        {"status": "success", "startTime": "2026-01-01 00:00:00.000Z"},
        {"status": "success", "startTime": None},
        {"status": "success", "endTime": 1795936626.5},
        {"status": "running"},
        {"status": "failure", "error": "boom"},
    ):
        bad = json.loads(json.dumps(good))
        bad["spec"]["spec"]["steps"][0]["response"] = bad_response
        assert problems(bad), bad_response
    rootless = json.loads(json.dumps(good))
    del rootless["spec"]["response"]
    assert problems(rootless)
    mixed = json.loads(json.dumps(good))
    mixed["spec"]["spec"]["type"] = "mixed"
    assert problems(mixed)


@pytest.mark.parametrize("name", list(PLANS))
def test_every_answer_has_the_documented_shape(name: str, simulated: NorthflankStandin, clock: FakeClock) -> None:
    simulated.plan = PLANS[name]
    created = requests.post(simulated.url + FLOW, json={"name": "Contract run"}, headers=AUTH, timeout=5)
    assert created.status_code == 200
    answers = [created.json()["data"]]
    run_id = answers[0]["id"]
    for step in (1.0, 10.0, 30.0, 100.0, 1000.0, 10000.0):
        clock.now += step
        got = requests.get(f"{simulated.url}{FLOW}/{run_id}", headers=AUTH, timeout=5)
        answers.append(got.json()["data"])
        listed = requests.get(simulated.url + FLOW, headers=AUTH, timeout=5)
        for item in listed.json()["data"]["runs"]:
            assert problems(item, LISTED_VALIDATOR) == [], name
    seen_statuses: set[str] = set()
    for run in answers:
        assert problems(run) == [], name
        for node in nodes(run["spec"]):
            response = node["response"]
            seen_statuses.add(response["status"])
            if "endTime" in response:
                assert response["endTime"] >= response["startTime"]
            if node["kind"] == "Workflow" and node["spec"]["steps"]:
                starts = [s["response"]["startTime"] for s in node["spec"]["steps"] if "startTime" in s["response"]]
                assert response.get("startTime") == (min(starts) if starts else None)
    if name == "every-status":
        # Every documented node status is served; nodes held in approval_wait and the like keep it running.
        assert seen_statuses >= set(NODE_STATUSES)
        assert answers[-1]["concluded"] is False
    else:
        assert answers[-1]["concluded"] is True


def test_an_aborted_flow_keeps_the_documented_shape(simulated: NorthflankStandin, clock: FakeClock) -> None:
    simulated.plan = RunPlan.following(flows.failed_nested())
    run_id = requests.post(simulated.url + FLOW, json={}, headers=AUTH, timeout=5).json()["data"]["id"]
    clock.now += 60
    aborted = requests.post(f"{simulated.url}{FLOW}/{run_id}/abort", headers=AUTH, timeout=5).json()["data"]
    assert problems(aborted) == []
    statuses = {node["ref"]: node["response"]["status"] for node in nodes(aborted["spec"])}
    assert statuses["checkout-tests"] == "success"
    assert statuses["build-api"] == "aborted"
    assert statuses["migrate-db"] in {"skipped", "waiting"}
    assert aborted["status"] == "aborted"


def test_node_times_are_the_runs_wall_clock(simulated: NorthflankStandin, clock: FakeClock) -> None:
    simulated.plan = RunPlan.following(workflow("root", "sequential", FlowStep("a", duration=130.0)))
    created = requests.post(simulated.url + FLOW, json={}, headers=AUTH, timeout=5).json()["data"]
    clock.now += 200
    run = requests.get(f"{simulated.url}{FLOW}/{created['id']}", headers=AUTH, timeout=5).json()["data"]
    (leaf,) = run["spec"]["spec"]["steps"]
    assert leaf["response"]["endTime"] - leaf["response"]["startTime"] in {129, 130, 131}
    assert run["status"] == "success"
