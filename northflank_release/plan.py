"""The plan: a dry run with a token reads the release flow's template and checks the request against it.

One GET of `.../pipelines/{pipelineId}/release-flows/{stage}` (Read; the SDK's GetReleaseFlowResponse) is all
that is sent: nothing that changes anything. The template's `spec` is typed `Dict[str, Any]` in the SDK, so
its nodes are read as runs.py reads a run's flow (`kind`, `ref`, `spec.steps`), and every field is optional.
What the answer cannot tell (a template without readable release nodes, say) is said, never guessed.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

from northflank_release.api.client import ApiError, UnexpectedAnswer, run_from
from northflank_release.api.failures import FailedRequest, classify
from northflank_release.cancellation import Cancellation, Cancelled
from northflank_release.connection import client_for
from northflank_release.github import Runner
from northflank_release.inputs import show_key, show_keys
from northflank_release.request import RunRequest
from northflank_release.runs import MAX_FLOW_DEPTH, flow_tree
from northflank_release.settings import Settings
from northflank_release.summary import plan_summary
from northflank_release.text import shorten

TEMPLATE_READ_SECONDS = 40.0  # the client's own connect and read timeouts: a hanging API cannot hold the plan
MAX_WALK = 100_000  # dicts visited in a template: a hostile one must not hold the plan either

# What each concurrency policy (the SDK's Literal['allow', 'queue', 'forbid', 'latest', 'replace']) means for
# the run this request would start, as far as Northflank documents it (northflank-api.md).
CONCURRENCY = {
    "allow": "this run starts at once, even while other runs of the flow are in progress",
    "queue": "while another run of the flow is in progress, this run waits (status queued) until it ends",
    "forbid": "while another run of the flow is in progress, this request is refused (HTTP 409) and no run starts",
    "latest": "while another run is in progress this run waits, and a newer request may supersede it before it starts",
    "replace": "a run of the flow in progress when this one starts is superseded (most likely ends aborted)",
}


@dataclass(frozen=True)
class Finding:
    """One result of the plan, as the user sees it: an annotation (`level`) with its title, and a summary line."""

    level: str  # "error", "warning", "notice", or "ok" (a summary line only)
    title: str
    message: str


@dataclass(frozen=True)
class Template:
    """What the plan reads from a release flow's template."""

    refs: frozenset[str]  # every `ref` of a node (anywhere in the spec) or trigger
    services: frozenset[str]  # services the Release nodes deploy
    release_nodes: int
    unread_release_nodes: int  # Release nodes whose service could not be read
    arguments: dict[str, Any]  # declared arguments and their defaults
    declares_arguments: bool
    paused: bool | None
    concurrency: str
    mentions: frozenset[str] = field(repr=False, default=frozenset())  # the spec's texts with `args.` in them


def read_template(flow: dict[str, Any]) -> Template:
    spec = flow.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    refs: set[str] = set()
    services: set[str] = set()
    release_nodes = unread = 0
    mentions: set[str] = set()
    for node in _walk(spec):
        if isinstance(node, str):
            if "args." in node:
                mentions.add(node)
            continue
        ref = node.get("ref")
        if isinstance(node.get("kind"), str) and isinstance(ref, str) and ref:
            refs.add(ref)
        if node.get("kind") == "Release":
            release_nodes += 1
            found = release_services(node.get("spec"))
            services.update(found)
            unread += not found
    triggers = flow.get("triggers")
    for trigger in triggers if isinstance(triggers, list) else []:
        # A trigger's ref names its output in the template, so a run may override it too.
        if isinstance(trigger, dict) and isinstance(trigger.get("ref"), str) and trigger["ref"]:
            refs.add(trigger["ref"])
    arguments = flow.get("arguments")
    options = _mapping(flow.get("options"))
    # The SDK has `paused` and `concurrencyPolicy` at the top and again under `options`: either is read.
    paused = next((value for value in (flow.get("paused"), options.get("paused")) if isinstance(value, bool)), None)
    concurrency = next(
        (
            value
            for value in (flow.get("concurrencyPolicy"), options.get("concurrencyPolicy"))
            if isinstance(value, str)
        ),
        "",
    )
    return Template(
        refs=frozenset(refs),
        services=frozenset(services),
        release_nodes=release_nodes,
        unread_release_nodes=unread,
        arguments=arguments if isinstance(arguments, dict) else {},
        declares_arguments=isinstance(arguments, dict),
        paused=paused,
        concurrency=concurrency,
        mentions=frozenset(mentions),
    )


def release_services(spec: Any) -> set[str]:
    """The services a Release node deploys. releaseNodeOverrides is keyed by them, but the API does not document
    where a Release node names its service (the SDK types `spec` as Dict[str, Any]): `target.id` (the shape this
    project's stand-in serves), `target` as text, `service` and `serviceId` are all read. A node naming none of
    them counts as unread, and its keys are then not judged (see check)."""
    if not isinstance(spec, dict):
        return set()
    found: set[str] = set()
    for value in (spec.get("target"), spec.get("service"), spec.get("serviceId")):
        if isinstance(value, dict):
            value = value.get("id")
        if isinstance(value, str) and value:
            found.add(value)
    return found


