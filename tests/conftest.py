"""Shared fixtures: a fresh Northflank stand-in per test, and the inputs of a typical release."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from testing.clock import FakeClock
from testing.fault_tally import OUTCOMES, Outcome, as_data, tally_line
from testing.northflank_standin import API_TOKEN_DEFAULT, NorthflankStandin

# CI explores the same examples on every run, so a submission cannot fail on a draw of luck; local runs
# explore new ones each time (and remember failures in .hypothesis/).
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("local", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "local")


# Each folder is a tier, and its tests carry its marker (`pytest -m unit`, `-m "not container and not act"`):
# tests/README.md says what goes where.
TIERS = ("unit", "e2e", "container", "act", "release", "repo")


def pytest_itemcollected(item: pytest.Item) -> None:
    tier = item.path.relative_to(Path(__file__).parent).parts[0]
    if tier in TIERS:
        item.add_marker(getattr(pytest.mark, tier))


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


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def simulated(clock: FakeClock) -> Iterator[NorthflankStandin]:
    """A stand-in whose runs move through their statuses on `clock`, not on real time."""
    with NorthflankStandin(clock=clock) as server:
        yield server


# --- The fault tally (testing/fault_tally.py) in the terminal summary, from this process or, under xdist, from
# every worker: each worker hands its outcomes over in `workeroutput`, the channel pytest-xdist provides for
# data from workers to the controller. Here, not in tests/e2e/conftest.py, because xdist's controller
# collects nothing and so loads only the conftest files of its starting folders.

_FROM_WORKERS: list[Outcome] = []


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput: dict[str, Any] | None = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["fault_outcomes"] = as_data(OUTCOMES)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    outcomes = getattr(node, "workeroutput", {}).get("fault_outcomes", [])
    _FROM_WORKERS.extend(Outcome(**outcome) for outcome in outcomes)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    outcomes = OUTCOMES + _FROM_WORKERS
    if outcomes:
        terminalreporter.write_line(tally_line(outcomes))
