"""action.yml is the contract: every input is mapped, read and documented, and every output is written."""

from __future__ import annotations

from pathlib import Path

from northflank_release.settings import INPUTS
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


# A changed value for every input that shapes the request: a new input goes here, or in PROVEN_ELSEWHERE.
CHANGED = {
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
# Inputs that do not show in a dry run's request, each proven by the end-to-end tests of its behaviour.
PROVEN_ELSEWHERE = (
    "api-token",
    "request-file",
    "wait",
    "timeout",
    "poll-interval",
    "abort-on-timeout",
    "stop-at-approval",
    "dry-run",
    "run-id",
)


def test_every_input_changes_what_the_action_does(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    """Each input in the catalogue, changed, changes the dry-run's printed request, or is named as an exception."""
    assert not set(CHANGED) & set(PROVEN_ELSEWHERE)
    base = {**inputs, "dry-run": "true"}
    (tmp_path / "baseline").mkdir()
    baseline = run_action(tmp_path / "baseline", base)
    for spec in INPUTS:
        if spec.name in PROVEN_ELSEWHERE:
            continue
        assert spec.name in CHANGED, f"{spec.name}: add a changed value to CHANGED, or name it in PROVEN_ELSEWHERE"
        folder = tmp_path / spec.name
        folder.mkdir()
        result = run_action(folder, {**base, spec.name: CHANGED[spec.name]})
        assert result.exit_code == 0, (spec.name, result.log)
        assert result.stdout != baseline.stdout, f"{spec.name} made no difference"