def _walk(value: Any) -> Iterator[dict[str, Any] | str]:
    """Every object and text in the spec, within MAX_FLOW_DEPTH node levels and MAX_WALK items, without
    recursion (a hostile spec may be nested as deep as the JSON parser went)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    seen = 0
    while stack and seen < MAX_WALK:
        current, depth = stack.pop()
        if depth > MAX_FLOW_DEPTH * 4:  # a node is a few objects deep: kind, spec, steps
            continue
        if isinstance(current, dict | str):
            seen += 1
            yield current
        if isinstance(current, dict):
            stack.extend((item, depth + 1) for item in reversed(list(current.values())))
        elif isinstance(current, list):
            stack.extend((item, depth + 1) for item in reversed(current))


def touched_orders(spec: Any, overrides: dict[str, Any], release_overrides: dict[str, Any]) -> frozenset[int]:
    """The flow-order numbers (runs.FlowNode.order) of the nodes the overrides change: walked as runs.flow_tree
    numbers them (depth first, the root 0, only objects in `spec.steps`), so the chart can mark them."""
    marked: set[int] = set()
    counter = 0
    stack: list[tuple[Any, int]] = [(spec, 0)]
    while stack:
        node, depth = stack.pop()
        order = counter
        counter += 1
        ref = node.get("ref")
        if (isinstance(ref, str) and ref in overrides) or (
            node.get("kind") == "Release" and release_services(node.get("spec")) & set(release_overrides)
        ):
            marked.add(order)
        inner = node.get("spec")
        steps = inner.get("steps") if isinstance(inner, dict) else None
        if isinstance(steps, list) and depth < MAX_FLOW_DEPTH:
            stack.extend((step, depth + 1) for step in reversed(steps) if isinstance(step, dict))
    return frozenset(marked)


def check(template: Template, request: RunRequest, settings: Settings) -> list[Finding]:
    """Every finding of the request against the template, errors first in the order of the body's keys."""
    body = request.body
    target = request.target
    findings: list[Finding] = []
    if template.paused:
        findings.append(
            Finding(
                "error",
                "Plan: release flow paused",
                f"The {target.stage} release flow of pipeline {target.pipeline_id} is paused in Northflank: it runs "
                "nothing until it is resumed. Resume it in Northflank (release flow settings) before releasing.",
            )
        )
    overrides = _mapping(body.get("overrides"))
    for key in overrides:
        if key not in template.refs:
            where = _input_of(key, settings.overrides, "overrides")
            findings.append(
                Finding(
                    "error",
                    "Plan: unknown node ref",
                    f"{where} key {show_key(key)} is not a ref of any node in the {target.stage} release flow's "
                    f"template{_closest(key, template.refs, 'refs')}",
                )
            )
    release_overrides = _mapping(body.get("releaseNodeOverrides"))
    unknown = [key for key in release_overrides if key not in template.services]
    if unknown and template.unread_release_nodes:
        # The key may be the service of a node this action cannot read: not an error, but not checked either.
        findings.append(
            Finding(
                "warning",
                "Plan: release node services unknown",
                f"{template.unread_release_nodes} of the template's {template.release_nodes} Release node(s) name "
                "their service in a way this action cannot read, so release-node-overrides key(s) "
                f"{show_keys(unknown)} could not be checked.",
            )
        )
    else:
        for key in unknown:
            where = _input_of(key, settings.release_node_overrides, "release-node-overrides")
            hint = (
                _closest(key, template.services, "services its Release nodes deploy")
                if template.release_nodes
                else ": the template has no Release node, so this override would change nothing"
            )
            findings.append(
                Finding(
                    "error",
                    "Plan: unknown release node service",
                    f"{where} key {show_key(key)} is not a service that a Release node of the template deploys{hint}",
                )
            )
    arguments = _mapping(body.get("arguments"))
    for key in arguments:
        if key in template.arguments:
            continue
        where = _input_of(key, settings.arguments, "arguments")
        used = any(f"args.{key}" in text for text in template.mentions)
        findings.append(
            Finding(
                "warning",
                "Plan: argument not declared",
                f"{where} key {show_key(key)} is not declared in the template's arguments"
                + ("; a node refers to it, so declare it in the template" if used else "; no node refers to it")
                + _closest(key, set(template.arguments), "declared arguments"),
            )
        )
    defaults = [key for key in template.arguments if key not in arguments]
    if defaults:
        listed = ", ".join(f"{show_key(key)} = {_value(template.arguments[key])}" for key in defaults[:10])
        more = f" and {len(defaults) - 10} more" if len(defaults) > 10 else ""
        findings.append(
            Finding(
                "notice",
                "Plan: argument defaults",
                f"{len(defaults)} declared argument(s) not given; the template's defaults apply: {listed}{more}.",
            )
        )
    if template.concurrency:
        meaning = CONCURRENCY.get(template.concurrency, "a policy this action does not know")
        findings.append(
            Finding(
                "notice",
                "Plan: concurrency policy",
                f"The release flow's concurrency policy is {show_key(shorten(template.concurrency, 30))}: {meaning}.",
            )
        )
    if not any(finding.level in ("error", "warning") for finding in findings):
        findings.insert(
            0,
            Finding(
                "ok",
                "Plan: matches the template",
                f"The request matches the template: {len(overrides)} override(s) of known refs, "
                f"{len(release_overrides)} release node override(s) of known services, {len(arguments)} declared "
                "argument(s).",
            ),
        )
    return findings


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _input_of(key: str, given: dict[str, Any] | None, name: str) -> str:
    """The input a key came from: the input itself, else request-file (whose keys the input's merge over)."""
    return name if given is not None and key in given else "request-file"


