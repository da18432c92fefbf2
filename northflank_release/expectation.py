"""When a run is likely to end, from the flow's recent successful runs, refined as its nodes finish.

Times are seconds from the run's creation, read from the API's own timestamps, so the API's clock and ours
never need to agree. A past run counts when it succeeded and says when it was created (or started) and
when it concluded. For each node of a past run that ended, it also gives how long the run went on after
that node: once the same node (same place and ref) ends in the run being followed, the end is expected
that long after it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from northflank_release.runs import flow_nodes, run_state, unix_seconds

MAX_HISTORY = 10  # the most recent successful runs: the flow may have changed since older ones
LIST_PER_PAGE = 20  # one page of the runs list, enough to find MAX_HISTORY successes among failures
MIN_WINDOW = 5.0  # seconds either side of the expected end polled closely, however regular the history


@dataclass(frozen=True)
class PastRun:
    duration: float  # from creation to conclusion
    left_after: dict[tuple[int, str], float]  # node (order, ref) -> seconds from its end to the run's end


@dataclass(frozen=True)
class Expectation:
    """The flow's recent successful runs; empty when it has none (then nothing is expected)."""

    history: tuple[PastRun, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.history)

    @property
    def duration(self) -> float:
        return statistics.median(run.duration for run in self.history)

    @property
    def window(self) -> float:
        """How far either side of the expected end the end may fall: the past runs' median deviation from
        their median (a robust spread), doubled, and never under MIN_WINDOW."""
        middle = self.duration
        deviation = statistics.median(abs(run.duration - middle) for run in self.history)
        return max(MIN_WINDOW, 2.0 * deviation)

    def end(self, run: dict[str, Any] | None) -> float:
        """Seconds from `run`'s creation to its expected end: the median duration, or, once nodes the history
        knows have ended, the latest such node's end plus the median of how long past runs went on after it."""
        created = _created(run)
        expected = self.duration
        if created is None:
            return expected
        latest: float | None = None
        for node in flow_nodes(run):
            key = (node.order, node.ref)
            if node.end is None or node.is_workflow:
                continue
            after = [past.left_after[key] for past in self.history if key in past.left_after]
            if not after:
                continue
            moment = node.end - created
            if latest is None or moment > latest:
                latest = moment
                expected = moment + statistics.median(after)
        return expected


def expectation_from(runs: list[dict[str, Any]], exclude: str = "") -> Expectation:
    """The expectation from one page of the runs list (any order); the run being followed is left out."""
    past: list[tuple[float, PastRun]] = []
    for run in runs:
        if run.get("id") == exclude or run_state(run).status != "success" or not run_state(run).concluded:
            continue
        created = _created(run)
        concluded = unix_seconds(run.get("concludedAt"))
        if created is None or concluded is None or concluded < created:
            continue
        left_after = {
            (node.order, node.ref): concluded - node.end
            for node in flow_nodes(run)
            if node.end is not None and not node.is_workflow and node.end <= concluded
        }
        past.append((concluded, PastRun(concluded - created, left_after)))
    past.sort(key=lambda item: item[0], reverse=True)
    return Expectation(tuple(run for _moment, run in past[:MAX_HISTORY]))


def _created(run: dict[str, Any] | None) -> float | None:
    if not isinstance(run, dict):
        return None
    return unix_seconds(run.get("createdAt")) or unix_seconds(run.get("startedAt"))
