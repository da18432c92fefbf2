"""flowchart.py: the flow as a Mermaid chart whose labels no API text can break, within Mermaid's limits."""

from __future__ import annotations

import re
from typing import Any

from northflank_release.flowchart import MAX_TEXT, flowchart, mermaid_text
from northflank_release.runs import flow_tree
from testing import flows


def _leaf(ref: str, **response: Any) -> dict[str, Any]:
    return {"kind": "StartBuild", "ref": ref, "response": {"status": "success", **response}}


def _flow(steps: list[dict[str, Any]], kind: str = "sequential", ref: str = "root") -> dict[str, Any]:
    return {"kind": "Workflow", "ref": ref, "spec": {"type": kind, "steps": steps}, "response": {"status": "success"}}


def test_mermaid_labels_are_inert() -> None:
    for ref in flows.HOSTILE_REFS:
        text = mermaid_text(ref)
        # Only the entity codes Mermaid decodes use `#` and `;`; nothing else can end a label or a statement.
        bare = re.sub(r"#(?:\d+|quot|lt|gt|amp);", "", text)
        assert not set(bare) & set('"<>`[]{}|;:#%&\n\r\\'), (ref, text)
    assert mermaid_text('a"b<c>d&e#f') == "a#quot;b#lt;c#gt;d#amp;e#35;f"


def test_a_flow_too_nested_to_draw_gets_a_note_instead_of_a_chart_mermaid_refuses() -> None:
    """80 parallel chains of 48 boxes each: more text than Mermaid draws (50,000 characters)."""
    chains = []
    for index in range(80):
        node = _leaf(f"leaf{index}")
        for _ in range(48):
            node = _flow([node], ref="<>" * 20)
        chains.append(node)
    root = flow_tree({"status": "success", "concluded": True, "spec": _flow(chains, "parallel")})
    assert root is not None

    chart = flowchart(root, 1.8e9)

    assert len(chart.encode("utf-16-le")) // 2 <= MAX_TEXT
    assert "too deeply nested to draw" in chart


def test_parallel_branches_are_drawn_side_by_side_with_their_status() -> None:
    root = flow_tree(
        {
            "status": "running",
            "spec": _flow([_leaf("build"), _flow([_leaf("eu"), _leaf("us", status="failure")], "parallel", "regions")]),
        }
    )
    assert root is not None

    chart = flowchart(root, 1.8e9)

    assert chart.startswith("flowchart")
    for ref in ("build", "eu", "us"):
        assert ref in chart
    assert "failure" in chart
