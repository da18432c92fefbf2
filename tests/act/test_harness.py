"""The harness's own rules, checked without an engine (the runs themselves are in the other modules)."""

from __future__ import annotations

import yaml

from tests.act import harness


def test_local_action_image_names_follow_acts_rule() -> None:
    # Names read in act's log for `uses: ./` and `uses: ./nf-action-...` (pkg/runner/action.go).
    assert harness.act_image_name("./") == "act-dockeraction:latest"
    assert harness.act_image_name("./nf-action-x-act") == "act-nf-action-x-act-dockeraction:latest"
    assert harness.act_image_name("./Some/Path") == "act-some-path-dockeraction:latest"


def test_prepare_workflow_points_only_this_action_at_the_copy_and_the_standin() -> None:
    text = """
on:
  push:
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - id: ours
        uses: northflank-release/action@v1
        with: {stage: staging}
      - uses: ./
"""
    prepared = harness.prepare_workflow(text, api_url="http://127.0.0.1:9")
    # PyYAML reads `on` as true; written back it must be the string "on" again, or act sees no trigger.
    raw = yaml.safe_load(prepared)
    assert "on" in raw
    assert True not in raw
    doc = harness.load_workflow(prepared)
    steps = doc["jobs"]["a"]["steps"]
    assert steps[0] == {"uses": "actions/checkout@v4"}
    assert steps[1]["uses"] == steps[2]["uses"] == harness.LOCAL_ACTION_USES
    assert steps[1]["with"] == {"stage": "staging", "api-url": "http://127.0.0.1:9"}
    assert steps[2]["with"] == {"api-url": "http://127.0.0.1:9"}
