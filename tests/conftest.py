"""Shared fixtures: a fresh Northflank stand-in per test, and the inputs of a typical release."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import settings

from tests.northflank_standin import API_TOKEN_DEFAULT, NorthflankStandin

# CI explores the same examples on every run, so a submission cannot fail on a draw of luck; local runs
# explore new ones each time (and remember failures in .hypothesis/).
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("local", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "local")


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


@dataclass
class FakeClock:
    """A clock tests advance by hand; `sleep` advances it instead of waiting."""

    now: float = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def simulated(clock: FakeClock) -> Iterator[NorthflankStandin]:
    """A stand-in whose runs move through their statuses on `clock`, not on real time."""
    with NorthflankStandin(clock=clock) as server:
        yield server
