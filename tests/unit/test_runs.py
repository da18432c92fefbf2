"""runs.py: reading a run as the API returns it, however odd: statuses, times in any of their forms, and the
flow as a tree of nodes."""

from __future__ import annotations

from typing import Any

import pytest

from northflank_release.runs import flow_nodes, is_run_id, output_status, run_state, unix_seconds


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (1795936626, 1795936626.0),
        (1795936626500, 1795936626.5),
        ("1795936626", 1795936626.0),
        (True, None),
        (None, None),
        (-5, None),
        ("2026-11-29 08:00:00Z", 1795939200.0),
        ("garbage", None),
        (float("inf"), None),
    ],
)
def test_node_times(value: Any, seconds: float | None) -> None:
    assert unix_seconds(value) == seconds


def test_a_terminal_status_concludes_a_run_whose_concluded_flag_is_missing_or_odd() -> None:
    assert run_state({"status": "success"}).concluded
    assert run_state({"status": "failure", "concluded": "yes"}).concluded
    assert not run_state({"status": "running"}).concluded
    assert run_state(None).status == "unknown"


def test_a_status_that_is_no_known_word_is_an_unknown_output() -> None:
    assert output_status(run_state({"status": "running<img src=x>"}).status) == "unknown"
    assert output_status(run_state({"status": "running"}).status) == "running"


@pytest.mark.parametrize("run_id", ["r1", "3f9a0c2e-1b2c-4d5e-8f90-123456789abc", "a_b-C"])
def test_an_id_is_letters_digits_dashes_and_underscores(run_id: str) -> None:
    assert is_run_id(run_id)


@pytest.mark.parametrize("run_id", ["", "r1\nIMAGE_TAG=x", "../r1", "r 1", True, None, 1.5, "x" * 300])
def test_anything_else_is_not_an_id(run_id: Any) -> None:
    assert not is_run_id(run_id)


def test_nodes_are_read_in_flow_order_through_nested_workflows() -> None:
    run = {
        "spec": {
            "kind": "Workflow",
            "spec": {
                "type": "sequential",
                "steps": [
                    {"kind": "StartBuild", "ref": "build", "response": {"status": "success"}},
                    {
                        "kind": "Workflow",
                        "ref": "regions",
                        "spec": {
                            "type": "parallel",
                            "steps": [
                                {"kind": "DeployBuild", "ref": "eu", "response": {"status": "running"}},
                                {"kind": "DeployBuild", "ref": "us", "response": {"status": "failure"}},
                            ],
                        },
                    },
                ],
            },
        }
    }
    # A nested Workflow is a node too, before the steps it holds.
    assert [node.ref for node in flow_nodes(run)] == ["build", "regions", "eu", "us"]
