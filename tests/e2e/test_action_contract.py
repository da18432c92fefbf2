"""action.yml is the contract: every input is mapped, read and documented, and every output is written."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from northflank_release.settings import INPUTS, Settings
from testing.northflank_standin import NorthflankStandin
from testing.runner import ACTION, run_action


def test_every_input_maps_to_the_variable_the_code_reads_with_the_same_default() -> None:
    declared = ACTION["inputs"]
    assert list(declared) == [spec.name for spec in INPUTS]
    for spec in INPUTS:
        assert ACTION["runs"]["env"][spec.env] == f"${{{{ inputs.{spec.name} }}}}"
        assert str(declared[spec.name].get("default", "")) == spec.default, spec.name
        assert bool(declared[spec.name].get("required", False)) == spec.required, spec.name
        assert declared[spec.name]["description"].strip()
    assert set(ACTION["runs"]["env"]) == {spec.env for spec in INPUTS}


def test_each_input_fills_its_own_settings_field() -> None:
    """Adding an input is action.yml plus one catalogue entry: the entry names the field it fills."""
    fields = [spec.field for spec in INPUTS]
    assert len(set(fields)) == len(fields)
    assert set(fields) == {f.name for f in dataclasses.fields(Settings)} - {
        "http_timeout",
        "trigger_retry_seconds",
        "ca_bundle",
    }


def test_the_token_goes_in_through_env_never_args() -> None:
    # runs.args exists for Kubernetes runners' hooks, and holds only the image's fixed entry point words: no
    # expression, so no input (the token least of all) can reach the command line.
    assert all("${{" not in arg and "inputs" not in arg for arg in ACTION["runs"]["args"])
    assert "${{" not in ACTION["runs"]["entrypoint"]
    assert ACTION["runs"]["using"] == "docker"
    assert ACTION["runs"]["image"] == "Dockerfile"


def test_every_output_is_written_after_a_waited_run(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    result = run_action(tmp_path, {**inputs, "wait": "true", "poll-interval": "1s"})

    assert result.exit_code == 0, result.log
    assert set(result.outputs) == set(ACTION["outputs"])
    assert all(result.outputs[name] for name in ACTION["outputs"]), result.outputs


def test_every_input_changes_what_the_action_does(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    """Each input that shapes the request, changed, changes the dry-run's printed request.

    The other inputs (api-token, wait, timeout, poll-interval, abort-on-timeout, request-file, dry-run)
    are proven by the end-to-end tests of their behaviour.
    """
    base = {**inputs, "dry-run": "true"}
    (tmp_path / "baseline").mkdir()
    baseline = run_action(tmp_path / "baseline", base)
    changed = {
        "project-id": "other-project",
        "pipeline-id": "other-pipeline",
        "stage": "staging",
        "team-id": "acme-team",
        "name": "Custom name",
        "description": "Custom description",
        "arguments": "OTHER=1",
        "overrides": '{"build": {"branch": "x"}}',
        "release-node-overrides": '{"web": {"type": "registry"}}',
        "api-url": "https://api.example.test",
    }
    for name, value in changed.items():
        folder = tmp_path / name
        folder.mkdir()
        result = run_action(folder, {**base, name: value})
        assert result.exit_code == 0, (name, result.log)
        assert result.stdout != baseline.stdout, f"{name} made no difference"
