"""Reading a run object: its status, its timestamps, and the nodes of its flow.

The API documents these fields loosely, so every reader tolerates missing or odd values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KNOWN_STATUSES = frozenset(
    {
        "pending",
        "queued",
        "running",
        "waiting",
        "retrying",
        "async_wait",
        "approval_wait",
        "aborting",
        "success",
        "failure",
        "aborted",
        "skipped",
        "unknown",
    }
)


TERMINAL_STATUSES = frozenset({"success", "failure", "aborted"})


@dataclass(frozen=True)
class RunState:
    status: str
    concluded: bool
    started_at: str
    concluded_at: str


def run_state(run: dict[str, Any] | None) -> RunState:
    if not run:
        return RunState("unknown", False, "", "")
    status = str(run.get("status") or "unknown")
    concluded = run.get("concluded")
    if not isinstance(concluded, bool):
        # The field is documented, but an answer without it (or with "true") must not wait for the timeout.
        concluded = status in TERMINAL_STATUSES
    return RunState(status, concluded, _text(run.get("startedAt")), _text(run.get("concludedAt")))


@dataclass(frozen=True)
class NodeReport:
    """One node of the release flow, from the `response` the API attaches to it."""

    name: str
    kind: str
    status: str
    started_at: str
    ended_at: str
    error: str


def flow_nodes(run: dict[str, Any] | None) -> list[NodeReport]:
    """Every node of the run's flow that carries a response, in template order."""
    nodes: list[NodeReport] = []
    _collect(run.get("spec") if run else None, nodes, depth=0)
    return nodes


def failed_nodes(run: dict[str, Any] | None) -> list[NodeReport]:
    return [node for node in flow_nodes(run) if node.status == "failure" or node.error]


def _collect(value: Any, nodes: list[NodeReport], depth: int) -> None:
    if depth > 50:  # a malformed or hostile spec must not exhaust the stack
        return
    if isinstance(value, list):
        for item in value:
            _collect(item, nodes, depth + 1)
        return
    if not isinstance(value, dict):
        return
    response = value.get("response")
    if isinstance(response, dict) and "status" in response:
        error = response.get("error")
        message = ""
        if isinstance(error, dict):
            message = " ".join(str(error.get(key)) for key in ("code", "message") if error.get(key))
        elif error:
            message = str(error)
        nodes.append(
            NodeReport(
                name=_text(value.get("ref") or value.get("name") or value.get("kind") or "node"),
                kind=_text(value.get("kind")),
                status=_text(response.get("status")),
                started_at=_text(response.get("startTime")),
                ended_at=_text(response.get("endTime")),
                error=message,
            )
        )
    for key, child in value.items():
        if key != "response":
            _collect(child, nodes, depth + 1)


def _text(value: Any) -> str:
    return "" if value is None else str(value)
