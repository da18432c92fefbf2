"""Fixtures for the act suite: one image build from the real Dockerfile, shared by every workflow.

Without a Docker engine these tests are skipped, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import time

import pytest

from tests.act import harness

_NO_ENGINE = (
    'no Docker engine: run `eval "$(scripts/docker-engine.sh start | tail -1)"` '
    "and `scripts/docker-engine.sh base-image` first"
)


@pytest.fixture(scope="session")
def act_image(request: pytest.FixtureRequest) -> str:
    """The action's image, built once from the repo's Dockerfile and tagged NF_IMAGE_TAG."""
    if not harness.engine_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {_NO_ENGINE}")
        pytest.skip(_NO_ENGINE)
    if not harness.image_present(harness.JOB_IMAGE):
        # Where a registry answers (a GitHub runner), pull the real image; elsewhere say how to make one.
        reason = harness.pull_image(harness.JOB_IMAGE)
        if reason is not None:
            pytest.fail(
                f"the job image {harness.JOB_IMAGE} is not in the engine and cannot be pulled ({reason}): "
                "run `scripts/docker-engine.sh base-image`"
            )
    missing = harness.job_image_lacks()
    if missing:
        pytest.fail(f"the job image {harness.JOB_IMAGE} lacks {', '.join(missing)}, which act's job container needs")
    started = time.monotonic()
    try:
        image = harness.build_action_image()
    except harness.ActError as exc:
        pytest.fail(str(exc))
    _FIGURES["build"] = time.monotonic() - started
    request.config.pluginmanager.register(_FiguresReporter(), "act-figures")
    return image


_FIGURES: dict[str, float] = {}


class _FiguresReporter:
    """Prints the act suite's figures in pytest's terminal summary (budget: 3 minutes on 2 cores)."""

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        runs = harness.RUN_SECONDS
        if not runs:
            return
        terminalreporter.write_line(
            f"act suite: {len(runs)} workflow runs, {sum(runs):.1f} s in act (slowest {max(runs):.1f} s), "
            f"image build {_FIGURES['build']:.1f} s; budget 180 s on 2 cores"
        )
