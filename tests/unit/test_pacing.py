"""The one pacing rule (pacing.py), and the pauses the loops built on it take, on the simulated clock."""

from __future__ import annotations

import random

import pytest

from northflank_release.api.client import RateLimit
from northflank_release.pacing import asked_or, backoff, budget_interval, grown


def _series(first: float, steps: int, **options: float) -> list[float]:
    pauses = [first]
    for _ in range(steps - 1):
        pauses.append(grown(pauses[-1], **options))
    return pauses


def test_a_pause_doubles_up_to_its_cap() -> None:
    assert _series(1.0, 6, cap=5.0) == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_a_pause_grows_by_its_factor_from_its_floor() -> None:
    assert grown(10.0, factor=1.25, cap=30.0) == 12.5
    assert grown(0.0, cap=60.0, floor=1.0) == 2.0  # an outage right after a read still waits


def test_the_backoff_is_jittered_within_half_of_its_ceiling_and_capped() -> None:
    draws = random.Random(7)
    for attempt, ceiling in [(1, 2.0), (2, 4.0), (3, 8.0), (4, 10.0), (9, 10.0)]:
        for _ in range(50):
            pause = backoff(attempt, first=2.0, cap=10.0, uniform=draws.uniform)
            assert ceiling / 2 <= pause <= ceiling


def test_the_backoffs_of_jobs_that_failed_together_spread_out() -> None:
    pauses = {backoff(3, first=2.0, cap=30.0, uniform=random.Random(seed).uniform) for seed in range(20)}

    assert len(pauses) == 20


@pytest.mark.parametrize(("asked", "pause"), [(None, 8.0), (0.0, 0.0), (3.5, 3.5)])
def test_the_apis_pause_wins_when_it_names_one(asked: float | None, pause: float) -> None:
    assert asked_or(asked, 8.0) == pause


@pytest.mark.parametrize(
    ("rate_limit", "interval"),
    [
        (RateLimit(), 0.0),  # the API says nothing: no constraint
        (RateLimit(remaining=110, reset_seconds=600.0), 6.0),  # 100 usable reads over 10 minutes
        (RateLimit(remaining=5, reset_seconds=600.0), 600.0),  # within the reserve: one read at the reset
        (RateLimit(remaining=110), 0.0),
    ],
)
def test_the_rate_budget_lasts_until_the_window_resets(rate_limit: RateLimit, interval: float) -> None:
    assert budget_interval(rate_limit, reserve=10) == interval
