"""The job summary: Markdown a release engineer reads after the job, built from plain data."""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from northflank_release.api.target import Target
from northflank_release.flowchart import flowchart
from northflank_release.runs import FlowNode, failed_nodes, flow_tree, run_state, unix_seconds
from northflank_release.text import format_duration, shorten

# GitHub refuses a step summary over 1 MiB; the trigger summary and the headline need a little of it.
SUMMARY_BUDGET = 900 * 1024

_ICON = {
    "success": "✅",
    "failure": "❌",
    "invalid": "❌",
    "aborted": "⛔",
    "aborting": "🛑",
    "running": "🔄",
    "async_wait": "🔄",
    "pending": "⏳",
    "waiting": "⏳",
    "approval_wait": "✋",
    "retrying": "🔁",
    "skipped": "⏭️",
}


# ASCII punctuation with a meaning somewhere in GitHub's Markdown (HTML, emphasis, links, code, tables, math
# `$`, emoji `:name:`, references `#1`, mentions `@x`); `-`, `.`, `,`, `/` and the like stay readable.
_PUNCTUATION = frozenset("!\"#$&'()*:<>@[\\]^_`{|}~")


def _cell(value: str) -> str:
    """Text from the API, made inert in Markdown: one line, every ASCII punctuation mark a character reference,
    so it can open no HTML tag, emphasis, link or code span, and break no table column."""
    text = " ".join(value.split())
    return "".join(_inert(char) for char in text) or "–"


def _inert(char: str) -> str:
    if char == ".":
        return "&#46;"  # GFM links `www.x.y` even from character references; an escaped dot stops it
    if char == "@":
        return "&#64;&#8288;"  # and `a@b.c`: a word joiner after the @ stops that
    if char in _PUNCTUATION:
        return f"&#{ord(char)};"
    # Controls and bidi overrides would garble the rest of the cell: show that something was there.
    return "\ufffd" if unicodedata.category(char) in {"Cc", "Cf"} else char


def trigger_summary(
    target: Target,
    run: dict[str, Any] | None,
    run_id: str,
    run_name: str,
    api_url: str,
    title: str = "Northflank release flow triggered",
) -> str:
    state = run_state(run)
    rows = [
        # No code span here: character references are not decoded inside one.
        ("Run", f"{_cell(run_name) if run_name else '(no name)'} ({_cell(run_id) if run_id else 'id unknown'})"),
        ("Pipeline", f"`{_cell(target.pipeline_id)}` in project `{_cell(target.project_id)}`"),
        ("Stage", _cell(target.stage)),
        ("Status", f"{_ICON.get(state.status, '')} {_word(state.status)}".strip()),
        ("API", _cell(api_url)),
    ]
    table = "\n".join(f"| {key} | {value} |" for key, value in rows)
    return f"### {title}\n\n| | |\n|---|---|\n{table}\n"


def wait_summary(
    run: dict[str, Any] | None,
    reason: str,
    elapsed: float,
    message: str = "",
    now: float | None = None,
    since: float | None = None,
) -> str:
    """`since`: when the run, still awaiting approval, began to (Unix seconds)."""
    state = run_state(run)
    awaiting = f" since {_utc(since)} UTC" if since is not None else ""
    if reason == "approval":
        headline = f"✋ Awaiting approval{awaiting}: the step ended after {format_duration(elapsed)} (stop-at-approval)"
    elif reason == "timeout" and state.status == "approval_wait":
        headline = (
            f"⏱️ Stopped waiting after {format_duration(elapsed)}: the run is still **awaiting approval**{awaiting}"
        )
    elif reason == "concluded":
        headline = (
            f"{_ICON.get(state.status, '')} Release flow run **{_word(state.status)}** after {format_duration(elapsed)}"
        )
    elif reason == "timeout":
        headline = f"⏱️ Stopped waiting after {format_duration(elapsed)}: the run was still **{_word(state.status)}**"
    else:
        headline = f"⚠️ Stopped waiting after {format_duration(elapsed)}: {_cell(message)}"
    lines = [f"#### {headline}", ""]
    root = flow_tree(run)
    if root is not None and root.children:
        # A concluded run's nodes are measured up to its end on the API's clock, not to when this is written.
        ended = unix_seconds((run or {}).get("concludedAt")) if state.concluded else None
        moment = now if now is not None else ended or time.time()
        lines += _first_failure(run, moment)

        lines += ["```mermaid", flowchart(root, moment).rstrip("\n"), "```", ""]
        lines += _table(root, moment, SUMMARY_BUDGET - sum(len(line.encode()) + 1 for line in lines))
    return "\n".join(lines) + "\n"


