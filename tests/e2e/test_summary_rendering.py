"""The job summary rendered for real: cmark-gfm (GitHub's Markdown) and Mermaid in headless Chromium.

Runs when Chromium and the pinned mermaid (testing/browser) are installed; under CI=true it must run.
Screenshots go to the test artifacts directory (NF_TEST_ARTIFACTS, default test-artifacts/).
"""

from __future__ import annotations

import os
import unicodedata
from typing import Any

import pytest
import requests

from northflank_release.flowchart import MAX_LABEL
from northflank_release.summary import wait_summary
from testing import browser, flows
from testing.clock import FakeClock
from testing.northflank_standin import API_TOKEN_DEFAULT, NODE_STATUSES, FlowStep, NorthflankStandin, RunPlan

AUTH = {"Authorization": f"Bearer {API_TOKEN_DEFAULT}"}
FLOW = "/v1/projects/proj/pipelines/pipe/release-flows/staging/runs"

_missing = browser.missing()
if _missing and os.environ.get("CI") == "true":
    raise RuntimeError(f"CI=true and the browser tests cannot run: {_missing} (.ci/run installs both)")
pytestmark = pytest.mark.skipif(_missing is not None, reason=_missing or "")

# Case name -> (flow, seconds after the trigger at which the summary is written).
CASES: dict[str, tuple[FlowStep, float]] = {
    "failed-nested": (flows.failed_nested(), 1000.0),
    "every-status": (flows.every_status(), 40.0),
    "succeeded-nested": (flows.succeeded_nested(), 1000.0),
    "running-nested": (flows.succeeded_nested(), 150.0),
    "sixty-nodes": (flows.big(60), 1000.0),
    "deep": (flows.deep(12), 1000.0),
    "hostile": (flows.hostile(), 1000.0),
    "huge": (flows.big(400, width=20), 5000.0),
}


def _summary(flow: FlowStep, after: float) -> str:
    clock = FakeClock()
    with NorthflankStandin(clock=clock) as standin:
        standin.plan = RunPlan.following(flow)
        run_id = requests.post(standin.url + FLOW, json={}, headers=AUTH, timeout=5).json()["data"]["id"]
        clock.now += after
        run: dict[str, Any] = requests.get(f"{standin.url}{FLOW}/{run_id}", headers=AUTH, timeout=30).json()["data"]
        return wait_summary(run, "concluded" if run["concluded"] else "timeout", after, now=standin.unix_time())


@pytest.fixture(scope="module")
def rendered() -> tuple[dict[str, Any], browser.Page]:
    cases = {name: _summary(flow, after) for name, (flow, after) in CASES.items()}
    page = browser.write_page(cases, browser.ARTIFACTS / "summaries" / "all.html")
    report = browser.render(page)
    assert "fatal" not in report, report
    return report, page


def _case(report: dict[str, Any], name: str) -> dict[str, Any]:
    (result,) = [result for result in report["results"] if result["case"] == name]
    found: dict[str, Any] = result
    return found


def _leaves(node: FlowStep) -> list[FlowStep]:
    return [node] if node.steps is None else [leaf for step in node.steps for leaf in _leaves(step)]


def _shown(ref: str) -> str:
    """A ref as a diagram label shows it: one line, shortened, invisible controls made visible."""
    text = " ".join(ref.split())
    text = text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"
    return "".join("\ufffd" if unicodedata.category(c)[0] in "CZ" and c != " " else c for c in text)


