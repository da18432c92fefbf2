"""The job summary's account of a run, built from the stand-in's answers (the API's documented shapes)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import requests

from northflank_release.flowchart import MAX_NODES
from northflank_release.runs import failed_nodes, flow_nodes, unix_seconds
from northflank_release.summary import wait_summary
from testing import flows
from testing.clock import FakeClock
from testing.northflank_standin import API_TOKEN_DEFAULT, FlowStep, NorthflankStandin, RunPlan, workflow

AUTH = {"Authorization": f"Bearer {API_TOKEN_DEFAULT}"}
FLOW = "/v1/projects/proj/pipelines/pipe/release-flows/staging/runs"
MIB = 1024 * 1024


def run_of(standin: NorthflankStandin, clock: FakeClock, flow: FlowStep, after: float) -> dict[str, Any]:
    standin.plan = RunPlan.following(flow)
    run_id = requests.post(standin.url + FLOW, json={}, headers=AUTH, timeout=5).json()["data"]["id"]
    clock.now += after
    run: dict[str, Any] = requests.get(f"{standin.url}{FLOW}/{run_id}", headers=AUTH, timeout=30).json()["data"]
    return run


def table_rows(summary: str) -> list[list[str]]:
    rows = [line for line in summary.splitlines() if line.startswith("| ") and not line.startswith("| Step")]
    return [[html.unescape(cell.strip()) for cell in row.strip("|").split(" | ")] for row in rows]


def test_failed_nested_flow_reads_as_it_ran(simulated: NorthflankStandin, clock: FakeClock) -> None:
    run = run_of(simulated, clock, flows.failed_nested(), 1000.0)
    summary = wait_summary(run, "concluded", 1000.0, now=simulated.unix_time())

    # The node that failed first stands above the picture and the table, with its error.
    first = summary.index("Failed first: build-web")
    assert first < summary.index("```mermaid") < summary.index("| Step |")
    headline = html.unescape(summary[first : summary.index("```mermaid")])
    assert "Build failed: npm ERR! missing script: build <web/package.json> (NODE_FAILED)" in headline
    rows = table_rows(summary)
    names = [re.sub(r"^[\xa0│├└─ ]*", "", row[0]) for row in rows]
    # The root Workflow is no step; the tree keeps flow order, and nested branches are drawn as a tree.
    assert names == [
        "checkout-tests",
        "**build-all** ⇉ parallel",
        "build-api",
        "build-web",
        "**worker** → sequential",
        "build-worker",
        "scan-worker",
        "migrate-db",
        "**deploy** ⇉ parallel",
        "deploy-api",
        "deploy-web",
    ]
    assert rows[5][0].startswith("\xa0\xa0\xa0\xa0├─ ")
    build_web = rows[3]
    # Kind, status, start time in UTC (not raw Unix seconds), duration, retries, error.
    assert build_web[1:3] == ["StartBuild", "**❌ failure**"]
    assert re.fullmatch(r"20\d\d-\d\d-\d\d \d\d:\d\d:\d\d", build_web[3])
    assert build_web[4:6] == ["1m15s", "1"]
    assert "NODE_FAILED" in build_web[6]
    assert not re.search(r"\b1[6-9]\d{8}\b", summary)  # no raw Unix seconds anywhere
    assert rows[0][4] == "42s"
    assert rows[7][2:5] == ["⏭️ skipped", "–", "–"]


def test_failures_are_ordered_by_when_they_happened(simulated: NorthflankStandin, clock: FakeClock) -> None:
    flow = workflow(
        "root",
        "parallel",
        FlowStep("slow-fail", status="failure", duration=90.0, error="late"),
        FlowStep("quick-fail", status="failure", duration=5.0, error="early"),
    )
    run = run_of(simulated, clock, flow, 500.0)
    assert [node.name for node in failed_nodes(run)] == ["quick-fail", "slow-fail"]
    summary = wait_summary(run, "concluded", 500.0, now=simulated.unix_time())
    assert "Failed first: quick-fail" in summary
    assert "(1 more failed, below)" in summary


def test_a_running_flow_shows_time_so_far(simulated: NorthflankStandin, clock: FakeClock) -> None:
    run = run_of(simulated, clock, flows.succeeded_nested(), 60.0)
    summary = wait_summary(run, "timeout", 60.0, now=simulated.unix_time())
    rows = {row[0]: row for row in table_rows(summary)}
    assert rows["build-image"][2] == "🔄 async_wait"
    assert rows["build-image"][4] in {"59s so far", "1m so far", "1m1s so far"}
    assert "Failed first" not in summary


def test_huge_flow_stays_under_the_step_summary_cap(simulated: NorthflankStandin, clock: FakeClock) -> None:
    long_error = "E" * 5000
    steps = [
        FlowStep(f"service-{index:05d}-" + "x" * 60, status="failure", error=long_error, duration=1.0)
        for index in range(6000)
    ]
    run = run_of(simulated, clock, workflow("root", "parallel", *steps), 100.0)
    summary = wait_summary(run, "concluded", 100.0, now=simulated.unix_time())

    assert len(summary.encode()) < MIB - 64 * 1024  # room left for the trigger summary
    assert "_The table stops after" in summary
    assert "of 6000 nodes" in summary
    assert f"… {6000 - MAX_NODES} more steps not shown" in summary
    assert summary.count("<br/>") == MAX_NODES


def test_no_steps_no_picture() -> None:
    for run in (None, {}, {"spec": "nonsense"}, {"spec": {"kind": "Workflow", "spec": {"steps": []}}}):
        summary = wait_summary(run, "concluded", 1.0)
        assert "mermaid" not in summary
        assert "| Step" not in summary


def test_odd_node_shapes_are_read_not_crashed_on() -> None:
    deep: dict[str, Any] = {"kind": "StartBuild", "ref": "leaf", "response": {"status": "success"}}
    for level in range(200):
        deep = {"kind": "Workflow", "ref": f"l{level}", "spec": {"type": "sequential", "steps": [deep]}}
    odd = {
        "spec": {
            "kind": "Workflow",
            "spec": {
                "type": "parallel",
                "steps": [
                    "not a node",
                    {"ref": 7, "response": {"status": None, "startTime": True, "endTime": "soon"}},
                    {
                        "ref": "ms",
                        "response": {"status": "success", "startTime": 1795936626000, "endTime": 1795936630000},
                    },
                    {
                        "ref": "iso",
                        "response": {
                            "status": "failure",
                            "startTime": "2026-11-29 08:00:00.000Z",
                            "endTime": "2026-11-29T08:01:05Z",
                            "error": "plain text error",
                        },
                    },
                    {"ref": "nan", "response": {"status": "success", "startTime": float("nan"), "retries": 3}},
                    deep,
                ],
            },
        }
    }
    nodes = {node.ref: node for node in flow_nodes(odd)}
    assert nodes["7"].status == "unknown"
    assert nodes["7"].start is None
    assert nodes["7"].end is None
    assert nodes["ms"].duration(0) == 4.0
    assert nodes["iso"].duration(0) == 65.0
    assert nodes["iso"].error == "plain text error"
    assert nodes["nan"].start is None
    assert nodes["nan"].retries == 3
    summary = wait_summary(odd, "concluded", 1.0, now=1795936700.0)
    assert "Failed first: iso" in summary
    assert "| 1m5s |" in summary


def _leaf(ref: str, **response: Any) -> dict[str, Any]:
    return {"kind": "StartBuild", "ref": ref, "response": {"status": "success", **response}}


def _flow(steps: list[dict[str, Any]], kind: str = "sequential", ref: str = "root") -> dict[str, Any]:
    return {"kind": "Workflow", "ref": ref, "spec": {"type": kind, "steps": steps}, "response": {"status": "success"}}


def test_kinds_and_statuses_of_any_length_stay_words(tmp_path: Path) -> None:
    steps = [{**_leaf(f"b{index}", status="failure"), "kind": "StartBuild" + "_" * 200_000} for index in range(3)]
    summary = wait_summary({"status": "failure", "concluded": True, "spec": _flow(steps)}, "concluded", 1.0, now=1.8e9)

    assert len(summary.encode()) < 20_000
    assert sum(line.startswith("| b") for line in summary.splitlines()) == 3  # one row per step


def test_numbers_too_large_for_a_float_read_as_unknown() -> None:
    assert unix_seconds(10**400) is None
    run = {
        "status": "failure",
        "concluded": True,
        "spec": _flow([_leaf("b", startTime=10**400, retries={"attempts": 10**400})]),
    }
    assert "| b |" in wait_summary(run, "concluded", 1.0, now=1.8e9)


def test_a_concluded_run_measures_unfinished_nodes_up_to_its_end_not_to_now() -> None:
    """Node times are on the API's clock; the runner's clock (and the moment the summary is written) may differ."""
    run = {
        "status": "aborted",
        "concluded": True,
        "concludedAt": "2026-11-29 10:00:10.000Z",
        "spec": _flow([_leaf("deploy", status="async_wait", startTime=1795946400)]),  # 2026-11-29 10:00:00 UTC
    }
    row = next(line for line in wait_summary(run, "concluded", 12.0).splitlines() if line.startswith("| deploy"))
    assert "| 10s so far |" in row