def _first_failure(run: dict[str, Any] | None, now: float) -> list[str]:
    failed = failed_nodes(run)
    if not failed:
        return []
    first = failed[0]
    when = f" at {_utc(first.end if first.end is not None else first.start)} UTC" if first.start is not None else ""
    duration = first.duration(now)
    after = f" after {format_duration(duration)}" if duration is not None else ""
    error = f": {_cell(shorten(first.error, 1000))}" if first.error else ""
    more = f" ({len(failed) - 1} more failed, below)" if len(failed) > 1 else ""
    return [
        f"> **Failed first: {_cell(shorten(first.name, 200))}** ({_word(first.kind)}, {_word(first.status)}){when}"
        f"{after}{error}{more}",
        "",
    ]


def _table(root: FlowNode, now: float, budget: int) -> list[str]:
    header = [
        "| Step | Kind | Status | Started (UTC) | Duration | Retries | Error |",
        "|---|---|---|---|---|---|---|",
    ]
    rows: list[str] = []
    used = sum(len(line.encode()) + 1 for line in header)
    nodes = list(_rows(root))
    for node, prefix in nodes:
        row = _row(node, prefix, now)
        size = len(row.encode()) + 1
        if used + size > budget:
            break
        rows.append(row)
        used += size
    lines = header + rows
    if len(rows) < len(nodes):
        lines += [
            "",
            f"_The table stops after {len(rows)} of {len(nodes)} nodes to keep the job summary under GitHub's "
            "1 MiB limit; the run in Northflank shows them all._",
        ]
    return lines


def _rows(node: FlowNode, prefix: str = "") -> Iterator[tuple[FlowNode, str]]:
    """Every step under `node` in flow order, with the tree drawn before its name."""
    for index, child in enumerate(node.children):
        last = index == len(node.children) - 1
        if node.depth == 0:
            branch, inner = "", ""
        else:
            branch = prefix + ("└─ " if last else "├─ ")
            inner = prefix + ("&nbsp;&nbsp;&nbsp;&nbsp;" if last else "│&nbsp;&nbsp;&nbsp;")
        yield child, branch
        yield from _rows(child, inner)


def _row(node: FlowNode, prefix: str, now: float) -> str:
    name = _cell(shorten(node.name, 100))
    if node.is_workflow:
        shape = "⇉ parallel" if node.parallel else "→ sequential"
        name = f"**{name}** {shape}"
    status = f"{_ICON.get(node.status, '')} {_word(node.status)}".strip()
    error = "–"
    if node.failed:
        status = f"**{status}**"
        error = f"**{_cell(shorten(node.error, 300))}**" if node.error else "–"
    started = _utc(node.start) if node.start is not None else "–"
    duration = node.duration(now)
    took = format_duration(duration) + ("" if node.end is not None else " so far") if duration is not None else "–"
    retries = str(node.retries) if node.retries else "–"
    return f"| {prefix}{name} | {_word(node.kind)} | {status} | {started} | {took} | {retries} | {error} |"


def _utc(moment: float | None) -> str:
    if moment is None:
        return "–"
    try:
        return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return "–"


def _word(text: str) -> str:
    """A status or kind from the API: a word, so a long one is cut rather than allowed to fill the summary."""
    return _cell(shorten(text, 50))


def dry_run_summary(target: Target, request_json: str) -> str:
    """The body in a fenced code block, exactly as the log shows it: inside a fence nothing is HTML, so no value
    is entity-escaped into a form the runner would not mask (it masks a secret raw, JSON-escaped and
    URI-escaped: actions/runner src/Sdk/DTLogging/Logging/ValueEncoders.cs, applied to the summary line by line
    in src/Runner.Worker/FileCommandManager.cs). The fence is longer than any run of backticks in the JSON."""
    head = (
        "### Northflank release flow: dry run\n\n"
        f"Nothing was sent. Would run the `{_cell(target.stage)}` release flow of pipeline "
        f"`{_cell(target.pipeline_id)}` in project `{_cell(target.project_id)}` with:\n\n"
    )
    if len(request_json.encode("utf-8")) > SUMMARY_BUDGET:
        return head + f"(hidden: the body is {len(request_json.encode('utf-8'))} bytes; the log shows it)\n"
    longest = max((len(run) for run in re.findall(r"`+", request_json)), default=0)
    fence = "`" * max(3, longest + 1)
    return head + f"{fence}json\n{request_json}\n{fence}\n"


_PLAN_ICON = {"error": "❌", "warning": "⚠️", "notice": "ℹ️", "ok": "✅"}


def plan_summary(findings: list[tuple[str, str, str]], root: FlowNode | None, marked: frozenset[int]) -> str:
    """A dry run's plan: each (level, title, message) finding, then the template's flow with the nodes the
    overrides change marked. Messages hold keys from the inputs and names from the API: made inert."""
    lines = ["### Plan: the request against the release flow's template", ""]
    for level, title, message in findings:
        lines.append(f"- {_PLAN_ICON.get(level, '')} **{_cell(title)}**: {_cell(shorten(message, 1000))}")
    if root is not None and root.children:
        lines += ["", f"The template's flow; {len(marked)} node(s) changed by overrides are marked:", ""]
        lines += ["```mermaid", flowchart(root, time.time(), marked=marked).rstrip("\n"), "```"]
    return "\n".join(lines) + "\n"