def _closest(key: str, names: frozenset[str] | set[str], what: str) -> str:
    close = difflib.get_close_matches(key, sorted(names), n=1, cutoff=0.6)
    if close:
        return f"; did you mean {show_key(close[0])}?"
    if names:
        return f". Its {what}: {show_keys(sorted(names), 8)}."
    return f". The template has no {what}."


def _value(value: Any) -> str:
    return shorten(json.dumps(value, ensure_ascii=False), 60)


def _not_read(error: FailedRequest, target_text: str, proxy_variables: tuple[str, ...]) -> Finding:
    """A failed read of the template: a 404 says which part is missing, as far as the answer tells; the rest
    (no Read permission, an outage, a page that is not the API's) leaves the request checked locally only."""
    if isinstance(error, ApiError) and error.status == 404:
        said = error.message.lower()
        missing = [part for part in ("project", "pipeline", "stage", "release flow") if part in said]
        which = (
            f"the answer says the {' and '.join(missing)} was not found"
            if missing
            else "the answer does not say which of project-id, pipeline-id and stage is wrong"
        )
        return Finding(
            "error",
            "Plan: release flow not found",
            f"No release flow at {target_text} ({error}): {which}. Check project-id, pipeline-id, stage and "
            "team-id (ids, not display names), and that the stage has a release flow.",
        )
    if isinstance(error, ApiError) and error.status in (401, 403):
        why = (
            "the token was rejected"
            if error.status == 401
            else "the token cannot read release flows (Project > Pipelines > General > Read)"
        )
        return Finding(
            "warning",
            "Plan: template not readable",
            f"Could not read the release flow's template ({error}): {why}. The request was checked locally only.",
        )
    text = classify(error, proxy_variables).text
    return Finding(
        "warning",
        "Plan: template not read",
        f"Could not read the release flow's template ({text}). The request was checked locally only.",
    )


def check_plan(settings: Settings, request: RunRequest, runner: Runner, cancellation: Cancellation) -> int:
    """Read the template, report every finding, and exit 1 when an error would make the release go wrong."""
    target = request.target
    target_text = f"project {target.project_id}, pipeline {target.pipeline_id}, stage {target.stage}"
    client = client_for(settings, debug=runner.debug)
    runner.info(f"Plan: reading the release flow's template (GET {settings.api_url}{target.flow_path}).")
    flow: dict[str, Any] | None = None
    findings: list[Finding] = []
    try:
        with cancellation.interruptible():
            flow = run_from(client.get_release_flow(target, within=TEMPLATE_READ_SECONDS).data)
    except Cancelled:
        raise  # main says nothing was sent, which is true: nothing that changes anything
    except (ApiError, UnexpectedAnswer, requests.RequestException) as error:
        findings = [_not_read(error, target_text, client.proxy_variables)]
    finally:
        client.reset_connections()
    root = None
    marked: frozenset[int] = frozenset()
    if flow is not None:
        template = read_template(flow)
        findings = check(template, request, settings)
        root = flow_tree(flow)
        spec = flow.get("spec")
        if isinstance(spec, dict):
            marked = touched_orders(
                spec, _mapping(request.body.get("overrides")), _mapping(request.body.get("releaseNodeOverrides"))
            )
    for finding in findings:
        if finding.level == "error":
            runner.error(finding.message, title=finding.title)
        elif finding.level == "warning":
            runner.warning(finding.message, title=finding.title)
        elif finding.level == "notice":
            runner.notice(finding.message, title=finding.title)
        else:
            runner.info(f"{finding.title}: {finding.message}")
    runner.append_summary(plan_summary([(f.level, f.title, f.message) for f in findings], root, marked))
    errors = sum(finding.level == "error" for finding in findings)
    if errors:
        runner.info(f"Plan: {errors} problem(s) with the request against the template; nothing was sent.")
        return 1
    return 0
