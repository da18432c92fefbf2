"""API text that later steps read: run-id, status, run-name and times reach the outputs only when we can vouch
for them (a hostile or broken API cannot add lines to run-id, or HTML to a summary that quotes status)."""

from __future__ import annotations

from pathlib import Path

from northflank_release.release import run_outputs
from testing.northflank_standin import NorthflankStandin, RunPlan
from testing.runner import run_action

FORGED_ID = "r1\nIMAGE_TAG=attacker:latest"
TRACKING_STATUS = "running<img src=https://track.example/p.gif>"


def test_a_run_id_that_is_no_id_never_becomes_the_run_id_output(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    standin.new_run_id = lambda: FORGED_ID

    result = run_action(tmp_path, inputs)

    assert result.exit_code == 1, result.log
    assert len(standin.requests_to("trigger")) == 1  # accepted, so never sent again
    assert result.outputs.get("run-id", "") == ""
    assert "IMAGE_TAG" not in result.raw_outputs
    [error] = result.errors
    assert "instead of a run id of letters, digits, '-' and '_'" in error


def test_a_status_that_is_no_known_word_is_unknown_in_the_outputs_and_only_logged(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    standin.plan = RunPlan(steps=[(0.0, TRACKING_STATUS), (3600.0, "success")])
    standin.ratelimit_reset = 30

    result = run_action(tmp_path, {**inputs, "wait": "true", "timeout": "2s", "poll-interval": "1s"})

    assert result.exit_code == 1
    assert result.outputs["status"] == "unknown"
    assert "<img" not in result.summary
    assert TRACKING_STATUS in result.stdout  # the raw value, for whoever reads the log


def test_outputs_say_what_we_sent_and_drop_what_is_not_a_time() -> None:
    run = {"id": "r1", "name": "Renamed by the API", "status": "success", "concluded": True}
    run |= {"startedAt": "2026-12-01 10:00:00.000Z", "concludedAt": "soon\nIMAGE_TAG=attacker:latest"}

    outputs = run_outputs(run, "r1", "v1-4-0 run 8123456789-1")

    assert outputs["run-name"] == "v1-4-0 run 8123456789-1"
    assert outputs["status"] == "success"
    assert outputs["started-at"] == "2026-12-01 10:00:00.000Z"
    assert outputs["concluded-at"] == ""
