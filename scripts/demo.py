"""Trigger a release against the local Northflank stand-in as the runner would, and show what it leaves."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from testing import flows  # noqa: E402
from testing.northflank_standin import API_TOKEN_DEFAULT, NorthflankStandin, RunPlan  # noqa: E402
from testing.runner import run_action  # noqa: E402


def main() -> int:
    with NorthflankStandin() as standin, tempfile.TemporaryDirectory() as folder:
        # A run that builds, then deploys to two regions side by side, over about four seconds.
        standin.plan = RunPlan.following(flows.build_then_two_regions())
        # A rate-limit window that resets in a minute, so the 1s poll interval is not stretched to fit an hour.
        standin.ratelimit_reset = 60
        inputs = {
            "api-token": API_TOKEN_DEFAULT,
            "project-id": "shop",
            "pipeline-id": "release-pipeline",
            "stage": "production",
            "arguments": "VERSION=v1.4.0\nCOMMIT=4f2a9c1",
            "wait": "true",
            "poll-interval": "1s",
            "api-url": standin.url,
        }
        print(f"Northflank stand-in on {standin.url}; running the action as a tag push of v1.4.0 would.\n")
        result = run_action(Path(folder), inputs)
        print("--- the step's log (lines starting with :: are workflow commands the runner consumes; it never")
        print("    shows ::add-mask, and the token it registers here is the stand-in's fake one) ---")
        print(result.stdout, end="")
        print(result.stderr, end="")
        print(f"--- exit code: {result.exit_code} ---\n")
        print("--- step outputs (GITHUB_OUTPUT, parsed as the runner parses it) ---")
        for name, value in result.outputs.items():
            shown = value if len(value) <= 100 else value[:97] + "..."
            print(f"{name:>13} = {shown}")
        print("\n--- job summary (GITHUB_STEP_SUMMARY) ---")
        print(result.summary)
        print(f"--- the stand-in received {len(standin.requests)} request(s) ---")
        for request in standin.requests:
            print(f"{request.method} {request.path}")
        return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
