"""Reading a run object: its status, its timestamps, and the nodes of its flow.

The API documents these fields loosely, so every reader tolerates missing or odd values.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
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

# Later steps paste `run-id` into arguments, commands and summaries, so it is only ever what an id can be
# (Northflank's are UUIDs); an answer with any other id is not one the action can vouch for.
_RUN_ID = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,126}[A-Za-z0-9])?", re.ASCII)
# What the API's times look like (`2021-01-01 12:01:00.000Z`, ISO 8601, Unix seconds), for the outputs.
_TIMESTAMP = re.compile(r"[0-9][0-9 :.TZ+-]{0,39}", re.ASCII)


def is_run_id(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool) and bool(_RUN_ID.fullmatch(str(value)))


def output_status(status: str) -> str:
    """The status as an output: one of the known words, else `unknown` (the raw value is only logged)."""
    return status if status in KNOWN_STATUSES else "unknown"


def output_timestamp(value: str) -> str:
    return value if _TIMESTAMP.fullmatch(value) else ""


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


NODE_TERMINAL = frozenset({"success", "failure", "aborted", "skipped", "invalid"})
FAILED = frozenset({"failure", "invalid"})
MAX_FLOW_DEPTH = 50  # a malformed or hostile spec must not exhaust the stack


@dataclass(frozen=True)
class FlowNode:
    """One node of the release flow as it ran, from the `response` the API attaches to it.

    `start` and `end` are Unix seconds (the documented type); `children` holds a Workflow node's steps in
    order, and `parallel` says whether they ran side by side.
    """

    kind: str
    ref: str
    status: str
    start: float | None
    end: float | None
    retries: int | None
    error: str
    parallel: bool = False
    children: tuple[FlowNode, ...] = ()
    depth: int = 0
    order: int = 0  # position in flow order, for "failed first" ties

    @property
    def name(self) -> str:
        return self.ref or self.kind or "node"

    @property
    def is_workflow(self) -> bool:
        return self.kind == "Workflow" or bool(self.children)

    @property
    def failed(self) -> bool:
        return self.status in FAILED or bool(self.error)

    def duration(self, now: float) -> float | None:
        if self.start is None:
            return None
        end = self.end if self.end is not None else (now if self.status not in NODE_TERMINAL else None)
        return None if end is None else max(end - self.start, 0.0)


def flow_tree(run: dict[str, Any] | None) -> FlowNode | None:
    """The root Workflow node of the run's flow (`data.spec`), or None when the run has no readable flow."""
    spec = run.get("spec") if isinstance(run, dict) else None
    if not isinstance(spec, dict):
        return None
    counter = [0]
    return _node(spec, 0, counter)


def flow_nodes(run: dict[str, Any] | None) -> list[FlowNode]:
    """Every node under the root, in flow order (depth first); the root Workflow itself is no step."""
    root = flow_tree(run)
    return list(_walk(root.children)) if root else []


def failed_nodes(run: dict[str, Any] | None) -> list[FlowNode]:
    """Failed nodes, the one that failed first first; a Workflow that only failed through a step is left out."""
    failed = [node for node in flow_nodes(run) if node.failed and not (node.is_workflow and not node.error)]
    return sorted(failed, key=_failure_order)


def _failure_order(node: FlowNode) -> tuple[float, int]:
    moment = node.end if node.end is not None else node.start
    return (moment if moment is not None else float("inf"), node.order)


def _walk(nodes: tuple[FlowNode, ...]) -> Any:
    for node in nodes:
        yield node
        yield from _walk(node.children)


def _node(value: dict[str, Any], depth: int, counter: list[int]) -> FlowNode:
    response = value.get("response")
    response = response if isinstance(response, dict) else {}
    spec = value.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    steps = spec.get("steps")
    order = counter[0]
    counter[0] += 1
    children: tuple[FlowNode, ...] = ()
    if isinstance(steps, list) and depth < MAX_FLOW_DEPTH:
        children = tuple(_node(step, depth + 1, counter) for step in steps if isinstance(step, dict))
    return FlowNode(
        kind=_text(value.get("kind")),
        ref=_text(value.get("ref") or value.get("name")),
        status=_text(response.get("status")) or "unknown",
        start=unix_seconds(response.get("startTime")),
        end=unix_seconds(response.get("endTime")),
        retries=_attempts(response.get("retries")),
        error=_error_text(response.get("error")),
        parallel=spec.get("type") == "parallel",
        children=children,
        depth=depth,
        order=order,
    )


def unix_seconds(value: Any) -> float | None:
    """A node time: documented as integer Unix seconds; milliseconds and ISO strings are read too."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            try:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    if not isinstance(value, int | float) or not _finite(value) or value <= 0:
        return None
    # Seconds since 1970 stay below 1e11 until the year 5138; anything larger is milliseconds.
    return float(value) / 1000 if value >= 1e11 else float(value)


def _attempts(value: Any) -> int | None:
    if isinstance(value, dict):
        value = value.get("attempts")
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        return None
    return int(value)


def _finite(value: float) -> bool:
    """math.isfinite, for integers too large for a float (10**400 in JSON is valid) as well."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        message = error.get("message")
        code = error.get("code")
        if message and code:
            return f"{message} ({code})"
        return _text(message or code)
    return _text(error) if error else ""


def _text(value: Any) -> str:
    return "" if value is None else str(value)
