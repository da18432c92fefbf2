"""The one place a number from outside (an answer's header or body) becomes a number the action acts on.

A header or a JSON body can say `inf`, `nan`, `1e400` (a float overflowing to inf), `-3` or a 5,000-digit
integer. Each of those crashed something once: `int(inf)` raises OverflowError, `round(inf)` too, a sleep of
1e300 seconds never ends. So every number that drives a sleep, a count or a format goes through `bounded`
first: not a finite number, or below `low`, is None (unknown, as if the header were absent); above `high`
is `high`. Callers decide what unknown means; none of them sees a number it cannot use.
"""

from __future__ import annotations

import math
from typing import Any

# Longer than any wait the action may take (a job lasts at most 6 hours), so the cap changes no real answer:
# a pause above it is still "longer than the time left", and only stops being a number Python cannot use.
MAX_SECONDS = 7 * 24 * 3600.0
MAX_COUNT = 10**9  # requests in a rate-limit window, runs in a list: far above any real figure
_MAX_TEXT = 40  # characters of a number in text: a 5,000-digit header is no count


def bounded(value: Any, low: float, high: float) -> float | None:
    """`value` (a number, or text holding one) as a finite float in [low, high]; None when it is not a finite
    number or is below `low`. Booleans are not numbers here (JSON true is not 1)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > _MAX_TEXT:
            return None
        try:
            value = float(text)
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    try:
        number = float(value)  # an int too large for a float raises OverflowError
    except OverflowError:
        return high if value > 0 else None
    if not math.isfinite(number) or number < low:
        return None
    return min(number, high)


def seconds(value: Any, high: float = MAX_SECONDS) -> float | None:
    """A duration or a pause: finite, not negative, at most `high`."""
    return bounded(value, 0.0, high)


def count(value: Any, high: int = MAX_COUNT) -> int | None:
    """A count: a finite whole number, not negative, at most `high` (a fraction is rounded down)."""
    number = bounded(value, 0.0, float(high))
    return None if number is None else int(number)


def duration_or_zero(value: float) -> float:
    """A duration about to be shown: what the action measured itself, made safe to format whatever it is."""
    number = seconds(value)
    return 0.0 if number is None else number
