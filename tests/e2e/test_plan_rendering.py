"""A plan's job summary rendered for real (cmark-gfm, then Mermaid in headless Chromium): the template's flow,
the overridden nodes marked, hostile refs shown as text. Runs where test_summary_rendering.py runs."""

from __future__ import annotations

import os
from typing import Any

import pytest

from northflank_release.plan import touched_orders
from northflank_release.runs import flow_tree
from northflank_release.summary import plan_summary
from testing import browser
from testing.northflank_standin import release_flow_template

_missing = browser.missing()
if _missing and os.environ.get("CI") == "true":
    raise RuntimeError(f"CI=true and the browser tests cannot run: {_missing} (.ci/run installs both)")
pytestmark = pytest.mark.skipif(_missing is not None, reason=_missing or "")

HOSTILE_REF = '<img src=x onerror=alert(1)> "]; click n1 call alert()'
FINDINGS = [("error", "Plan: unknown node ref", "overrides key 'buidl' is not a ref; did you mean 'build'?")]


def _plan(flow: dict[str, Any], overrides: dict[str, Any], release_overrides: dict[str, Any]) -> str:
    root = flow_tree(flow)
    assert root is not None
    return plan_summary(FINDINGS, root, touched_orders(flow["spec"], overrides, release_overrides))


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    hostile = release_flow_template()
    hostile["spec"]["spec"]["steps"][0]["ref"] = HOSTILE_REF
    cases = {
        "plan": _plan(release_flow_template(), {"build": {}}, {"api": {}}),
        "hostile-plan": _plan(hostile, {HOSTILE_REF: {}}, {}),
    }
    page = browser.write_page(cases, browser.ARTIFACTS / "summaries" / "plan.html")
    report: dict[str, Any] = browser.render(page)
    browser.screenshot(page, browser.ARTIFACTS / "summaries" / "plan.png", 1000, 1400)
    return report


def _result(report: dict[str, Any], name: str) -> dict[str, Any]:
    (result,) = [result for result in report["results"] if result["case"] == name]
    found: dict[str, Any] = result
    return found


def test_the_plan_draws_the_template_with_the_overridden_nodes_marked(rendered: dict[str, Any]) -> None:
    result = _result(rendered, "plan")
    assert result["parsed"], result["error"]
    steps = {node["label"]: node for node in result["nodes"] if "-n" in node["id"]}
    assert len(steps) == 7  # every leaf of the template, nested workflows included
    fills = {label.split("·")[0].strip(): node["fill"] for label, node in steps.items()}
    overridden = {label for label, node in steps.items() if "overridden" in node["classes"]}
    assert overridden == {"buildStartBuild · overridden", "deploy-apiRelease · overridden"}
    assert fills["buildStartBuild"] == "rgb(251, 239, 255)"
    assert fills["deployRelease"] == "rgb(246, 248, 250)"
    assert {cluster["label"] for cluster in result["clusters"]} >= {"workers · sequential", "release · parallel"}


def test_a_hostile_ref_is_text_in_the_plan(rendered: dict[str, Any]) -> None:
    result = _result(rendered, "hostile-plan")
    assert result["parsed"], result["error"]
    labels = [node["label"] for node in result["nodes"] if "-n" in node["id"]]
    assert any(label.startswith('<img src=x onerror=alert(1)> "]; click') for label in labels), labels
    found = rendered["found"]
    assert (found["scripts"], found["images"], found["handlers"]) == (2, 0, 0)
