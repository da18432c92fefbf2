"""Find the run a trigger may have created, in the runs list, without guessing and without reading it all.

A run is this trigger's when its name is the one sent and its description carries the trigger's random
marker (a derived description ends with one): that is proof. A description the user gave is not unique
(matrix legs and re-runs share it), so a run with that name and description, created after the trigger
started (on the API's clock), and not given other arguments, is only a candidate: the trigger refuses to
adopt it.

The list does not say which arguments a run was given (the SDK's ListReleaseFlowRunsResponseRun has no
`arguments`), so a candidate is read on its own (GET, which does carry them: `Candidates`), each at most once
and at most MAX_CANDIDATE_READS per trigger, within the trigger's budget. A run given other arguments (another
matrix leg's) is ruled out; one given the same is still only a candidate, never adopted: two jobs may send the
same request, and a run the action cannot prove its own is never reported as created.

The list's order is not documented. The walk stops at the first page that holds only runs older than the
trigger, once the pages so far were newest first; otherwise it goes on, up to MAX_PAGES, and a walk cut
short by that cap proves nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal

import requests

from northflank_release.api.client import ApiError, NorthflankClient, UnexpectedAnswer, run_from
from northflank_release.api.target import Target
from northflank_release.runs import is_run_id, unix_seconds

PER_PAGE = 100  # the API's maximum
MAX_PAGES = 10  # per walk: 1,000 runs. An oldest-first history longer than that cannot be checked.
# The API's clock and ours differ by the Date header's one-second resolution plus transit.
CLOCK_SLACK_SECONDS = 2.0
# Candidates read one by one per trigger: a matrix of this many legs sharing a description is told apart.
MAX_CANDIDATE_READS = 10


@dataclass(frozen=True)
class Identity:
    """What a trigger sent, and when it started by our wall clock: how a walk knows the trigger's run."""

    name: str
    description: str
    arguments: dict[str, Any]
    started_wall: float
    unique: bool  # the description carries the trigger's random marker


@dataclass
class Walk:
    """What one walk through the list found."""

    found: dict[str, Any] | None = None  # the run, when the marker proves it is ours
    candidates: list[dict[str, Any]] = field(default_factory=list)  # matches that cannot be proven ours
    complete: bool = True  # False when the cap stopped the walk before the list could rule anything out
    pages: int = 0


def walk(
    client: NorthflankClient,
    target: Target,
    identity: Identity,
    wall_clock: Callable[[], float],
    max_pages: int,
    time_left: Callable[[], float] | None = None,
    counted: Callable[[], None] = lambda: None,
) -> Walk:
    """Read pages until the run is found, no later page can hold it, or `max_pages` (at most MAX_PAGES) are
    read; API errors propagate to the caller. `time_left` is the caller's budget, which caps each read;
    `counted` is called before each list request, sent or not, so the caller keeps its share of the rate limit."""
    result = Walk()
    params = {"per_page": str(PER_PAGE)}
    previous_oldest: float | None = None
    newest_first = True
    while True:
        counted()
        page = client.list_page(target, params, within=time_left() if time_left else None)
        result.pages += 1
        # Compare in the API's clock: shift our start by the skew its Date header shows. Our clock is read
        # after the answer arrived, so a slow answer can only make the skew look smaller (Date is when the
        # API answered, rounded down), which moves the threshold earlier: the safe direction.
        server_time = page.answer.server_time
        skew = (server_time - wall_clock()) if server_time is not None else 0.0
        threshold = identity.started_wall + skew - CLOCK_SLACK_SECONDS
        for run in page.runs:
            verdict = _judge(run, identity, threshold)
            if verdict == "ours":
                result.found = run
                return result
            if verdict == "candidate":
                result.candidates.append(run)
        if page.next_params is None:
            return result
        created = [unix_seconds(run.get("createdAt")) for run in page.runs]
        known = [moment for moment in created if moment is not None]
        in_order = (
            len(known) == len(created)
            and bool(known)
            and all(newer >= older for newer, older in pairwise(known))
            and (previous_oldest is None or previous_oldest >= known[0])
        )
        newest_first = newest_first and in_order
        if newest_first and known[-1] < threshold:
            return result  # newest first, and this page is already older than the trigger
        if result.pages >= max_pages:
            result.complete = False
            return result
        previous_oldest = known[-1] if known else None
        params = page.next_params


def _judge(run: dict[str, Any], identity: Identity, threshold: float) -> Literal["ours", "candidate", "other"]:
    """'ours', 'candidate' (it matches, but that proves nothing), or 'other'."""
    if run.get("name") != identity.name or not is_run_id(run.get("id")):
        return "other"
    description = run.get("description")
    if identity.unique and description == identity.description:
        return "ours"  # the random marker: nothing else can prove more, and nothing may overrule it
    if description is not None and description != identity.description:
        return "other"
    created = unix_seconds(run.get("createdAt"))
    if created is not None and created < threshold:
        return "other"  # an older namesake
    if _other_arguments(run.get("arguments"), identity.arguments):
        return "other"  # another job's (a matrix leg's) run
    return "candidate"


def _other_arguments(listed: Any, sent: dict[str, Any]) -> bool:
    """Whether the run was surely given other arguments. The API may store values as text or leave out
    arguments its template does not declare, so only a value present and different as text counts."""
    if not isinstance(listed, dict):
        return False
    return any(key in listed and _as_text(listed[key]) != _as_text(value) for key, value in sent.items())


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass
class Candidates:
    """Reads candidate runs (GET) to rule out those given other arguments: each run at most once (its arguments
    do not change), at most MAX_CANDIDATE_READS in all, each read capped by `time_left`. A read that fails, or a
    run whose arguments the answer leaves out, rules nothing out."""

    client: NorthflankClient
    target: Target
    time_left: Callable[[], float]
    reads: int = 0
    ruled_out: dict[str, bool] = field(default_factory=dict)  # run id -> given other arguments

    def narrow(self, walk: Walk, identity: Identity) -> Walk:
        """The walk without the candidates a read of their own shows were given other arguments."""
        if not walk.candidates:
            return walk
        kept = [run for run in walk.candidates if not self._other(run, identity)]
        return Walk(found=walk.found, candidates=kept, complete=walk.complete, pages=walk.pages)

    def _other(self, run: dict[str, Any], identity: Identity) -> bool:
        run_id = str(run.get("id"))
        if run_id in self.ruled_out:
            return self.ruled_out[run_id]
        if self.reads >= MAX_CANDIDATE_READS or self.time_left() <= 0:
            return False
        self.reads += 1
        try:
            answer = self.client.get_run(self.target, run_id, within=self.time_left())
        except (ApiError, UnexpectedAnswer, requests.RequestException):
            return False  # not remembered: a later walk may read it again, within the cap
        read = run_from(answer.data) or {}
        self.ruled_out[run_id] = _other_arguments(read.get("arguments"), identity.arguments)
        return self.ruled_out[run_id]
