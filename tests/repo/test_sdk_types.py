"""The API as the official SDK's generated types document it, held against everything here that assumes it.

`northflank` (a hash-pinned dev dependency, updated by Dependabot) is generated from the API; its
`_types.py` is the documented shape. The field lists below are read from those types, never written out
here, so the next API change (a field, a status, a policy, a query parameter) fails this test when
Dependabot brings the new SDK, instead of reaching a user as a bug:
- the stand-in's answers (list items, a run read on its own, the abort answer) carry exactly what the types
  promise: every required field, no field the types do not name, no null where a field is optional;
- the request schema in schema/ has the request type's fields;
- the statuses the action knows (runs.py) are the types' statuses; the policies it reasons about exist;
- the list queries the action sends use only the list endpoint's query parameters, with valid values.
"""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any, Literal, NotRequired, Required, Union

import requests
import typing_extensions
from northflank import _types as sdk
from northflank.endpoints.list.release_flow_runs import ListReleaseFlowRunsEndpoint

from northflank_release import lookup, runs, situation
from northflank_release.api.client import NorthflankClient, run_from
from northflank_release.api.target import Target
from northflank_release.cancellation import Cancellation
from northflank_release.plan import CONCURRENCY
from northflank_release.trigger import Trigger
from northflank_release.waiting import PollPolicy, Waiter
from testing import flows
from testing.clock import FakeClock
from testing.northflank_standin import (
    API_TOKEN_DEFAULT,
    CONCURRENCY_POLICIES,
    LIST_FIELDS,
    SCHEMA_PATH,
    Fault,
    FlowStep,
    NorthflankStandin,
    RunPlan,
    release_flow_template,
    workflow,
)

RUN = sdk.AbortReleaseFlowRunResponse  # what GET .../runs/{runId} and the abort answer with (the SDK's endpoints say)
LISTED = sdk.ListReleaseFlowRunsResponseRun
REQUEST = sdk.RunReleaseFlowRequest
AUTH = {"Authorization": f"Bearer {API_TOKEN_DEFAULT}"}
TARGET = Target("shop", "release-pipeline", "production")
FLOW = "/v1/projects/shop/pipelines/release-pipeline/release-flows/production/runs"


# --- reading the generated types --------------------------------------------------------------------------


def fields(typed: Any) -> dict[str, tuple[bool, Any]]:
    """A TypedDict's fields: name -> (required, type). The SDK writes its annotations as strings (some keys,
    such as `$schema`, only fit the functional form), so `__required_keys__` cannot see NotRequired in them;
    get_type_hints resolves the strings, and NotRequired stays visible with include_extras."""
    found = {}
    for name, hint in typing.get_type_hints(typed, include_extras=True).items():
        origin = typing.get_origin(hint)
        if origin in (NotRequired, Required):
            found[name] = (origin is Required, typing.get_args(hint)[0])
        else:
            found[name] = (True, hint)
    return found


def literal_values(hint: Any) -> set[str]:
    assert typing.get_origin(hint) is Literal, hint
    return {str(value) for value in typing.get_args(hint)}


