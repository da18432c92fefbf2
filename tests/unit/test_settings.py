"""settings.read_settings on plain dicts: where each input comes from, as GitHub's runner sets them, and
every problem found in one pass."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from northflank_release.settings import (
    INPUTS,
    Input,
    Settings,
    SettingsError,
    input_variable,
    read_settings,
    shadowed_variables,
)

TOKEN = "nf-unit-token-0123456789"
REQUIRED = {"INPUT_PROJECT-ID": "shop", "INPUT_PIPELINE-ID": "main", "INPUT_STAGE": "staging"}


def settings(environ: dict[str, str], workspace: Path | None = None) -> Settings:
    return read_settings({"INPUT_API-TOKEN": TOKEN, **REQUIRED, **environ}, str(workspace) if workspace else None)


def problems(environ: dict[str, str], workspace: Path | None = None) -> dict[str, str]:
    with pytest.raises(SettingsError) as failed:
        settings(environ, workspace)
    return {problem.input: problem.message for problem in failed.value.problems}


def test_the_runner_names_input_variables_with_hyphens_kept() -> None:
    assert input_variable("api-token") == "INPUT_API-TOKEN"
    assert input_variable("dry-run") == "INPUT_DRY-RUN"


def test_with_wins_over_a_job_variable_and_the_variable_fills_only_an_empty_input() -> None:
    environ = {"INPUT_STAGE": "production", "NORTHFLANK_STAGE": "development", "NORTHFLANK_TEAM_ID": "team-1"}

    read = settings(environ)

    assert read.stage == "production"
    assert read.team_id == "team-1"
    assert shadowed_variables({**REQUIRED, **environ}) == [("NORTHFLANK_STAGE", "stage")]


def test_every_default_comes_from_the_catalogue() -> None:
    read = settings({})

    assert read.wait is False
    assert read.timeout == 1800.0
    assert read.poll_interval == 10.0
    assert read.api_url == "https://api.northflank.com"
    assert read.http_timeout == 30.0
    assert read.trigger_retry_seconds == 120.0
    assert {spec.name: spec.default for spec in INPUTS}["timeout"] == "30m"


def test_every_problem_is_found_in_one_pass_in_the_catalogues_order() -> None:
    found = problems(
        {
            "INPUT_PROJECT-ID": "",
            "INPUT_STAGE": "prod",
            "INPUT_WAIT": "yes",
            "INPUT_TIMEOUT": "7h",
            "INPUT_API-URL": "ftp://x",
        }
    )

    assert list(found) == ["project-id", "stage", "wait", "timeout", "api-url"]
    assert "project-id is required" in found["project-id"]
    assert "use true or false" in found["wait"]
    assert "at most 6h" in found["timeout"]


def test_a_token_with_spaces_is_refused_without_being_quoted() -> None:
    found = problems({"INPUT_API-TOKEN": "nf hunter2 value"})

    assert "spaces, line breaks or characters outside ASCII" in found["api-token"]
    assert "hunter2" not in found["api-token"]


def test_a_dry_run_needs_no_token_and_a_real_run_does() -> None:
    assert settings({"INPUT_API-TOKEN": "", "INPUT_DRY-RUN": "true"}).dry_run
    assert "required unless dry-run is true" in problems({"INPUT_API-TOKEN": ""})["api-token"]


def test_the_tuning_variables_are_durations_above_zero() -> None:
    assert settings({"NORTHFLANK_TRIGGER_RETRY_SECONDS": "5m"}).trigger_retry_seconds == 300.0
    assert "must be above 0" in problems({"NORTHFLANK_HTTP_TIMEOUT": "0"})["NORTHFLANK_HTTP_TIMEOUT"]


def test_inside_actions_the_request_file_must_stay_in_the_workspace(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "body.json").write_text('{"arguments": {"VERSION": "1"}}', encoding="utf-8")
    (tmp_path / "outside.json").write_text("{}", encoding="utf-8")
    (workspace / "link.json").symlink_to(tmp_path / "outside.json")

    inside = settings({"GITHUB_ACTIONS": "true", "INPUT_REQUEST-FILE": "body.json"}, workspace)
    outside = problems({"GITHUB_ACTIONS": "true", "INPUT_REQUEST-FILE": "link.json"}, workspace)

    assert inside.request_file == {"arguments": {"VERSION": "1"}}
    assert "outside the workspace" in outside["request-file"]


# Hexadecimal holds more decimal digits than it has characters: 3,600 of them are 4,335 decimal digits.
@pytest.mark.parametrize("number", ["0x" + "f" * 3600, "-0x" + "F" * 3600, "0x" + "_ff" * 1800])
def test_a_yaml_integer_of_more_digits_than_json_can_write_is_an_input_error(number: str) -> None:
    found = problems({"INPUT_OVERRIDES": f"build:\n  replicas: {number}"})

    assert "more than 4300 digits" in found["overrides"]
    assert "quote it" in found["overrides"]


def test_each_catalogue_entry_fills_the_field_it_names_and_no_other(monkeypatch: pytest.MonkeyPatch) -> None:
    """read_settings lists the fields by hand (so mypy checks their types): each must take its own entry's value."""
    monkeypatch.setattr(Input, "value", lambda spec, _reader: f"<{spec.name}>")

    with pytest.raises(SettingsError) as failed:  # "<run-id>" with "<dry-run>" is a problem; the fields are read
        read_settings({})
    read = failed.value.partial

    assert {spec.field: getattr(read, spec.field) for spec in INPUTS} == {
        spec.field: f"<{spec.name}>" for spec in INPUTS
    }
    fields = [spec.field for spec in INPUTS]
    assert len(set(fields)) == len(fields)
    not_inputs = {"http_timeout", "trigger_retry_seconds", "ca_bundle"}  # advanced tuning, read from env
    assert set(fields) == {field.name for field in dataclasses.fields(Settings)} - not_inputs
