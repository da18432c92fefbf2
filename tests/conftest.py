"""Shared fixtures: a fresh Northflank stand-in per test, and the inputs of a typical release."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.northflank_standin import API_TOKEN_DEFAULT, NorthflankStandin


@pytest.fixture
def standin() -> Iterator[NorthflankStandin]:
    with NorthflankStandin() as server:
        yield server


@pytest.fixture
def inputs(standin: NorthflankStandin) -> dict[str, str]:
    """The inputs of a typical tag-push release, pointed at the stand-in."""
    return {
        "api-token": API_TOKEN_DEFAULT,
        "project-id": "shop",
        "pipeline-id": "release-pipeline",
        "stage": "production",
        "arguments": "VERSION=v1.4.0\nCOMMIT=4f2a9c1",
        "api-url": standin.url,
    }
