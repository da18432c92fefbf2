"""What the workflow run tells about itself (GITHUB_* variables), for naming and describing runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class GitHubContext:
    """What the workflow run tells about itself; every field may be empty outside GitHub."""

    repository: str = ""
    ref_name: str = ""
    ref_type: str = ""
    sha: str = ""
    workflow: str = ""
    run_id: str = ""
    run_number: str = ""
    run_attempt: str = ""
    job: str = ""
    in_actions: bool = False
    debug: bool = False


def read_github_context(environ: Mapping[str, str]) -> GitHubContext:
    return GitHubContext(
        repository=environ.get("GITHUB_REPOSITORY", ""),
        ref_name=environ.get("GITHUB_REF_NAME", ""),
        ref_type=environ.get("GITHUB_REF_TYPE", ""),
        sha=environ.get("GITHUB_SHA", ""),
        workflow=environ.get("GITHUB_WORKFLOW", ""),
        run_id=environ.get("GITHUB_RUN_ID", ""),
        run_number=environ.get("GITHUB_RUN_NUMBER", ""),
        run_attempt=environ.get("GITHUB_RUN_ATTEMPT", ""),
        job=environ.get("GITHUB_JOB", ""),
        in_actions=environ.get("GITHUB_ACTIONS") == "true",
        debug=environ.get("RUNNER_DEBUG") == "1",
    )