def _steps(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The diagram's step boxes (not junctions or the 'more' box), by label."""
    return {node["label"]: node for node in result["nodes"] if "-n" in node["id"]}


@pytest.mark.parametrize("name", list(CASES))
def test_every_diagram_parses_and_renders(rendered: tuple[dict[str, Any], browser.Page], name: str) -> None:
    report, _page = rendered
    result = _case(report, name)
    assert result["parsed"], result["error"]
    assert result["error"] == ""
    flow = CASES[name][0]
    leaves = _leaves(flow)
    steps = _steps(result)
    assert len(steps) == min(len(leaves), 80)
    if len(leaves) > 80:
        (more,) = [node for node in result["nodes"] if "-more-" in node["id"]]
        assert f"{len(leaves) - 80} more steps not shown" in more["label"]


def test_hostile_names_are_shown_as_text(rendered: tuple[dict[str, Any], browser.Page]) -> None:
    report, _page = rendered
    labels = list(_steps(_case(report, "hostile")))
    for ref in flows.HOSTILE_REFS:
        assert any(label.startswith(_shown(ref)) for label in labels), (ref, labels)
    found = report["found"]
    # Nothing from the API became markup: only the page's own two scripts, no images, handlers or links.
    assert (found["scripts"], found["images"], found["handlers"]) == (2, 0, 0)
    assert all(link.startswith("#") for link in found["links"] if link), found["links"]
    # The table keeps one row per node and every name in its first cell, as text.
    cells = found["cells"]["hostile"]
    firsts = [row[0] for row in cells]
    assert all(len(row) == 7 for row in cells)
    for ref in flows.HOSTILE_REFS:
        text = "".join("\ufffd" if unicodedata.category(c) in {"Cc", "Cf"} else c for c in " ".join(ref.split()))
        text = text if len(text) <= 100 else text[:99] + "…"
        shown = [cell.lstrip("\xa0│├└─ ").replace("\u2060", "") for cell in firsts]  # the invisible joiner after @
        assert any(cell.startswith(text or "StartBuild") for cell in shown), (ref, firsts)


def test_status_colours_and_parallel_branches(rendered: tuple[dict[str, Any], browser.Page]) -> None:
    report, _page = rendered
    steps = _steps(_case(report, "every-status"))
    by_status = {label.split("node-", 1)[1].split("success")[0]: node for label, node in steps.items()}
    fills = {}
    for status in NODE_STATUSES:
        (node,) = [node for label, node in steps.items() if label.startswith(f"node-{status}")]
        fills[status] = node["fill"]
    assert len(by_status) == len(NODE_STATUSES)
    assert fills["success"] == "rgb(218, 251, 225)"
    assert fills["failure"] == fills["invalid"] == "rgb(255, 235, 233)"
    assert len({fills["success"], fills["failure"], fills["async_wait"], fills["waiting"], fills["approval_wait"]}) == 5
    # Parallel branches stand side by side: one row, distinct columns.
    ys = {round(node["y"]) for node in steps.values()}
    assert len(ys) == 1
    assert len({round(node["x"]) for node in steps.values()}) == len(steps)

    nested = _steps(_case(report, "failed-nested"))

    def at(prefix: str) -> dict[str, Any]:
        (node,) = [node for label, node in nested.items() if label.startswith(prefix)]
        return node

    assert "failure" in at("build-web")["classes"]
    assert at("build-api")["y"] == at("build-web")["y"]  # parallel: same row
    assert at("build-api")["x"] != at("build-web")["x"]
    assert at("checkout-tests")["y"] < at("build-api")["y"] < at("migrate-db")["y"]  # sequential: in order
    assert at("build-worker")["y"] < at("scan-worker")["y"]
    assert "1m15s" in at("build-web")["label"]


def test_screenshots(rendered: tuple[dict[str, Any], browser.Page]) -> None:
    _report, page = rendered
    shots = browser.ARTIFACTS / "summaries"
    whole = browser.screenshot(page, shots / "all.png", 1100, 12000)
    single = browser.write_page(
        {"failed-nested": page.cases["failed-nested"]}, shots / "failed-nested.html", headings=False
    )
    # The README's picture (docs/summary-failed-nested.png) is a copy of this one.
    one = browser.screenshot(single, shots / "failed-nested.png", 1000, 1240)
    for shot in (whole, one):
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert shot.stat().st_size > 20_000