def conforms(value: Any, hint: Any, path: str = "$") -> list[str]:
    """Where `value` (JSON) is not of the type `hint` (a generated SDK type); [] when it is."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return []
    if hint is type(None):
        return [] if value is None else [f"{path}: {value!r} is not null"]
    if origin in (Union, types.UnionType):
        options = [conforms(value, option, path) for option in typing.get_args(hint)]
        return [] if any(not problem for problem in options) else [f"{path}: {value!r} fits none of {hint}"]
    if origin is Literal:
        return [] if value in typing.get_args(hint) else [f"{path}: {value!r} is not one of {typing.get_args(hint)}"]
    if typing_extensions.is_typeddict(hint):  # the SDK builds its TypedDicts with typing_extensions
        return typed_dict_problems(value, hint, path)
    if origin in (dict, typing.Dict) or hint is dict:  # noqa: UP006 - the SDK writes Dict
        return [] if isinstance(value, dict) else [f"{path}: {value!r} is not an object"]
    if origin in (list, typing.List):  # noqa: UP006 - the SDK writes List
        if not isinstance(value, list):
            return [f"{path}: {value!r} is not a list"]
        (item,) = typing.get_args(hint)
        return [problem for index, entry in enumerate(value) for problem in conforms(entry, item, f"{path}[{index}]")]
    if hint is bool:
        return [] if isinstance(value, bool) else [f"{path}: {value!r} is not a boolean"]
    if hint in (int, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{path}: {value!r} is not a number"]
    if hint is str:
        return [] if isinstance(value, str) else [f"{path}: {value!r} is not a string"]
    raise AssertionError(f"{path}: the SDK uses a type this test does not know yet: {hint!r}")


def typed_dict_problems(value: Any, typed: Any, path: str = "$") -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: {value!r} is not an object"]
    known = fields(typed)
    problems = [f"{path}.{name}: not in {typed.__name__}" for name in value if name not in known]
    for name, (required, hint) in known.items():
        if name not in value:
            if required:
                problems.append(f"{path}.{name}: required by {typed.__name__}, missing")
            continue
        problems += conforms(value[name], hint, f"{path}.{name}")
    return problems


def test_the_reader_of_types_sees_what_is_optional() -> None:
    """The one place this test could pass by misreading: NotRequired written inside string annotations."""
    listed = fields(LISTED)
    assert listed["id"][0] is True
    assert listed["startedAt"][0] is False
    assert typed_dict_problems({"id": "a", "status": "running", "concluded": False}, LISTED) != []
    assert typed_dict_problems({"startedAt": None}, LISTED) != []


# --- the stand-in's answers ---------------------------------------------------------------------------------


def _answers(standin: NorthflankStandin, clock: FakeClock) -> tuple[list[Any], list[Any], list[Any]]:
    """(triggers, runs read on their own and abort answers, list items) from flows in every state the stand-in
    can put a run in: each documented node status, queued, skipped, aborted, approval, a paused flow."""
    triggered, read, listed = [], [], []

    def trigger(body: dict[str, Any]) -> str:
        answer = requests.post(standin.url + FLOW, json=body, headers=AUTH, timeout=5).json()["data"]
        triggered.append(answer)
        return str(answer["id"])

    def observe(run_id: str) -> None:
        read.append(requests.get(f"{standin.url}{FLOW}/{run_id}", headers=AUTH, timeout=5).json()["data"])
        listed.extend(requests.get(standin.url + FLOW, headers=AUTH, timeout=5).json()["data"]["runs"])

    plans = [
        RunPlan(steps=[(0.0, "queued"), (5.0, "running"), (30.0, "approval_wait"), (90.0, "success")]),
        RunPlan.following(flows.every_status()),
        RunPlan.following(flows.failed_nested()),
        RunPlan(steps=[(0.0, "running"), (60.0, "failure")], failing_node="deploy"),
    ]
    for index, plan in enumerate(plans):
        standin.plan = plan
        standin.concurrency = ("latest", "queue", "replace", "allow")[index]  # forbid answers no run, only a 409
        standin.paused = index % 2 == 1
        body: dict[str, Any] = {"name": f"Contract run {index}", "arguments": {"VERSION": "v1"}}
        if index % 2:
            body["description"] = "Described"
        ids = [trigger(body) for _ in range(3)]
        for step in (1.0, 20.0, 60.0, 3600.0):
            clock.now += step
            for run_id in ids:
                observe(run_id)
    standin.concurrency = "allow"
    standin.plan = RunPlan.following(workflow("root", "sequential", FlowStep("a", duration=500.0)))
    run_id = trigger({"name": "To abort"})
    clock.now += 10
    read.append(requests.post(f"{standin.url}{FLOW}/{run_id}/abort", headers=AUTH, timeout=5).json()["data"])
    return triggered, read, listed


def test_the_stand_ins_answers_carry_exactly_what_the_sdk_types_promise(
    simulated: NorthflankStandin, clock: FakeClock
) -> None:
    triggered, read, listed = _answers(simulated, clock)

    for run in read:
        assert typed_dict_problems(run, RUN) == [], run
    # The trigger's answer is untyped in the SDK (Any); the action reads it as the run, so it is held to that.
    for run in triggered:
        assert typed_dict_problems(run, RUN) == [], run
    for run in listed:
        assert typed_dict_problems(run, LISTED) == [], run
    statuses = {run["status"] for run in read + listed}
    assert {"queued", "approval_wait", "skipped", "aborted", "success", "failure", "running"} <= statuses
    assert {"options", "arguments", "spec"} <= {name for run in read for name in run}


def test_the_stand_ins_template_is_the_sdks_release_flow(simulated: NorthflankStandin) -> None:
    """The template the plan is taught (GET .../release-flows/{stage}), paused and running alike."""
    flow_path = FLOW.removesuffix("/runs")
    for paused in (False, True):
        simulated.release_flow = release_flow_template(paused=paused, concurrency="replace")
        answer = requests.get(simulated.url + flow_path, headers=AUTH, timeout=5)
        assert answer.status_code == 200, answer.text
        assert typed_dict_problems(answer.json()["data"], sdk.GetReleaseFlowResponse) == []


def test_the_stand_ins_list_fields_are_the_sdks() -> None:
    assert set(LIST_FIELDS) == set(fields(LISTED))


def test_the_stand_ins_rich_list_is_no_documented_answer(simulated: NorthflankStandin) -> None:
    """The rich mode stays for the tests that need it, and this is how it differs: it is not the API."""
    simulated.rich_list = True
    requests.post(simulated.url + FLOW, json={"name": "Rich run"}, headers=AUTH, timeout=5)
    [item] = requests.get(simulated.url + FLOW, headers=AUTH, timeout=5).json()["data"]["runs"]
    assert typed_dict_problems(item, LISTED) != []


def test_the_stand_ins_concurrency_policies_are_the_sdks() -> None:
    assert set(CONCURRENCY_POLICIES) == literal_values(
        fields(sdk.AbortPreviewBlueprintRunResponseOptions)["concurrencyPolicy"][1]
    )
    assert set(CONCURRENCY_POLICIES) >= situation.SUPERSEDING_POLICIES


def test_the_plan_explains_each_policy_the_sdk_has() -> None:
    """A policy the next SDK adds would otherwise reach a plan as "a policy this action does not know"."""
    assert set(CONCURRENCY) == literal_values(fields(sdk.GetReleaseFlowResponse)["concurrencyPolicy"][1])


# --- the request schema and the statuses -------------------------------------------------------------------


def test_the_request_schema_has_the_request_types_fields() -> None:
    schema = json.loads(Path(SCHEMA_PATH).read_text(encoding="utf-8"))
    typed = fields(REQUEST)
    assert set(schema["properties"]) == set(typed)
    assert set(schema.get("required", [])) == {name for name, (required, _hint) in typed.items() if required}
    assert schema.get("additionalProperties") is False
    json_type = {str: "string", bool: "boolean"}
    for name, (_required, hint) in typed.items():
        expected = json_type.get(hint, "object" if typing.get_origin(hint) is dict else None)
        assert schema["properties"][name].get("type") == expected, name


def test_the_statuses_the_action_knows_are_the_apis() -> None:
    documented = literal_values(fields(LISTED)["status"][1])
    assert documented == literal_values(fields(RUN)["status"][1])
    assert set(runs.KNOWN_STATUSES) == documented
    assert documented >= runs.TERMINAL_STATUSES


# --- the list queries the action sends ----------------------------------------------------------------------


def test_the_list_queries_the_action_sends_are_the_endpoints(simulated: NorthflankStandin, clock: FakeClock) -> None:
    """Every list read the action makes, on every path that makes one: the lookup after a lost answer, the
    history before waiting, the runs ahead of a queued run, the run that superseded an aborted one."""
    flow = (TARGET.project_id, TARGET.pipeline_id, TARGET.stage)
    simulated.seed_runs(*flow, 3, durations=[120.0, 125.0, 118.0])
    client = NorthflankClient(simulated.url, API_TOKEN_DEFAULT)
    simulated.add_fault(Fault("POST", "trigger", "status", status=500, create_first=True))
    lost = {"name": "Lost answer", "description": "Lost, trigger 0123abcd"}
    Trigger(client, TARGET, clock=clock, sleep=clock.sleep).run(lost, identifiable=True)

    simulated.concurrency = "replace"
    simulated.plan = RunPlan(steps=[(0.0, "running"), (600.0, "success")])
    first = run_from(client.trigger(TARGET, {"name": "First"}).data) or {}
    simulated.concurrency = "queue"
    queued = run_from(client.trigger(TARGET, {"name": "Queued"}).data) or {}

    def follow(run: dict[str, Any], then: Any = None) -> None:
        waiter = Waiter(
            client, TARGET, PollPolicy(), Cancellation(), log=lambda _line: None, clock=clock, sleep=clock.sleep
        )
        if then is not None:
            waiter.sleep = then
        waiter.wait(str(run["id"]), 900.0, run)

    follow(queued)  # queued behind First; ends when First and then it have run
    simulated.concurrency = "replace"
    victim = run_from(client.trigger(TARGET, {"name": "Victim"}).data) or {}

    def replace_soon(seconds: float) -> None:
        clock.sleep(seconds)
        if not any(run["name"] == "Newer" for run in simulated.runs()):
            client.trigger(TARGET, {"name": "Newer"})

    follow(victim, replace_soon)

    sent = simulated.requests_to("list")
    queries = [request.query for request in sent]
    assert len(queries) >= 4, queries
    assert {"status", "concluded"} <= {key for query in queries for key in query}, "every kind of list read ran"
    allowed = set(ListReleaseFlowRunsEndpoint.query_params)
    statuses = literal_values(fields(LISTED)["status"][1])
    for query in queries:
        assert set(query) <= allowed, query
        assert 1 <= int(query["per_page"]) <= lookup.PER_PAGE
        assert query.get("status", "success") in statuses
        assert query.get("concluded", "true") in {"true", "false"}
    assert first
