"""Fixtures for the act suite: one image build from the real Dockerfile, shared by every workflow.

Without a Docker engine these tests are skipped, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os

import pytest

from tests.act import harness

_NO_ENGINE = (
    'no Docker engine: run `eval "$(scripts/docker-engine.sh start | tail -1)"` '
    "and `scripts/docker-engine.sh base-image` first"
)


@pytest.fixture(scope="session")
def act_image() -> str:
    """The action's image, built once from the repo's Dockerfile and tagged NF_IMAGE_TAG."""
    if not harness.engine_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {_NO_ENGINE}")
        pytest.skip(_NO_ENGINE)
    return harness.build_action_image()
