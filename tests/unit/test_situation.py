"""Where a run waits, in words, from answers of every plausible shape: documented, partial, and wrong."""

from __future__ import annotations

from typing import Any

import pytest

from northflank_release.situation import (
    approval_notice,
    approval_since,
    may_be_superseded,
    newer_runs,
    options,
    queued_notice,
    runs_ahead,
    superseded_text,
)

RUN = {
    "id": "run-2",
    "status": "queued",
    "createdAt": "2026-01-01 12:00:00.000Z",
    "options": {"concurrencyPolicy": "queue", "paused": False},
}


def listed(run_id: str, created: str, status: str = "running", concluded: bool = False) -> dict[str, Any]:
    return {"id": run_id, "status": status, "concluded": concluded, "createdAt": created}


@pytest.mark.parametrize(
    "value", [None, {}, {"options": None}, {"options": []}, {"options": {"concurrencyPolicy": 3, "paused": "yes"}}]
)
def test_options_the_answer_leaves_out_or_garbles_say_nothing(value: Any) -> None:
    assert options(value).policy == ""
    assert options(value).paused is False
    assert not may_be_superseded(value, "aborted")


def test_the_runs_ahead_are_the_unconcluded_older_ones_oldest_first() -> None:
    others = [
        listed("run-3", "2026-01-01 12:05:00.000Z"),
        listed("run-1", "2026-01-01 11:59:00.000Z"),
        listed("run-0", "2026-01-01 11:50:00.000Z", "success", concluded=True),
        listed("run-x", "2026-01-01 11:58:00.000Z", "queued"),
        {"id": "bad id!", "createdAt": "2026-01-01 11:00:00.000Z"},
        RUN,
    ]
    assert [run["id"] for run in runs_ahead(RUN, others)] == ["run-x", "run-1"]
    text = queued_notice("run-2", RUN, runs_ahead(RUN, others))
    assert "concurrency policy is queue" in text
    assert "Ahead of it: run-x (queued), run-1 (running)." in text


def test_without_a_policy_or_a_list_the_queue_notice_still_reads() -> None:
    text = queued_notice("run-2", {"id": "run-2", "status": "queued"}, None)
    assert (
        text == "Run run-2 is queued: the release flow runs one at a time, so it starts when the run ahead of it ends."
    )


def test_the_newer_run_is_the_first_created_after_ours() -> None:
    mine = {**RUN, "status": "aborted", "options": {"concurrencyPolicy": "replace"}}
    others = [listed("run-5", "2026-01-01 12:09:00.000Z"), listed("run-4", "2026-01-01 12:01:00.000Z"), mine]
    [first, _second] = newer_runs(mine, others)
    assert first["id"] == "run-4"
    assert may_be_superseded(mine, "aborted")
    assert not may_be_superseded(mine, "failure")
    assert "run-4 (running), superseded it" in superseded_text(mine, "aborted", first)
    assert "none was found" in superseded_text(mine, "aborted", None)
    assert newer_runs({"id": "run-2"}, others) == [], "without our creation time, nothing is newer"


def test_approval_since_is_the_first_waiting_step_else_when_it_was_seen() -> None:
    def node(ref: str, status: str, start: int | None) -> dict[str, Any]:
        response: dict[str, Any] = {"status": status}
        if start is not None:
            response["startTime"] = start
        return {"kind": "Approval", "ref": ref, "spec": {}, "response": response}

    steps = [node("build", "success", 1_700_000_000), node("sign-off", "approval_wait", 1_700_000_100)]
    run = {
        "id": "r",
        "status": "approval_wait",
        "spec": {"kind": "Workflow", "spec": {"type": "sequential", "steps": steps}},
    }
    assert approval_since(run, seen=1_800_000_000.0) == 1_700_000_100
    assert approval_since({"id": "r", "status": "approval_wait"}, seen=1_800_000_000.0) == 1_800_000_000.0
    text = approval_notice("r", run, 1_700_000_100, stopping=False)
    assert "awaiting approval at sign-off since 2023-11-14 22:15:00 UTC" in text
    assert "set stop-at-approval: true" in text


def test_a_policy_of_any_length_from_the_api_is_shown_cut() -> None:
    run = {**RUN, "options": {"concurrencyPolicy": "q" * 100_000}}
    text = queued_notice("run-2", run, None)
    assert len(text) < 300
    assert "concurrency policy is qqq" in text
