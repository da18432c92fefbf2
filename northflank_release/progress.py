"""While waiting: one log line per node each time its status changes, not one per poll."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from northflank_release.runs import NODE_TERMINAL, flow_nodes
from northflank_release.text import format_duration, shorten

MAX_LINES_PER_READ = 40  # a flow of thousands of nodes finishing at once must not flood the log
_QUIET = frozenset({"waiting", "unknown", ""})


@dataclass
class NodeProgress:
    seen: dict[tuple[int, str], str] = field(default_factory=dict)

    def changes(self, run: dict[str, Any] | None) -> list[str]:
        """Lines for the steps whose status differs from the last read ("build-image: success after 2m10s")."""
        lines: list[str] = []
        for node in flow_nodes(run):
            if node.is_workflow:
                continue  # its steps tell the story
            key = (node.order, node.ref)
            first = key not in self.seen
            before = self.seen.get(key, "")
            self.seen[key] = node.status
            if node.status == before or (first and node.status in _QUIET):
                continue
            line = f"{shorten(node.name, 100)}: {shorten(node.status, 50)}"
            duration = node.duration(0.0) if node.end is not None else None
            if node.status in NODE_TERMINAL and duration is not None:
                line += f" after {format_duration(duration)}"
            if node.error:
                line += f": {shorten(node.error, 300)}"
            lines.append(line)
        if len(lines) > MAX_LINES_PER_READ:
            left = len(lines) - MAX_LINES_PER_READ + 1
            lines = [*lines[: MAX_LINES_PER_READ - 1], f"... and {left} more node changes (see the job summary)"]
        return lines
