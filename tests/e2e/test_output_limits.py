"""GitHub's limits on what a step writes: 1 MiB of step summary (more and it is dropped whole, see
actions/runner src/Runner.Worker/FileCommandManager.cs) and 1 MiB of a job's outputs in all."""

from __future__ import annotations

import json
from pathlib import Path

from northflank_release.api.target import Target
from northflank_release.github import JSON_OUTPUT_LIMIT_BYTES, SUMMARY_LIMIT_BYTES, Runner, json_output
from northflank_release.summary import dry_run_summary
from northflank_release.text import maskable_json
from testing.northflank_standin import NorthflankStandin
from testing.runner import run_action, trigger_bodies


def test_a_huge_request_and_run_become_outputs_that_fit_and_still_parse(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    """400 KB of arguments (from a request file) come back in the run: both JSON outputs are cut, not lost."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    arguments = {f"ARG_{index:05d}": "x" * 40 for index in range(8000)}
    (workspace / "body.json").write_text(json.dumps({"arguments": arguments}), encoding="utf-8")
    result = run_action(tmp_path, {**inputs, "arguments": "", "request-file": "body.json"})

    assert result.exit_code == 0, result.log
    [body] = trigger_bodies(standin)
    assert body["arguments"] == arguments  # the API gets everything; only the outputs are cut
    [run] = standin.runs()
    for name in ("request", "response"):
        value = result.outputs[name]
        assert len(value.encode("utf-8")) <= JSON_OUTPUT_LIMIT_BYTES
        parsed = json.loads(value)
        assert "arguments" in parsed["_truncated"]
        assert "arguments" not in parsed
    response = json.loads(result.outputs["response"])
    assert response["id"] == run["id"]
    assert response["status"] == run["status"]
    assert len(result.raw_outputs.encode("utf-8")) < 1024 * 1024


def test_json_output_leaves_small_values_alone() -> None:
    run = {"id": "r1", "status": "success", "spec": {"kind": "Workflow"}}
    assert json.loads(json_output(run)) == run


def test_the_summary_is_cut_at_a_line_and_never_passes_one_mebibyte(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# Earlier\n", encoding="utf-8")
    runner = Runner(in_actions=True, debug=False, environ={"GITHUB_STEP_SUMMARY": str(summary)})
    rows = "".join(f"| node-{index} | ✅ success |\n" for index in range(60000))

    runner.append_summary(rows)
    runner.append_summary("## Appended after the cut\n")

    text = summary.read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= SUMMARY_LIMIT_BYTES
    assert text.startswith("# Earlier\n| node-0 |")
    assert text.endswith("*The rest of this summary was cut: GitHub shows at most 1 MiB per step.*\n")
    before_note = text.rsplit("\n\n*The rest", 1)[0]
    assert before_note.rstrip("\n").endswith(" |")  # whole rows only


def test_a_dry_run_summary_cut_at_the_limit_still_closes_its_code_block(tmp_path: Path) -> None:
    """A body that fits the summary budget meets a summary already half full: the cut must not leave the
    block open, or everything after it (the cut note, later steps' summaries) would render as code."""
    summary = tmp_path / "summary.md"
    summary.write_text("# Earlier step\n" + "text\n" * 100_000, encoding="utf-8")
    runner = Runner(in_actions=True, debug=False, environ={"GITHUB_STEP_SUMMARY": str(summary)})
    body = maskable_json({"arguments": {f"ARG_{index:05d}": "<x>" * 30 for index in range(8000)}}, indent=2)

    runner.append_summary(dry_run_summary(Target("shop", "main", "staging"), body))

    text = summary.read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= SUMMARY_LIMIT_BYTES
    assert "<pre>" not in text
    fences = [line for line in text.splitlines() if line.startswith("```")]
    assert fences[0] == "```json"
    assert fences == ["```json", "```"]
    assert text.endswith('",\n```\n\n\n*The rest of this summary was cut: GitHub shows at most 1 MiB per step.*\n')
