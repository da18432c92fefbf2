"""The runner emulation itself (testing/runner.py): the step environment in the runner's own order, which the
e2e tier relies on (tests/e2e/test_runner_precedence.py)."""

from __future__ import annotations

from testing.runner import GITHUB_CONTEXT, runs_env, step_environment


def test_the_emulation_keeps_the_job_env_over_runs_env_and_with_over_both() -> None:
    job_env = {"NORTHFLANK_STAGE": "development", "INPUT_STAGE": "from-job-env", "OTHER": "kept"}
    env = step_environment({"stage": "production"}, GITHUB_CONTEXT, job_env)

    assert env["NORTHFLANK_STAGE"] == "development"  # runs.env adds a key only when it is absent
    assert env["INPUT_STAGE"] == "production"  # INPUT_<NAME> always overwrites
    assert env["INPUT_API-TOKEN"] == ""  # hyphens kept; an input not given gets its default
    assert env["INPUT_WAIT"] == "false"
    assert env["OTHER"] == "kept"
    assert runs_env({"stage": "production"})["NORTHFLANK_STAGE"] == "production"
