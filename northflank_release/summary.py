"""The job summary: Markdown a release engineer reads after the job, built from plain data."""

from __future__ import annotations

import html
from typing import Any

from northflank_release.inputs import format_duration
from northflank_release.request import Target
from northflank_release.runs import flow_nodes, run_state

_ICON = {"success": "✅", "failure": "❌", "aborted": "⛔", "running": "🔄", "pending": "⏳"}


def _cell(value: str) -> str:
    """Text from the API, made inert in a Markdown table cell (no HTML, no column breaks)."""
    return html.escape(value).replace("|", "&#124;").replace("\n", " ").replace("`", "&#96;") or "–"


def trigger_summary(target: Target, run: dict[str, Any] | None, run_id: str, run_name: str, api_url: str) -> str:
    state = run_state(run)
    rows = [
        ("Run", f"{_cell(run_name)} (`{_cell(run_id) if run_id else 'id unknown'}`)"),
        ("Pipeline", f"`{_cell(target.pipeline_id)}` in project `{_cell(target.project_id)}`"),
        ("Stage", _cell(target.stage)),
        ("Status", f"{_ICON.get(state.status, '')} {_cell(state.status)}".strip()),
        ("API", _cell(api_url)),
    ]
    table = "\n".join(f"| {key} | {value} |" for key, value in rows)
    return f"### Northflank release flow triggered\n\n| | |\n|---|---|\n{table}\n"


def wait_summary(run: dict[str, Any] | None, reason: str, elapsed: float, message: str = "") -> str:
    state = run_state(run)
    if reason == "concluded":
        headline = (
            f"{_ICON.get(state.status, '')} Release flow run **{_cell(state.status)}** after {format_duration(elapsed)}"
        )
    elif reason == "timeout":
        headline = f"⏱️ Stopped waiting after {format_duration(elapsed)}: the run was still **{_cell(state.status)}**"
    else:
        headline = f"⚠️ Stopped waiting after {format_duration(elapsed)}: {_cell(message)}"
    lines = [f"#### {headline}", ""]
    nodes = flow_nodes(run)
    if nodes:
        lines += ["| Node | Kind | Status | Started | Ended | Error |", "|---|---|---|---|---|---|"]
        for node in nodes:
            status = f"{_ICON.get(node.status, '')} {_cell(node.status)}".strip()
            if node.status == "failure" or node.error:
                status = f"**{status}**"
            error = f"**{_cell(node.error)}**" if node.error else "–"
            lines.append(
                f"| {_cell(node.name)} | {_cell(node.kind)} | {status} | {_cell(node.started_at)} "
                f"| {_cell(node.ended_at)} | {error} |"
            )
    return "\n".join(lines) + "\n"


def dry_run_summary(target: Target, request_json: str) -> str:
    return (
        "### Northflank release flow: dry run\n\n"
        f"Nothing was sent. Would run the `{_cell(target.stage)}` release flow of pipeline "
        f"`{_cell(target.pipeline_id)}` in project `{_cell(target.project_id)}` with:\n\n"
        f"<pre>{html.escape(request_json)}</pre>\n"
    )
