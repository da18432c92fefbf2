"""plan.py: reading a release flow's template, whatever its shape, and checking a request against it."""

from __future__ import annotations

import json
from typing import Any

from northflank_release.api.target import Target
from northflank_release.plan import Finding, check, read_template, touched_orders
from northflank_release.request import RunRequest
from northflank_release.runs import flow_nodes
from northflank_release.settings import Settings, read_settings
from testing.northflank_standin import release_flow_template


def settings(**inputs: str) -> Settings:
    env = {"INPUT_PROJECT-ID": "shop", "INPUT_PIPELINE-ID": "main", "INPUT_STAGE": "staging", "INPUT_DRY-RUN": "true"}
    env |= {f"INPUT_{name.upper()}": value for name, value in inputs.items()}
    return read_settings(env, workspace="/nonexistent")


def request(body: dict[str, Any]) -> RunRequest:
    return RunRequest(Target("shop", "main", "staging"), {"name": "Release", **body})


def findings_of(flow: dict[str, Any], body: dict[str, Any], **inputs: str) -> list[Finding]:
    given = {key: json.dumps(value) for key, value in body.items() if key in ("arguments", "overrides")}
    if "releaseNodeOverrides" in body:
        given["release-node-overrides"] = json.dumps(body["releaseNodeOverrides"])
    return check(read_template(flow), request(body), settings(**given, **inputs))


def test_marked_nodes_are_those_runs_py_numbers_so_the_chart_marks_the_right_ones() -> None:
    flow = release_flow_template()
    # A Release node without a ref, deep in a nested workflow: marked by the service it deploys.
    workers = flow["spec"]["spec"]["steps"][2]["spec"]["steps"][2]
    workers["spec"]["steps"].append({"kind": "Release", "spec": {"target": {"id": "cron"}}})
    marked = touched_orders(flow["spec"], {"migrate": {}, "git-push": {}}, {"cron": {}, "api": {}})

    by_order = {node.order: node for node in flow_nodes(flow)}
    assert sorted((by_order[order].ref, by_order[order].kind) for order in marked) == [
        ("", "Release"),
        ("deploy-api", "Release"),
        ("migrate", "RunJob"),
    ]


def test_refs_services_and_options_are_read_wherever_the_template_keeps_them() -> None:
    flow: dict[str, Any] = {
        "spec": {
            "kind": "Workflow",
            "spec": {
                "type": "sequential",
                "steps": [
                    {"kind": "Release", "ref": "a", "spec": {"target": "svc-a"}},
                    {"kind": "Release", "ref": "b", "spec": {"serviceId": "svc-b"}},
                    {"kind": "Release", "ref": "c", "spec": {"service": {"id": "svc-c"}}},
                    {"kind": "Condition", "ref": "d", "spec": {"inner": [{"kind": "X", "ref": "deep"}]}},
                ],
            },
        },
        "options": {"paused": True, "concurrencyPolicy": "latest"},
    }
    template = read_template(flow)

    assert template.refs == {"a", "b", "c", "d", "deep"}
    assert template.services == {"svc-a", "svc-b", "svc-c"}
    assert template.paused is True
    assert template.concurrency == "latest"
    assert not template.declares_arguments


def test_a_hostile_template_is_read_without_crashing() -> None:
    deep: dict[str, Any] = {"kind": "Workflow", "ref": "bottom", "spec": {"steps": []}}
    for level in range(3000):
        deep = {"kind": "Workflow", "ref": f"w{level}", "spec": {"type": "sequential", "steps": [deep, "x", 3]}}
    for flow in (
        {"spec": deep, "arguments": ["not", "a", "mapping"], "paused": "yes", "triggers": "none"},
        {"spec": [1, 2]},
        {"spec": {"kind": 5, "ref": {"x": 1}}},
        {},
    ):
        template = read_template(flow)
        touched_orders(flow["spec"] if isinstance(flow.get("spec"), dict) else {}, {"w1": {}}, {})
        assert template.paused is None
        assert template.arguments == {}


def test_release_nodes_whose_service_cannot_be_read_are_a_warning_not_an_error() -> None:
    flow = {"spec": {"kind": "Workflow", "spec": {"steps": [{"kind": "Release", "ref": "r", "spec": {"to": "x"}}]}}}
    findings = findings_of(flow, {"releaseNodeOverrides": {"web": {"type": "registry"}}})

    assert [(f.level, f.title) for f in findings] == [("warning", "Plan: release node services unknown")]


def test_with_one_release_node_unreadable_an_unknown_service_is_a_warning_and_a_known_one_passes() -> None:
    flow = release_flow_template()
    workers = flow["spec"]["spec"]["steps"][2]["spec"]["steps"][2]
    workers["spec"]["steps"].append({"kind": "Release", "ref": "odd", "spec": {"deploys": "cron"}})
    findings = findings_of(flow, {"releaseNodeOverrides": {"web": {}, "cron": {}}})

    assert [(f.level, f.title) for f in findings if f.level != "notice"] == [
        ("warning", "Plan: release node services unknown")
    ]
    [warning] = [f for f in findings if f.level == "warning"]
    assert warning.message == (
        "1 of the template's 4 Release node(s) name their service in a way this action cannot read, so "
        "release-node-overrides key(s) 'cron' could not be checked."
    )


def test_a_template_without_release_nodes_makes_every_release_node_override_an_error() -> None:
    flow = {"spec": {"kind": "Workflow", "spec": {"steps": [{"kind": "StartBuild", "ref": "build"}]}}}
    [finding] = findings_of(flow, {"releaseNodeOverrides": {"web": {}}})

    assert finding.level == "error"
    assert finding.message.endswith("the template has no Release node, so this override would change nothing")


def test_an_undeclared_argument_a_node_refers_to_says_to_declare_it() -> None:
    flow = release_flow_template()
    flow["spec"]["spec"]["steps"][0]["spec"]["tag"] = "${args.TAG}"
    arguments = {"VERSION": "1", "COMMIT": "a", "BRANCH": "main", "RUN_MIGRATIONS": "no", "TAG": "x"}
    findings = findings_of(flow, {"arguments": arguments})

    assert [f.level for f in findings] == ["warning", "notice"]
    assert findings[0].message == (
        "arguments key 'TAG' is not declared in the template's arguments; a node refers to it, so declare it in "
        "the template. Its declared arguments: 'BRANCH', 'COMMIT', 'RUN_MIGRATIONS', 'VERSION'."
    )


def test_a_policy_the_action_does_not_know_is_said_as_such() -> None:
    flow = release_flow_template(concurrency="round-robin")
    [*_, policy] = findings_of(
        flow, {"arguments": {"VERSION": "1", "COMMIT": "a", "BRANCH": "b", "RUN_MIGRATIONS": "x"}}
    )

    assert (
        policy.message == "The release flow's concurrency policy is 'round-robin': a policy this action does not know."
    )


def test_a_clean_request_is_said_to_match() -> None:
    arguments = {"VERSION": "1", "COMMIT": "a", "BRANCH": "b", "RUN_MIGRATIONS": "x"}
    findings = findings_of(release_flow_template(), {"arguments": arguments, "overrides": {"deploy": {"x": 1}}})

    assert findings[0] == Finding(
        "ok",
        "Plan: matches the template",
        "The request matches the template: 1 override(s) of known refs, 0 release node override(s) of known "
        "services, 4 declared argument(s).",
    )
