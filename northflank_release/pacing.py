"""The one pacing rule for every loop that waits between requests: the trigger's resends, the lookup's walks and
failed reads, the wait's polls, its pauses through an outage and its rate-limited reads.

A pause grows by a factor up to a cap (`grown`, or `backoff` for the n-th try), is spread by jitter where many
jobs may have failed together, gives way to the pause the API asked for (Retry-After, or the rate window's
reset: api/client.RateLimit reads both through numbers.py), and never spends the rate budget faster than
it lasts (`budget_interval`)."""

from __future__ import annotations

import random
from collections.abc import Callable

from northflank_release.api.client import RateLimit


def grown(pause: float, *, cap: float, factor: float = 2.0, floor: float = 0.0) -> float:
    """The next pause after `pause` (taken as at least `floor`): `factor` times longer, at most `cap`."""
    return min(max(pause, floor) * factor, cap)


def backoff(
    attempt: int, *, first: float, cap: float, uniform: Callable[[float, float], float] = random.uniform
) -> float:
    """The pause after the `attempt`-th try (1 for the first): `first`, doubled each try up to `cap`, then
    jittered down to half of it, which spreads the retries of many jobs that failed together."""
    ceiling = min(cap, first * 2 ** (attempt - 1))
    return uniform(ceiling / 2, ceiling)


def asked_or(asked: float | None, otherwise: float) -> float:
    """The pause the API asked for, when it asked; else our own."""
    return otherwise if asked is None else asked


def budget_interval(rate_limit: RateLimit, reserve: int) -> float:
    """The interval at which the requests left (less `reserve`, kept for other jobs sharing the token and for an
    abort) last until the rate window resets; 0 when the API does not say."""
    if rate_limit.remaining is None or rate_limit.reset_seconds is None:
        return 0.0
    usable = max(rate_limit.remaining - reserve, 1)
    return rate_limit.reset_seconds / usable
