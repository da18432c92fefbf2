"""The stand-in's release flow template (GET .../release-flows/{stage}) against the SDK's GetReleaseFlowResponse.

The keys and their types below are copied from the official SDK (`northflank` 2.1.0, northflank/_types.py):
GetReleaseFlowResponse, AbortPreviewBlueprintRunResponseOptions and AbortPreviewBlueprintRunResponseTrigger.
A field the SDK does not have fails here, so the plan is never taught a template the API does not serve.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import requests

from northflank_release.plan import read_template
from testing.northflank_standin import API_TOKEN_DEFAULT, NorthflankStandin, release_flow_template

AUTH = {"Authorization": f"Bearer {API_TOKEN_DEFAULT}"}
FLOW = "/v1/projects/shop/pipelines/release-pipeline/release-flows/staging"

# GetReleaseFlowResponse
REQUIRED = {"apiVersion", "createdAt", "paused", "spec", "status", "updatedAt"}
OPTIONAL = {
    "$schema",
    "arguments",
    "concurrencyPolicy",
    "gitops",
    "options",
    "richInputs",
    "stage",
    "teardownSpec",
    "triggers",
}
POLICIES = {"allow", "queue", "forbid", "latest", "replace"}
RUN_STATUSES = {"pending", "running", "success", "failure", "aborted", "aborting", "queued", "unknown", "skipped"}
RUN_STATUSES |= {"waiting", "retrying", "async_wait", "approval_wait"}
OPTIONS = {"concurrencyPolicy", "paused"}  # AbortPreviewBlueprintRunResponseOptions
TRIGGER_REQUIRED = {"repoUrl", "vcsService"}  # AbortPreviewBlueprintRunResponseTrigger
TRIGGER_OPTIONAL = {"accountLogin", "branchRestrictions", "ciIgnoreFlags", "ciIgnoreFlagsEnabled", "ignoreDrafts"}
TRIGGER_OPTIONAL |= {"isAllowList", "pathIgnoreRules", "prRestrictions", "ref", "selfHostedVcsId", "vcsLinkId"}


def served(standin: NorthflankStandin, path: str = FLOW) -> requests.Response:
    return requests.get(standin.url + path, headers=AUTH, timeout=10)


def nodes(node: dict[str, Any], depth: int = 0) -> Iterator[tuple[dict[str, Any], int]]:
    yield node, depth
    if node.get("kind") == "Workflow":
        for step in node["spec"]["steps"]:
            yield from nodes(step, depth + 1)


def test_the_template_has_only_the_sdks_fields_with_the_sdks_types(standin: NorthflankStandin) -> None:
    answer = served(standin)

    assert answer.status_code == 200
    flow = answer.json()["data"]
    assert REQUIRED <= set(flow) <= REQUIRED | OPTIONAL
    assert flow["apiVersion"] == "v1.2"
    assert isinstance(flow["paused"], bool)
    assert flow["status"] in RUN_STATUSES
    assert flow["concurrencyPolicy"] in POLICIES
    assert set(flow["options"]) <= OPTIONS
    assert flow["stage"] == "staging"
    assert isinstance(flow["arguments"], dict)
    for trigger in flow["triggers"]:
        assert TRIGGER_REQUIRED <= set(trigger) <= TRIGGER_REQUIRED | TRIGGER_OPTIONAL


def test_the_template_is_realistic_node_kinds_nested_workflows_and_release_nodes_naming_services(
    standin: NorthflankStandin,
) -> None:
    spec = served(standin).json()["data"]["spec"]
    walked = list(nodes(spec))
    kinds = {node["kind"] for node, _ in walked}
    assert {"Workflow", "StartBuild", "RunJob", "Release", "Condition"} <= kinds
    assert max(depth for _, depth in walked) >= 3  # a workflow inside a workflow inside the root
    assert {node["spec"]["type"] for node, _ in walked if node["kind"] == "Workflow"} == {"sequential", "parallel"}
    services = {node["spec"]["target"]["id"] for node, _ in walked if node["kind"] == "Release"}
    assert services == {"web", "api", "worker"}
    assert all("response" not in node for node, _ in walked)  # a template has run nothing


def test_the_plan_reads_what_the_stand_in_serves(standin: NorthflankStandin) -> None:
    template = read_template(served(standin).json()["data"])

    assert {"build", "deploy", "deploy-api", "workers", "worker-ready", "git-push"} <= template.refs
    assert template.services == {"web", "api", "worker"}
    assert template.release_nodes == 3
    assert template.unread_release_nodes == 0
    assert template.paused is False
    assert template.concurrency == "queue"


def test_the_team_route_the_token_and_a_stage_without_a_flow(standin: NorthflankStandin) -> None:
    assert served(standin, FLOW.replace("/v1/", "/v1/teams/acme/")).status_code == 200
    assert requests.get(standin.url + FLOW, timeout=10).status_code == 401
    assert served(standin, FLOW.replace("staging", "qa")).status_code == 404
    standin.release_flow = None
    missing = served(standin)
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "Release flow not found"


def test_a_paused_template_says_so_in_both_places() -> None:
    flow = release_flow_template(paused=True, concurrency="forbid")
    assert flow["paused"] is True
    assert flow["options"] == {"concurrencyPolicy": "forbid", "paused": True}
