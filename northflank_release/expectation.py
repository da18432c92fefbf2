"""When a run is likely to end, from the flow's recent successful runs, refined as its nodes finish.

Times are seconds from the run's creation, read from the API's own timestamps, so the API's clock and ours
never need to agree. A past run counts when it succeeded and says when it was created (or started) and
when it concluded: fields the runs list documents (the SDK's ListReleaseFlowRunsResponseRun), so one list
read gives the durations. Nodes are not in the list: only a run read on its own (GET) shows them, so node
timings come from runs the action actually read, the followed run's own reads and at most one read of the
latest success (`with_nodes`). For each node of that past run that ended, it gives how long the run went on
after that node: once the same node (same place and ref) ends in the run being followed, the end is
expected that long after it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from northflank_release.runs import flow_nodes, run_state, unix_seconds

MAX_HISTORY = 10  # the most recent successful runs: the flow may have changed since older ones
LIST_PER_PAGE = 20  # one page of the runs list, enough to find MAX_HISTORY successes among failures
MIN_WINDOW = 5.0  # seconds either side of the expected end polled closely, however regular the history
# A read of the latest success (its nodes) is worth its one request when the run is expected to take this long.
NODES_WORTH_A_READ = 60.0


@dataclass(frozen=True)
class PastRun:
    duration: float  # from creation to conclusion
    left_after: dict[tuple[int, str], float]  # node (order, ref) -> seconds from its end to the run's end
    id: str = ""


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

    @property
    def latest_id(self) -> str:
        """The id of the most recent success, whose nodes one read may add (`with_nodes`)."""
        return self.history[0].id if self.history else ""

    def worth_reading_nodes(self) -> bool:
        return bool(self.latest_id) and not self.history[0].left_after and self.duration >= NODES_WORTH_A_READ

    def with_nodes(self, run: dict[str, Any] | None) -> Expectation:
        """The same history, the latest success's node timings taken from `run`, its own read (GET)."""
        if not self.history or not isinstance(run, dict) or run.get("id") != self.latest_id:
            return self
        read = _past_runs([run], exclude="")
        if not read:
            return self
        latest = PastRun(self.history[0].duration, read[0].left_after, self.latest_id)
        return Expectation((latest, *self.history[1:]))

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
    """The expectation from one page of the runs list (any order); the run being followed is left out. Listed
    runs carry no nodes; a list that does (an API kinder than documented) is not trusted for them either."""
    listed = [{key: value for key, value in run.items() if key != "spec"} for run in runs]
    return Expectation(tuple(_past_runs(listed, exclude)))


def _past_runs(runs: list[dict[str, Any]], exclude: str) -> list[PastRun]:
    """The successful runs, newest first, at most MAX_HISTORY."""
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
        past.append((concluded, PastRun(concluded - created, left_after, str(run.get("id") or ""))))
    past.sort(key=lambda item: item[0], reverse=True)
    return [run for _moment, run in past[:MAX_HISTORY]]


def _created(run: dict[str, Any] | None) -> float | None:
    if not isinstance(run, dict):
        return None
    return unix_seconds(run.get("createdAt")) or unix_seconds(run.get("startedAt"))
