"""The release flow as a Mermaid flowchart: steps in flow order, parallel branches side by side.

GitHub renders ```mermaid blocks in a job summary. Every text from the API goes through `mermaid_text`,
so no node name can end a label, start a statement or reach the page as markup. Mermaid turns `#name;`
and `#123;` codes back into characters after parsing (its encodeEntities/decodeEntities pair), which is
why they, and not HTML entities or backslashes, are the escape.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from northflank_release.runs import FlowNode
from northflank_release.text import format_duration, shorten, utf16_length

MAX_NODES = 80
# Mermaid refuses diagrams longer than its maxTextSize (50,000 characters by default).
MAX_TEXT = 45_000
MAX_LABEL = 40

_NAMED = {'"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "#": "#35;"}
_SAFE_ASCII = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.,/()+=@!?*'")

# Colours readable in GitHub's light and dark themes; the status is also written in the label.
_STYLE = {
    "success": "fill:#dafbe1,stroke:#1a7f37,color:#0d2b16",
    "failure": "fill:#ffebe9,stroke:#cf222e,stroke-width:3px,color:#4c0d0d",
    "running": "fill:#ddf4ff,stroke:#0969da,color:#0a2a4d",
    "waiting": "fill:#f6f8fa,stroke:#8c959f,stroke-dasharray:4 3,color:#24292f",
    "attention": "fill:#fff8c5,stroke:#9a6700,color:#3b2300",
    "stopped": "fill:#eaeef2,stroke:#57606a,color:#24292f",
    "skipped": "fill:#ffffff,stroke:#d0d7de,stroke-dasharray:2 4,color:#6e7781",
    # A plan's template: every node as it stands, and those the request's overrides change.
    "planned": "fill:#f6f8fa,stroke:#8c959f,color:#24292f",
    "overridden": "fill:#fbefff,stroke:#8250df,stroke-width:3px,color:#2e1065",
}
_CLASS_OF = {
    "success": "success",
    "failure": "failure",
    "invalid": "failure",
    "async_wait": "running",
    "running": "running",
    "retrying": "attention",
    "approval_wait": "attention",
    "aborting": "stopped",
    "aborted": "stopped",
    "skipped": "skipped",
    "waiting": "waiting",
    "pending": "waiting",
    "queued": "waiting",
}


def mermaid_text(text: str, limit: int = MAX_LABEL) -> str:
    """API text made inert inside a quoted Mermaid label, shortened to `limit` characters."""
    text = shorten(" ".join(text.split()), limit)
    out: list[str] = []
    for char in text:
        if char in _NAMED:
            out.append(_NAMED[char])
        elif char in _SAFE_ASCII or (not char.isascii() and unicodedata.category(char)[0] in "LNS"):
            out.append(char)
        elif unicodedata.category(char)[0] in "CZ" and char != " ":
            out.append("#65533;")  # controls, bidi overrides, zero-width: shown as a replacement mark
        else:
            out.append(f"#{ord(char)};")
    # Mermaid's lexer takes `direction XX` as a statement even inside a quoted subgraph title.
    return "".join(out).replace("direction", "#100;irection")


def status_class(status: str) -> str:
    return _CLASS_OF.get(status, "attention")


@dataclass
class _Chart:
    now: float
    budget: int
    # A plan's chart (a template, nothing run yet): each node shows its kind, and these nodes (by FlowNode.order)
    # are marked as changed by the request's overrides. None: a run's chart, each node with its status.
    marked: frozenset[int] | None = None
    lines: list[str] = field(default_factory=list)
    classes: dict[str, list[str]] = field(default_factory=dict)
    shown: int = 0
    junctions: int = 0
    edges: list[str] = field(default_factory=list)

    def add(self, node: FlowNode, indent: str) -> tuple[list[str], list[str]]:
        """Write the node (and its steps); return the ids that enter it and the ids that leave it."""
        if not node.is_workflow:
            if self.shown >= self.budget:
                return [], []
            self.shown += 1
            ident = f"n{node.order}"
            if self.marked is not None:
                changed = node.order in self.marked
                detail = mermaid_text(node.kind or "node", 20) + (" · overridden" if changed else "")
                css = "overridden" if changed else "planned"
            else:
                duration = node.duration(self.now)
                detail = mermaid_text(node.status, 20) + (
                    f" · {format_duration(duration)}" if duration is not None else ""
                )
                css = status_class(node.status)
            self.lines.append(f'{indent}{ident}["{mermaid_text(node.name)}<br/>{detail}"]')
            self.classes.setdefault(css, []).append(ident)
            return [ident], [ident]
        start = len(self.lines)
        nested = node.depth > 0
        inner = indent + "  " if nested else indent
        if nested:
            shape = "parallel" if node.parallel else "sequential"
            self.lines.append(f'{indent}subgraph w{node.order}["{mermaid_text(node.name)} · {shape}"]')
            # Mermaid turns a box with no edge leaving it sideways unless told its direction.
            self.lines.append(f"{inner}direction TB")
        entries: list[str] = []
        exits: list[str] = []
        for child in node.children:
            child_in, child_out = self.add(child, inner)
            if not child_in:
                continue
            if node.parallel:
                entries += child_in
                exits += child_out
            else:
                if exits:
                    self.link(exits, child_in, inner)
                else:
                    entries = child_in
                exits = child_out
        if nested:
            if not entries:
                del self.lines[start:]  # every step was cut: no empty box
                return [], []
            self.lines.append(f"{indent}end")
            self.classes.setdefault("group", []).append(f"w{node.order}")
        return entries, exits

    def link(self, sources: list[str], targets: list[str], indent: str) -> None:
        # Edges go after every node and subgraph: Mermaid moves a node into the subgraph where an edge
        # first names it, so edges written inside a box could pull in nodes of another box.
        if len(sources) > 1 and len(targets) > 1:
            # A join point keeps branch-to-branch edges from multiplying (m x n).
            self.junctions += 1
            junction = f"j{self.junctions}"
            self.lines.append(f'{indent}{junction}((" "))')
            self.classes.setdefault("junction", []).append(junction)
            self.edges.append(f"  {' & '.join(sources)} --> {junction}")
            sources = [junction]
        self.edges.append(f"  {' & '.join(sources)} --> {' & '.join(targets)}")


def flowchart(root: FlowNode, now: float, max_nodes: int = MAX_NODES, marked: frozenset[int] | None = None) -> str:
    """Mermaid source for the flow, showing at most `max_nodes` steps and saying how many it left out; with
    `marked`, a plan's template (kinds, not statuses, and those nodes marked as overridden)."""
    total = sum(1 for _ in _leaves(root))
    budget = max_nodes
    while True:
        text = _render(root, now, budget, total, marked)
        if utf16_length(text) <= MAX_TEXT:
            return text
        if budget <= 5:
            # Deeply nested boxes can outgrow Mermaid's text limit on their own: no picture beats a broken one.
            return f'flowchart TB\n  note["The flow ({total} steps) is too deeply nested to draw: see the table"]\n'
        budget //= 2


def _render(root: FlowNode, now: float, budget: int, total: int, marked: frozenset[int] | None = None) -> str:
    chart = _Chart(now, budget, marked)
    _entries, exits = chart.add(root, "  ")
    lines = ["flowchart TB", *chart.lines, *chart.edges]
    left_out = total - chart.shown
    if left_out > 0:
        lines.append(f'  more["… {left_out} more steps not shown"]')
        if exits:
            lines.append(f"  {' & '.join(exits)} -.-> more")
        chart.classes.setdefault("skipped", []).append("more")
    styles = {**_STYLE, "group": "fill:transparent,stroke:#8c959f", "junction": "fill:#8c959f,stroke:#8c959f"}
    lines += [f"  classDef {name} {styles[name]}" for name in chart.classes]
    for name, idents in chart.classes.items():
        lines.append(f"  class {','.join(idents)} {name}")
    return "\n".join(lines) + "\n"


def _leaves(node: FlowNode) -> list[FlowNode]:
    if not node.is_workflow:
        return [node]
    return [leaf for child in node.children for leaf in _leaves(child)]
