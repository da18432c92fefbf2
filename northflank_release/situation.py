"""Where a run is, in a release engineer's words: awaiting approval, queued, paused, replaced, skipped.

Read from a run as a GET returns it (its `status`, its `options: {concurrencyPolicy, paused}` and its nodes,
the SDK's AbortReleaseFlowRunResponse) and from runs listed beside it (ListReleaseFlowRunsResponseRun: id,
status, createdAt). Every field may be missing or odd: then the words say less, never something false.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from northflank_release.runs import flow_nodes, is_run_id, unix_seconds
from northflank_release.text import shorten

# Policies under which a newer run ends an older one: `latest` skips a queued run when a newer one arrives,
# `replace` aborts the run in progress (northflank-api.md, "Errors and limits").
SUPERSEDING_POLICIES = frozenset({"latest", "replace"})
MAX_NAMED = 3  # runs named in one message


@dataclass(frozen=True)
class Options:
    policy: str  # the flow's concurrency policy, "" when the answer does not say
    paused: bool


def options(run: dict[str, Any] | None) -> Options:
    value = run.get("options") if isinstance(run, dict) else None
    value = value if isinstance(value, dict) else {}
    policy = value.get("concurrencyPolicy")
    return Options(policy if isinstance(policy, str) else "", value.get("paused") is True)


def approval_nodes(run: dict[str, Any] | None) -> list[str]:
    """The steps awaiting approval, by name."""
    return [node.name for node in flow_nodes(run) if node.status == "approval_wait" and not node.is_workflow]


def approval_since(run: dict[str, Any] | None, seen: float) -> float:
    """When the run started waiting for approval (Unix seconds): the earliest start of a node awaiting it,
    else `seen`, when the action first read the status."""
    starts = [
        node.start
        for node in flow_nodes(run)
        if node.status == "approval_wait" and node.start is not None and not node.is_workflow
    ]
    return min(starts) if starts else seen


def utc(moment: float) -> str:
    try:
        return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return "an unknown time"


def approval_notice(run_id: str, run: dict[str, Any] | None, since: float, stopping: bool) -> str:
    nodes = approval_nodes(run)
    where = f" at {_names(nodes)}" if nodes else ""
    then = (
        "Ending the step here (stop-at-approval); approve or reject the run in Northflank."
        if stopping
        else "Waiting until someone approves or rejects it in Northflank (set stop-at-approval: true to end the "
        "step here instead)."
    )
    return f"Run {run_id} is awaiting approval{where} since {utc(since)}. {then}"


def queued_notice(run_id: str, run: dict[str, Any] | None, ahead: list[dict[str, Any]] | None) -> str:
    """`ahead`: runs of the flow created before this one and not concluded; None when the list was not read."""
    policy = options(run).policy
    why = (
        f"the release flow's concurrency policy is {shorten(policy, 30)}"
        if policy
        else "the release flow runs one at a time"
    )
    text = f"Run {run_id} is queued: {why}, so it starts when the run ahead of it ends."
    if ahead:
        shown = ", ".join(f"{_id(other)} ({_word(other.get('status'))})" for other in ahead[:MAX_NAMED])
        more = f" and {len(ahead) - MAX_NAMED} more" if len(ahead) > MAX_NAMED else ""
        text += f" Ahead of it: {shown}{more}."
    return text


def paused_notice(run_id: str) -> str:
    return f"The release flow is paused in Northflank: run {run_id} does not go on until someone resumes the flow."


def runs_ahead(run: dict[str, Any] | None, listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Listed runs not concluded and created before `run`, the oldest first."""
    created = unix_seconds((run or {}).get("createdAt"))
    own = (run or {}).get("id")
    ahead = []
    for other in listed:
        moment = unix_seconds(other.get("createdAt"))
        if other.get("id") == own or other.get("concluded") is True or not is_run_id(other.get("id")):
            continue
        if created is not None and moment is not None and moment < created:
            ahead.append((moment, other))
    return [other for _moment, other in sorted(ahead, key=lambda item: item[0])]


def newer_runs(run: dict[str, Any] | None, listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Listed runs created after `run`, the oldest first: the first is the one that superseded it."""
    created = unix_seconds((run or {}).get("createdAt"))
    own = (run or {}).get("id")
    if created is None:
        return []
    newer = []
    for other in listed:
        moment = unix_seconds(other.get("createdAt"))
        if other.get("id") != own and is_run_id(other.get("id")) and moment is not None and moment > created:
            newer.append((moment, other))
    return [other for _moment, other in sorted(newer, key=lambda item: item[0])]


def may_be_superseded(run: dict[str, Any] | None, status: str) -> bool:
    """Whether a run that ended `status` may have been ended by a newer run."""
    return status in {"aborted", "skipped"} and options(run).policy in SUPERSEDING_POLICIES


def superseded_text(run: dict[str, Any] | None, status: str, newer: dict[str, Any] | None) -> str:
    policy = options(run).policy
    how = "skipped it while it was queued" if status == "skipped" else "aborted it"
    if newer is not None:
        return (
            f"A newer run of the release flow, {_id(newer)} ({_word(newer.get('status'))}), superseded it: the "
            f"flow's concurrency policy is {policy}, so Northflank {how}. Your release is in that run's hands, or "
            "run it again."
        )
    return (
        f"The flow's concurrency policy is {policy}: a newer run most likely superseded it (Northflank {how}), "
        "though none was found in the runs list."
    )


def skipped_text() -> str:
    return "Northflank skipped the run: it never ran, so nothing was released."


def _names(nodes: list[str]) -> str:
    shown = ", ".join(shorten(name, 100) for name in nodes[:MAX_NAMED])
    return shown + (f" and {len(nodes) - MAX_NAMED} more" if len(nodes) > MAX_NAMED else "")


def _id(run: dict[str, Any]) -> str:
    value = run.get("id")
    return str(value) if is_run_id(value) else "(a run without a readable id)"


def _word(value: Any) -> str:
    return shorten(str(value), 50) if isinstance(value, str) and value else "status unknown"
