"""A local Northflank API stand-in: a real HTTP server on 127.0.0.1 for tests and demos.

It keeps release-flow runs in memory, checks the bearer token, validates trigger bodies
against the project's schema, moves runs through statuses as an (injectable) clock
advances, answers with Northflank's envelopes and rate-limit headers, and can be told to
misbehave (see `Fault`). Every request is recorded so tests can assert what was sent.

Its answers carry what the official SDK's generated types promise (`northflank` on PyPI, `_types.py`), and no
more: a listed run has only the fields of `ListReleaseFlowRunsResponseRun` (no `arguments`, no `spec`), a run
read on its own (and the trigger's and abort's answer) those of `AbortReleaseFlowRunResponse`, and an optional
field without a value is left out, never null. tests/repo/test_sdk_types.py holds them to the types.
`rich_list = True` is the old, kinder list (every run in full) for the few tests that need it, by that name.

Run it for a demo with `python -m testing.northflank_standin [--port N] [--token T]`.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hmac
import itertools
import json
import os
import re
import secrets
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Self, cast
from urllib.parse import parse_qsl, unquote, urlsplit

import jsonschema.validators
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.protocols import Validator

API_TOKEN_DEFAULT = "nf-test-token-DO-NOT-LEAK-7f3a9c"

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "release-flow-run-request.schema.json"

STAGES = frozenset({"development", "staging", "production"})
# How much recent successful runs of one flow differ in duration (factors of a typical one): a few percent,
# for `seed_runs(durations=...)` in the polling tests and the benchmark.
HISTORY_SPREAD = (0.96, 1.03, 0.99, 1.05, 0.97, 1.01, 1.02, 0.98)
TERMINAL_STATUSES = frozenset({"success", "failure", "aborted"})
# Concluded without an outcome: a queued run that a newer one replaced under the `latest` policy.
CONCLUDED_STATUSES = TERMINAL_STATUSES | {"skipped"}
# The fields of the SDK's ListReleaseFlowRunsResponseRun: all a listed run carries.
LIST_FIELDS = ("id", "name", "description", "status", "concluded", "createdAt", "updatedAt", "startedAt", "concludedAt")
CONCURRENCY_POLICIES = ("allow", "queue", "forbid", "latest", "replace")
API_VERSION = "v1.2"  # the SDK types' `apiVersion` literal
NODE_REFS = ("build", "deploy")
# The node status values the API documents ("Read, list, abort runs" in northflank-api.md).
NODE_STATUSES = (
    "waiting",
    "invalid",
    "failure",
    "retrying",
    "success",
    "aborted",
    "aborting",
    "skipped",
    "async_wait",
    "approval_wait",
    "unknown",
)
NODE_TERMINAL = frozenset({"success", "failure", "aborted", "skipped", "invalid"})
WORKFLOW_TYPES = ("sequential", "parallel")
ROUTES = ("trigger", "get", "list", "abort", "template")
FAULT_KINDS = frozenset(
    {"status", "html", "drop", "delay", "empty", "not_json", "no_id", "truncated", "shape", "garble"}
    | {"endless", "huge", "drip"}
)
# Kinds that answer as if the request had been processed, so the run always exists.
_PROCESSING_KINDS = frozenset(
    {"delay", "empty", "not_json", "no_id", "truncated", "shape", "garble", "endless", "huge", "drip"}
)
HUGE_ANSWER_BYTES = 200 * 1024 * 1024

PER_PAGE_DEFAULT = 50
PER_PAGE_MAX = 100

_HTML_BODY = b"<html><body><h1>502 Bad Gateway</h1></body></html>"

_PATH_RE = re.compile(
    r"^/v1(?:/teams/(?P<team>[^/]+))?/projects/(?P<project>[^/]+)"
    r"/pipelines/(?P<pipeline>[^/]+)/release-flows/(?P<stage>[^/]+)/runs"
    r"(?:/(?P<run>[^/]+)(?P<abort>/abort)?)?$"
)
# The release flow itself (GET: its template), with the same named groups as _PATH_RE but no runs.
_TEMPLATE_RE = re.compile(
    r"^/v1(?:/teams/(?P<team>[^/]+))?/projects/(?P<project>[^/]+)"
    r"/pipelines/(?P<pipeline>[^/]+)/release-flows/(?P<stage>[^/]+)$"
)


# --- ECMAScript regex semantics --------------------------------------------------
# The API's patterns are JavaScript regexes tested against the whole value. Python's
# `re.search` with `$` also accepts a trailing newline, and Python's `\s`, `\d`, `\w`
# are Unicode-wide, so the stand-in translates the classes and full-matches instead.

_JS_CLASS_CONTENT = {
    "s": r"\t\n\x0b\x0c\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff",
    "d": "0-9",
    "w": "A-Za-z0-9_",
}


def ecma_to_python(pattern: str) -> str:
    """Rewrite a JavaScript pattern's `\\s`, `\\d`, `\\w` into their JavaScript sets."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            content = _JS_CLASS_CONTENT.get(escaped)
            if content is None:
                out.append(pattern[i : i + 2])
            else:
                out.append(content if in_class else f"[{content}]")
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        i += 1
    return "".join(out)


@functools.cache
def _compiled_ecma(pattern: str) -> re.Pattern[str]:
    return re.compile(ecma_to_python(pattern))


def ecma_fullmatch(pattern: str, value: str) -> bool:
    """True when the JavaScript `pattern` accepts `value` (the whole of it)."""
    return _compiled_ecma(pattern).fullmatch(value) is not None


def _utf16_len(value: str) -> int:
    # JavaScript string lengths count UTF-16 code units, not code points.
    return len(value.encode("utf-16-le")) // 2


def _pattern(validator: Any, pattern: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if isinstance(instance, str) and not ecma_fullmatch(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _min_length(validator: Any, limit: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if isinstance(instance, str) and _utf16_len(instance) < limit:
        yield ValidationError(f"{instance!r} is shorter than {limit} characters")


def _max_length(validator: Any, limit: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if isinstance(instance, str) and _utf16_len(instance) > limit:
        yield ValidationError(f"{instance!r} is longer than {limit} characters")


# The stubs leave `extend` untyped; the cast keeps `mypy --strict` honest elsewhere.
_extend = cast(Callable[..., type[Validator]], jsonschema.validators.extend)
EcmaDraft202012Validator = _extend(
    Draft202012Validator,
    {"pattern": _pattern, "minLength": _min_length, "maxLength": _max_length},
)


@functools.cache
def _request_validator() -> Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    EcmaDraft202012Validator.check_schema(schema)
    return EcmaDraft202012Validator(schema)


# --- Public data types -------------------------------------------------------------


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body_text: str
    body_json: Any | None  # parsed when the body is JSON, else None
    time: float  # time.monotonic() at arrival
    at: float = 0.0  # the stand-in's clock at arrival (a simulated clock in simulated tests)


@dataclass
class Fault:
    """One injected misbehaviour, applied to the next `times` requests that match method + route (and whose
    body contains `match`, when given: how a test aims at one matrix leg of several).

    "truncated" cuts the real JSON answer in half; "shape" answers 200 with JSON of another shape; "html"
    with status=200 is a sign-in page or captive portal answering in the API's place. Hostile answers to a
    processed request: "endless" never ends (chunked, as fast as the client reads), "huge" is the real
    answer padded to 200 MB of valid JSON, "drip" sends the real answer one byte every `delay` seconds.

    A matching fault decides the answer whatever the request held. For "trigger", the
    run is created (after the usual checks) when `create_first` is set or the kind is
    "delay", "empty", "not_json" or "no_id"; "status", "html" and "drop" without
    `create_first` stand for a proxy failing before the API saw the request, so they
    create nothing and do not count against the rate limit.
    """

    method: str
    route: str  # "trigger", "get", "list" or "abort"
    kind: str  # "status", "html", "drop", "delay", "empty", "not_json", "no_id"
    status: int = 500
    times: int = 1
    create_first: bool = False
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "injected fault"
    match: str = ""
    echo: bool = False  # the answer starts with the request's Authorization header, as some proxies' pages do

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        if self.route not in ROUTES:
            raise ValueError(f"Fault.route must be one of {ROUTES}, not {self.route!r}")
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"Fault.kind must be one of {sorted(FAULT_KINDS)}, not {self.kind!r}")
        if self.kind == "html" and self.status == 500:
            # 500 is the dataclass default; an HTML error page means a gateway.
            self.status = 502
        if self.times < 1:
            raise ValueError("Fault.times must be at least 1")


OUTAGE_MODES = ("503", "reset", "hang")


@dataclass
class Outage:
    """The API away for a while: every request, on every route, fails in one `mode` while the stand-in's
    clock is inside [start, start + seconds). Nothing is processed, created or counted against the rate limit.

    - "503": the gateway in front answers 503 in plain text, as Envoy does for an upstream it cannot reach;
    - "reset": the connection is reset (RST) once the request is read, with no answer;
    - "hang": the connection stays open without an answer for `hang_seconds` of real time, then closes.

    `start` None means "from the first trigger request", which fails too.
    """

    mode: str
    seconds: float
    start: float | None = None
    hang_seconds: float = 35.0

    def __post_init__(self) -> None:
        if self.mode not in OUTAGE_MODES:
            raise ValueError(f"Outage.mode must be one of {OUTAGE_MODES}, not {self.mode!r}")

    def covers(self, now: float, route: str | None) -> bool:
        if self.start is None:
            if route != "trigger":
                return False
            self.start = now
        return self.start <= now < self.start + self.seconds


def _default_steps() -> list[tuple[float, str]]:
    return [(0.0, "running"), (0.0, "success")]


@dataclass
class FlowStep:
    """A node of a test's own release flow (`RunPlan.flow`), served as the documented node shape.

    A leaf's turn comes when the steps before it in a sequential Workflow have ended (at once in a parallel
    one); it is then `async_wait` for `duration` seconds and ends with `status`. A non-terminal `status`
    (`approval_wait`, `retrying`, ...) is held from its turn on and never ends, so later steps never start;
    `skipped` holds no times. A node with `steps` is a Workflow node, its status derived from its steps.
    Refs are served as given, whatever they hold: hostile names are the point.
    """

    ref: str
    kind: str = "StartBuild"
    status: str = "success"
    duration: float = 10.0
    error: str | None = None
    error_code: str = "NODE_FAILED"
    retries: int = 0
    steps: list[FlowStep] | None = None
    type: str = "sequential"

    def __post_init__(self) -> None:
        if self.steps is not None:
            self.kind = "Workflow"
            if self.type not in WORKFLOW_TYPES:
                raise ValueError(f"FlowStep.type must be one of {WORKFLOW_TYPES}, not {self.type!r}")


def workflow(ref: str, type: str, *steps: FlowStep) -> FlowStep:
    return FlowStep(ref, steps=list(steps), type=type)


@dataclass
class _Scheduled:
    """A flow node with its turn and end, seconds after the run's creation (None: never)."""

    node: FlowStep
    turn: float | None
    end: float | None
    children: list[_Scheduled]


def _schedule(node: FlowStep, turn: float | None) -> _Scheduled:
    if node.steps is None:
        if turn is None or node.status not in NODE_TERMINAL:
            return _Scheduled(node, turn, None, [])
        return _Scheduled(node, turn, turn if node.status == "skipped" else turn + node.duration, [])
    children: list[_Scheduled] = []
    if node.type == "parallel":
        children = [_schedule(step, turn) for step in node.steps]
        ends = [child.end for child in children]
        end = max((e for e in ends if e is not None), default=turn) if None not in ends else None
        return _Scheduled(node, turn, end, children)
    at = turn
    for step in node.steps:
        child = _schedule(step, at)
        children.append(child)
        at = child.end
    return _Scheduled(node, turn, at, children)


def flow_outcome(flow: FlowStep) -> tuple[float | None, str]:
    """When the flow ends (None: never) and the run status it ends with."""
    scheduled = _schedule(flow, 0.0)
    statuses = _leaf_statuses(flow)
    outcome = "failure" if statuses & {"failure", "invalid"} else "aborted" if "aborted" in statuses else "success"
    return scheduled.end, outcome


def _leaf_statuses(node: FlowStep) -> set[str]:
    if node.steps is None:
        return {node.status}
    return set().union(*(_leaf_statuses(step) for step in node.steps)) if node.steps else set()


@dataclass
class RunPlan:
    """How a new run moves through statuses: (seconds after creation, status) steps; the last must be terminal."""

    steps: list[tuple[float, str]] = field(default_factory=_default_steps)
    failing_node: str | None = None
    error_message: str = "Build failed: exit code 1"
    flow: FlowStep | None = None  # a flow of the test's own; `RunPlan.following(flow)` derives the steps

    @classmethod
    def following(cls, flow: FlowStep) -> RunPlan:
        """A plan whose run status follows the flow: running from the start, concluded when the flow ends."""
        end, outcome = flow_outcome(flow)
        # A flow that never ends (a node held in approval_wait) outlasts any test.
        return cls(steps=[(0.0, "running"), (end if end is not None else 10 * 365 * 86400.0, outcome)], flow=flow)

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("RunPlan.steps must not be empty")
        last = self.steps[-1][1]
        if last not in TERMINAL_STATUSES:
            raise ValueError(
                f"RunPlan's last step must be one of {sorted(TERMINAL_STATUSES)}, "
                f"not {last!r} (for a run that outlasts a test, give it a distant "
                "final step such as (3600.0, 'success'))"
            )
        if self.failing_node is not None and self.failing_node not in NODE_REFS:
            raise ValueError(f"RunPlan.failing_node must be one of {NODE_REFS}")


# --- Internal state ----------------------------------------------------------------


@dataclass
class _Run:
    seq: int
    id: str
    name: str
    description: str
    arguments: dict[str, Any]
    overrides: dict[str, Any]
    project: str
    pipeline: str
    stage: str
    plan: RunPlan
    created: float  # clock value
    forced: list[tuple[float, str]] = field(default_factory=list)
    given_description: bool = True  # the API leaves `description` out of a run created without one
    # Concurrency policy `queue` or `latest`: the run is `queued` until this one concludes, then follows its plan.
    ahead: _Run | None = None

    def origin(self) -> float | None:
        """When the plan starts: at creation, or when the run ahead concluded (None: still queued)."""
        if self.ahead is None:
            return self.created
        return self.ahead.concluded_at()

    def concluded_at(self) -> float | None:
        ends = [at for at, status in self.timeline() if status in CONCLUDED_STATUSES]
        return min(ends) if ends else None

    def timeline(self) -> list[tuple[float, str]]:
        """(clock value, status) entries: plan steps up to the first forced status."""
        cutoff = self.forced[0][0] if self.forced else float("inf")
        origin = self.origin()
        planned: list[tuple[float, str]] = [(self.created, "queued")] if self.ahead is not None else []
        if origin is not None:
            planned += [(origin + offset, status) for offset, status in self.plan.steps]
        return [(at, status) for at, status in planned if at < cutoff] + self.forced

    def state_at(self, now: float) -> tuple[str, float, float | None]:
        """Status, time of its last change, and when the run left `pending` (if it did)."""
        status, changed, started = "pending", self.created, None
        for at, step_status in self.timeline():
            if at > now:
                break
            status, changed = step_status, at
            if started is None and step_status not in {"pending", "queued", "skipped"}:
                started = at
        return status, changed, started

    def flow(self) -> tuple[str, str, str]:
        return (self.project, self.pipeline, self.stage)


class _Answer:
    """An HTTP answer that has been decided but not yet written."""

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type if body else None
        self.headers: dict[str, str] = dict(headers or {})
        self.drop = False
        self.reset = False  # with drop: an RST instead of an orderly close
        self.hold = 0.0  # with drop: seconds the connection stays open, unanswered, before it closes
        self.raw: bytes | None = None  # written to the socket itself, under any TLS: a corrupted stream
        self.stream: Iterator[bytes] | None = None  # the body, written piece by piece; chunked when no length
        self.length: int | None = None
        self.pause = 0.0  # between pieces of a stream
        self.delay = 0.0

    @classmethod
    def json(cls, status: int, payload: Any) -> _Answer:
        return cls(status, json.dumps(payload).encode("utf-8"))

    @classmethod
    def error(cls, status: int, message: str, details: Mapping[str, Any] | None = None) -> _Answer:
        error: dict[str, Any] = {
            "status": status,
            "message": message,
            "id": secrets.token_hex(8),
        }
        if details is not None:
            error["details"] = dict(details)
        return cls.json(status, {"error": error})


def _hostile(fault: Fault, processed: _Answer) -> _Answer:
    """The real answer made endless, huge or dripping: valid JSON as far as it goes."""
    answer = _Answer(processed.status, b"x")  # a body, so the content type stays
    answer.headers = processed.headers
    head, tail = b'{"padding": "', b'", ' + processed.body[1:]
    block = b"x" * 65536
    if fault.kind == "drip":
        answer.length, answer.pause = len(processed.body), fault.delay
        answer.stream = (processed.body[index : index + 1] for index in range(len(processed.body)))
    elif fault.kind == "huge":
        blocks = HUGE_ANSWER_BYTES // len(block)
        answer.length = len(head) + blocks * len(block) + len(tail)
        answer.stream = itertools.chain([head], itertools.repeat(block, blocks), [tail])
    else:
        answer.stream = itertools.chain([head], itertools.repeat(block))
    return answer


def _format_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def route_of(method: str, path: str) -> str | None:
    """The `Fault.route` name of a request, or None when it is no known route."""
    if _TEMPLATE_RE.match(urlsplit(path).path):
        return "template" if method.upper() == "GET" else None
    match = _PATH_RE.match(urlsplit(path).path)
    if match is None:
        return None
    method = method.upper()
    if match["run"] is None:
        return {"POST": "trigger", "GET": "list"}.get(method)
    if match["abort"]:
        return "abort" if method == "POST" else None
    return "get" if method == "GET" else None


# --- The server --------------------------------------------------------------------


class NorthflankStandin:
    """An in-memory Northflank release-flow API served over real HTTP on 127.0.0.1."""

    def __init__(
        self,
        token: str = API_TOKEN_DEFAULT,
        *,
        clock: Callable[[], float] = time.monotonic,
        port: int = 0,
    ) -> None:
        self.token = token
        self.clock = clock
        self.port = port
        self.requests: list[RecordedRequest] = []
        self.plan = RunPlan()
        self.faults: list[Fault] = []
        self.outage: Outage | None = None
        self.list_order = "newest_first"
        self.concurrency = "allow"  # the flow's concurrency policy, one of CONCURRENCY_POLICIES
        self.paused = False  # the flow's `paused` option, shown in each run's `options`
        self.rich_list = False  # list every run in full (undocumented): only for tests that need it
        self.ratelimit_limit = 1000
        self.ratelimit_remaining: int | None = None
        self.ratelimit_reset = 3600
        self.omit_fields: set[str] = set()  # run fields left out of every answer (an API that omits them)
        self.connections = 0  # TCP connections accepted, TLS handshakes that failed included
        self.clock_offset = 0.0  # seconds the API's clock is ahead of ours (see shift_clock)
        # How the API keeps a run's arguments; a test may make it rewrite them (values as text, say).
        self.store_arguments: Callable[[dict[str, Any]], dict[str, Any]] = lambda arguments: arguments
        self.new_run_id: Callable[[], str] = lambda: str(uuid.uuid4())  # a hostile API's ids, for a test
        self.tls: tuple[Path, Path] | None = None  # (certificate chain, key): serve https with them
        self.known_projects: set[str] | None = None
        self.known_pipelines: set[str] | None = None
        self.team_id: str | None = None
        # The release flow's template, served for every flow (GET .../release-flows/{stage}); None: no flow there.
        self.release_flow: dict[str, Any] | None = release_flow_template()
        self._lock = threading.Lock()
        self._runs: dict[str, _Run] = {}
        self._seq = 0
        self._ratelimit_used = 0
        # Pinning wall time to the clock once keeps timestamps consistent with a
        # clock that tests advance by hand.
        self._clock_origin = clock()
        self._wall_origin = datetime.now(UTC)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.stopping = threading.Event()  # wakes requests the stand-in holds (an outage's hang)
        _request_validator()  # fail at construction, not on the first request

    # -- lifecycle --

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("the stand-in is already running")
        self.stopping.clear()
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.standin = self
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            # The handshake runs in each handler thread (do_handshake_on_connect off), so a client that
            # refuses the certificate cannot stall the accept loop.
            server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            # stop() waits for the loop to notice, up to one interval: every test that starts a stand-in pays it.
            kwargs={"poll_interval": 0.005},
            name="northflank-standin",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        self.stopping.set()
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start() if self._server is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stand-in is not running: call start() first")
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    # -- test controls --

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def runs(self) -> list[dict[str, Any]]:
        with self._lock:
            now = self.clock()
            ordered = sorted(self._runs.values(), key=lambda run: run.seq)
            # A test's view, not an answer: the full run, and the flow it belongs to.
            return [
                {**self._render(run, now), "projectId": run.project, "pipelineId": run.pipeline, "stage": run.stage}
                for run in ordered
            ]

    def seed_runs(
        self,
        project: str,
        pipeline: str,
        stage: str,
        count: int,
        *,
        name_prefix: str = "Old run",
        concluded: bool = True,
        durations: Sequence[float] | None = None,
        status: str = "success",
    ) -> None:
        """`count` past runs of the flow, oldest first, each following `plan` as it is now. Without `durations`
        they start a minute apart and end (with `status`) after 30 s; with them, each takes its duration (in
        order, the last the newest), one after the other, the newest ending just before now."""
        if durations is not None and len(durations) != count:
            raise ValueError("seed_runs: give one duration per run")
        with self._lock:
            now = self.clock()
            if durations is None:
                placed = [(now - 60.0 * (count - index + 1), 30.0) for index in range(1, count + 1)]
            else:
                placed, end = [], now - 5.0
                for duration in reversed(durations):
                    placed.insert(0, (end - duration, duration))
                    end -= duration + 5.0
            for index, (created, duration) in enumerate(placed, start=1):
                run = self._new_run(
                    project,
                    pipeline,
                    stage,
                    {"name": f"{name_prefix} {index}"},
                    created,
                )
                run.forced.append((created, "running"))
                if concluded:
                    run.forced.append((created + duration, status))

    def rename_run(self, run_id: str, name: str, description: str) -> None:
        with self._lock:
            run = self._runs[run_id]
            run.name, run.description, run.given_description = name, description, True

    def set_status(self, run_id: str, status: str) -> None:
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                raise KeyError(f"no run with id {run_id!r}")
            run.forced.append((self.clock(), status))

    def requests_to(self, route: str, method: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            recorded = list(self.requests)
        return [
            request
            for request in recorded
            if route_of(request.method, request.path) == route and (method is None or request.method == method.upper())
        ]

    # -- request handling (called from handler threads) --

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _take_fault(self, method: str, route: str | None, body: str) -> Fault | None:
        with self._lock:
            for index, fault in enumerate(self.faults):
                if fault.method == method and fault.route == route and fault.match in body:
                    fault.times -= 1
                    if fault.times <= 0:
                        del self.faults[index]
                    return fault
        return None

    def _ratelimit_headers(self) -> dict[str, str]:
        if self.ratelimit_remaining is not None:
            remaining = self.ratelimit_remaining
        else:
            remaining = self.ratelimit_limit - self._ratelimit_used
        return {
            "x-ratelimit-limit": str(self.ratelimit_limit),
            "x-ratelimit-remaining": str(max(remaining, 0)),
            "x-ratelimit-reset": str(self.ratelimit_reset),
        }

    def handle(self, request: RecordedRequest, body: bytes) -> _Answer:
        """Decide the answer to one request; recording has already happened."""
        route = route_of(request.method, request.path)
        with self._lock:
            outage = self.outage if self.outage is not None and self.outage.covers(self.clock(), route) else None
        if outage is not None:
            return self._away(outage)
        fault = self._take_fault(request.method, route, request.body_text)
        if fault is None:
            answer = self._process(request, body, route)
        elif fault.kind == "delay" and not fault.create_first:
            # The request is processed only after the pause, as a slow API would.
            time.sleep(fault.delay)
            answer = self._process(request, body, route)
        elif fault.kind in _PROCESSING_KINDS or fault.create_first:
            answer = self._process(request, body, route)
            answer = self._misbehave(fault, answer)
        else:
            answer = self._misbehave(fault, None)
        if fault is not None and fault.echo and answer.body:
            # Sign-in pages and debugging proxies echo the request they got, Authorization header and all.
            echo = (
                "<html><body><p>Signed out. We got:</p>"
                f"<pre>Authorization: {request.headers.get('authorization', '')}</pre></body></html>"
            ).encode()
            answer.body = echo + answer.body
        if self.omit_fields and answer.status == 200 and fault is None:
            answer = _without_fields(answer, self.omit_fields)
        with self._lock:
            headers = self._ratelimit_headers()
        headers.update(answer.headers)
        answer.headers = headers
        if fault is not None:
            for name, value in fault.headers.items():
                # A fault's header replaces a standard one whatever its case.
                for existing in [h for h in answer.headers if h.lower() == name.lower()]:
                    del answer.headers[existing]
                answer.headers[name] = value
        return answer

    def _away(self, outage: Outage) -> _Answer:
        if outage.mode == "503":
            body = b"upstream connect error or disconnect/reset before headers. reset reason: connection failure"
            return _Answer(503, body, "text/plain", headers={"server": "envoy"})
        answer = _Answer(0)
        answer.drop = True
        answer.reset = outage.mode == "reset"
        answer.hold = outage.hang_seconds if outage.mode == "hang" else 0.0
        return answer

    def _misbehave(self, fault: Fault, processed: _Answer | None) -> _Answer:
        if fault.kind == "status":
            return _Answer.error(fault.status, fault.message)
        if fault.kind == "html":
            return _Answer(fault.status, _HTML_BODY, "text/html; charset=utf-8")
        if fault.kind == "drop":
            answer = _Answer(0)
            answer.drop = True
            return answer
        if fault.kind == "garble":
            # Processed, then an answer that bypasses TLS: to the client, a stream broken after its request.
            answer = _Answer(0)
            answer.raw = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"
            return answer
        if fault.kind == "delay":
            # Created already; only the answer is late, so a read timeout strands it.
            assert processed is not None
            processed.delay = fault.delay
            return processed
        if fault.kind in ("endless", "huge", "drip"):
            assert processed is not None
            return _hostile(fault, processed)
        if fault.kind == "empty":
            return _Answer(200)
        if fault.kind == "truncated":
            assert processed is not None
            return _Answer(200, processed.body[: len(processed.body) // 2])
        if fault.kind == "shape":
            return _Answer.json(200, {"result": "ok", "items": []})
        if fault.kind == "not_json":
            return _Answer(200, b"success", "text/plain; charset=utf-8")
        return _Answer.json(200, {"data": {}})  # "no_id"

    def _process(self, request: RecordedRequest, body: bytes, route: str | None) -> _Answer:
        match = _PATH_RE.match(request.path) or _TEMPLATE_RE.match(request.path)
        if route is None or match is None:
            return _Answer.error(404, "Not found")
        if not self._authorized(request.headers.get("authorization", "")):
            return _Answer.error(401, "Unauthorized")
        team = match["team"]
        if self.team_id is not None:
            if team is None:
                return _Answer.error(403, "This token is scoped to a team: use the team route")
            if team != self.team_id:
                return _Answer.error(403, "This token has no access to this team")
        limited = self._spend_ratelimit()
        if limited is not None:
            return limited
        project, pipeline, stage = match["project"], match["pipeline"], match["stage"]
        project, pipeline = unquote(project), unquote(pipeline)
        if stage not in STAGES:
            return _Answer.error(404, "Stage not found")
        if self.known_projects is not None and project not in self.known_projects:
            return _Answer.error(404, "Project not found")
        if self.known_pipelines is not None and pipeline not in self.known_pipelines:
            return _Answer.error(404, "Pipeline not found")
        flow = (project, pipeline, stage)
        if route == "template":
            return self._release_flow(flow)
        if route == "trigger":
            return self._trigger(flow, request, body)
        if route == "list":
            return self._list(flow, request.query)
        run_id = unquote(match["run"])
        if route == "abort":
            return self._abort(flow, run_id)
        return self._get(flow, run_id)

    def _authorized(self, header: str) -> bool:
        scheme, _, credentials = header.strip().partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), self.token.encode())

    def _spend_ratelimit(self) -> _Answer | None:
        with self._lock:
            if self.ratelimit_remaining is not None:
                exhausted = self.ratelimit_remaining <= 0
            else:
                exhausted = self._ratelimit_used >= self.ratelimit_limit
                if not exhausted:
                    self._ratelimit_used += 1
        if exhausted:
            return _Answer.error(429, "Rate limit exceeded")
        return None

    def _trigger(self, flow: tuple[str, str, str], request: RecordedRequest, body: bytes) -> _Answer:
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type != "application/json" and not content_type.endswith("+json"):
            return _Answer.error(400, "Request body must be JSON (application/json)")
        try:
            # JSON.parse rejects NaN and Infinity; Python's parser would accept them.
            payload = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError):
            return _Answer.error(400, "Request body is not valid JSON")
        errors = sorted(_request_validator().iter_errors(payload), key=lambda e: e.json_path)
        if errors:
            details = {"errors": [{"path": error.json_path, "message": error.message} for error in errors]}
            return _Answer.error(400, "Invalid request body", details)
        with self._lock:
            now = self.clock()
            in_progress = [
                other
                for other in sorted(self._runs.values(), key=lambda other: other.seq)
                if other.flow() == flow and other.state_at(now)[0] not in CONCLUDED_STATUSES
            ]
            if self.concurrency == "forbid" and in_progress:
                return _Answer.error(409, "A run of this release flow is already in progress")
            run = self._new_run(*flow, payload, now)
            self._apply_concurrency(run, in_progress, now)
            return _Answer.json(200, {"data": self._render(run, now)})

    def _apply_concurrency(self, run: _Run, in_progress: list[_Run], now: float) -> None:
        """What the flow's policy does to a new run and the runs in progress (callers hold the lock): `queue`
        queues it behind the newest run in progress; `latest` too, and a run still queued is `skipped`, replaced
        by the newer one; `replace` aborts every run in progress and starts the new one at once."""
        if not in_progress:
            return
        if self.concurrency in ("queue", "latest"):
            run.ahead = in_progress[-1]
            if self.concurrency == "latest":
                for other in in_progress:
                    if other.state_at(now)[0] == "queued":
                        other.forced.append((now, "skipped"))
                        run.ahead = other.ahead
        elif self.concurrency == "replace":
            for other in in_progress:
                other.forced.append((now, "aborted"))

    def _list(self, flow: tuple[str, str, str], query: Mapping[str, str]) -> _Answer:
        try:
            per_page = int(query.get("per_page", PER_PAGE_DEFAULT))
            page = int(query.get("cursor", query.get("page", "1")))
        except ValueError:
            return _Answer.error(400, "per_page, page and cursor must be integers")
        if not 1 <= per_page <= PER_PAGE_MAX:
            return _Answer.error(400, f"per_page must be between 1 and {PER_PAGE_MAX}")
        if page < 1:
            return _Answer.error(400, "page must be at least 1")
        with self._lock:
            now = self.clock()
            runs = [run for run in self._runs.values() if run.flow() == flow]
            runs.sort(key=lambda run: run.seq, reverse=self.list_order != "oldest_first")
            rendered = [self._render(run, now) if self.rich_list else self._listed(run, now) for run in runs]
        if "status" in query:
            rendered = [run for run in rendered if run["status"] == query["status"]]
        if "concluded" in query:
            wanted = query["concluded"].lower() == "true"
            rendered = [run for run in rendered if run["concluded"] is wanted]
        start = (page - 1) * per_page
        selected = rendered[start : start + per_page]
        has_next = start + per_page < len(rendered)
        return _Answer.json(
            200,
            {
                "data": {"runs": selected},
                "pagination": {
                    "hasNextPage": has_next,
                    "cursor": str(page + 1) if has_next else None,
                    "count": len(selected),
                },
            },
        )

    def _release_flow(self, flow: tuple[str, str, str]) -> _Answer:
        """GET .../release-flows/{stage}: the template, in the envelope every answer has."""
        with self._lock:
            template = self.release_flow
            if template is None:
                return _Answer.error(404, "Release flow not found")
            template = {**template, "stage": flow[2]}
            return _Answer.json(200, {"data": template})

    def _get(self, flow: tuple[str, str, str], run_id: str) -> _Answer:
        with self._lock:
            run = self._runs.get(run_id)
            if run is None or run.flow() != flow:
                return _Answer.error(404, "Run not found")
            return _Answer.json(200, {"data": self._render(run, self.clock())})

    def _abort(self, flow: tuple[str, str, str], run_id: str) -> _Answer:
        with self._lock:
            run = self._runs.get(run_id)
            if run is None or run.flow() != flow:
                return _Answer.error(404, "Run not found")
            now = self.clock()
            if run.state_at(now)[0] in CONCLUDED_STATUSES:
                return _Answer.error(409, "Run already concluded")
            run.forced.append((now, "aborted"))
            return _Answer.json(200, {"data": self._render(run, now)})

    # -- run objects (callers hold the lock) --

    def _new_run(
        self,
        project: str,
        pipeline: str,
        stage: str,
        payload: Mapping[str, Any],
        created: float,
    ) -> _Run:
        self._seq += 1
        in_flow = sum(1 for run in self._runs.values() if run.flow() == (project, pipeline, stage))
        run = _Run(
            seq=self._seq,
            id=self.new_run_id(),
            name=payload.get("name") or f"Run {in_flow + 1}",
            description=payload.get("description", ""),
            given_description="description" in payload,
            arguments=self.store_arguments(dict(payload.get("arguments", {}))),
            overrides=dict(payload.get("overrides", {})),
            project=project,
            pipeline=pipeline,
            stage=stage,
            plan=self.plan,
            created=created,
        )
        self._runs[run.id] = run
        return run

    def shift_clock(self, seconds: float) -> None:
        """Run the API's clock `seconds` ahead of ours (behind when negative): its timestamps and Date header."""
        with self._lock:
            self._wall_origin += timedelta(seconds=seconds)
            self.clock_offset += seconds

    def _timestamp(self, at: float | None) -> str | None:
        if at is None:
            return None
        return _format_time(self._wall_origin + timedelta(seconds=at - self._clock_origin))

    def unix_time(self) -> float:
        """The stand-in's present as Unix seconds, the time base of its node times."""
        return (self._wall_origin + timedelta(seconds=self.clock() - self._clock_origin)).timestamp()

    def _epoch(self, at: float) -> int:
        """A clock value as the documented node time: an integer, Unix seconds."""
        return int((self._wall_origin + timedelta(seconds=at - self._clock_origin)).timestamp())

    def _listed(self, run: _Run, now: float) -> dict[str, Any]:
        """A run as the list shows it: only the fields of the SDK's ListReleaseFlowRunsResponseRun."""
        rendered = self._render(run, now)
        return {name: rendered[name] for name in LIST_FIELDS if name in rendered}

    def _render(self, run: _Run, now: float) -> dict[str, Any]:
        """A run as a GET answers it: the fields of the SDK's AbortReleaseFlowRunResponse, optional ones left out
        when they have no value."""
        status, changed, started = run.state_at(now)
        concluded = status in CONCLUDED_STATUSES
        started_at = self._timestamp(started)
        ended_at = self._timestamp(changed) if concluded else None
        if run.plan.flow is not None:
            aborted = [at for at, forced in run.forced if forced == "aborted"]
            spec = self._flow_node(run, _schedule(run.plan.flow, 0.0), now, aborted[0] if aborted else None)
        else:
            times = (self._epoch(started) if started is not None else None, self._epoch(changed) if concluded else None)
            spec = _template(run, status, *times)
        rendered: dict[str, Any] = {
            "apiVersion": API_VERSION,
            "id": run.id,
            "name": run.name,
            "description": run.description,
            "status": status,
            "concluded": concluded,
            "createdAt": self._timestamp(run.created),
            "updatedAt": self._timestamp(changed),
            "startedAt": started_at,
            "concludedAt": ended_at,
            "arguments": run.arguments,
            "options": {"concurrencyPolicy": self.concurrency, "paused": self.paused},
            "spec": spec,
        }
        if not run.given_description:
            del rendered["description"]
        return {name: value for name, value in rendered.items() if value is not None}

    def _flow_node(self, run: _Run, scheduled: _Scheduled, now: float, aborted_at: float | None) -> dict[str, Any]:
        node = scheduled.node
        spec: dict[str, Any]
        if node.steps is not None:
            steps = [self._flow_node(run, child, now, aborted_at) for child in scheduled.children]
            spec = {"type": node.type, "steps": steps}
            response = _workflow_response([step["response"] for step in steps])
        else:
            spec = {"id": f"{node.kind.lower()}-service"}
            override = run.overrides.get(node.ref)
            if isinstance(override, dict):
                spec = {**spec, **override}
            base = run.origin()
            # A queued run's flow has not begun: its clock starts when the run ahead concludes.
            elapsed = now - base if base is not None else -1.0
            response = self._leaf_response(run, scheduled, elapsed, aborted_at)
        return {"kind": node.kind, "ref": node.ref, "spec": spec, "response": response}

    def _leaf_response(
        self, run: _Run, scheduled: _Scheduled, elapsed: float, aborted_at: float | None
    ) -> dict[str, Any]:
        node, turn, end = scheduled.node, scheduled.turn, scheduled.end
        base = run.origin() or run.created
        abort = None if aborted_at is None else aborted_at - base
        abort = abort if abort is not None and abort <= elapsed else None
        if turn is None or elapsed < turn or (abort is not None and abort <= turn):
            return {"status": "skipped" if abort is not None else "waiting"}
        if node.status in {"skipped", "waiting"}:
            return {"status": node.status}  # never started, so no times
        response: dict[str, Any] = {"status": node.status, "startTime": self._epoch(base + turn)}
        if node.retries:
            response["retries"] = {
                "attempts": node.retries,
                "maxAttempts": node.retries + 1,
                "timestamp": self._epoch(base + turn),
            }
        if end is not None and elapsed >= end and (abort is None or end <= abort):
            response["endTime"] = self._epoch(base + end)
            if node.status in {"failure", "invalid"} and node.error is not None:
                response["error"] = {"code": node.error_code, "message": node.error}
        elif abort is not None:
            response.update(status="aborted", endTime=self._epoch(base + abort))
        elif node.status in NODE_TERMINAL:
            # Under way: a first attempt that is retried shows `retrying` for its first half.
            halfway = turn + node.duration / 2
            response["status"] = "retrying" if node.retries and elapsed < halfway else "async_wait"
            if response["status"] == "retrying":
                response["retries"]["nextAttempt"] = self._epoch(base + halfway)
        return response


def _workflow_response(responses: list[dict[str, Any]]) -> dict[str, Any]:
    """A Workflow node's response, derived from its steps' as the API reports a branch."""
    statuses = [str(response["status"]) for response in responses]
    starts = [response["startTime"] for response in responses if "startTime" in response]
    response: dict[str, Any] = {}
    if all(status in NODE_TERMINAL for status in statuses):
        if {"failure", "invalid"} & set(statuses):
            response["status"] = "failure"
        elif "aborted" in statuses:
            response["status"] = "aborted"
        elif statuses and all(status == "skipped" for status in statuses):
            response["status"] = "skipped"
        else:
            response["status"] = "success"
        ends = [response["endTime"] for response in responses if "endTime" in response]
        if starts:
            response["startTime"] = min(starts)
            response["endTime"] = max(ends, default=min(starts))
        return response
    response["status"] = "async_wait" if starts else "waiting"
    if starts:
        response["startTime"] = min(starts)
    return response


def _template(run: _Run, status: str, started: int | None, ended: int | None) -> dict[str, Any]:
    """The default two-node flow, its nodes' responses following the run status."""
    node_status: dict[str, str]
    error_ref: str | None = None
    if status == "success" or status == "aborted":
        node_status = {"build": status, "deploy": status}
    elif status == "failure":
        error_ref = run.plan.failing_node or "build"
        node_status = (
            {"build": "failure", "deploy": "skipped"}
            if error_ref == "build"
            else {"build": "success", "deploy": "failure"}
        )
    elif started is None:
        node_status = {"build": "waiting", "deploy": "waiting"}
    else:
        node_status = {"build": "async_wait", "deploy": "waiting"}
    specs: dict[str, tuple[str, dict[str, Any]]] = {
        "build": (
            "StartBuild",
            {"id": "app-builder", "branch": "main", "reuseExistingBuilds": True},
        ),
        "deploy": (
            "Release",
            {
                "type": "build",
                "origin": {"id": "app-builder", "branch": "main", "build": "latest"},
                "target": {"id": "web", "type": "deployment"},
            },
        ),
    }
    nodes: list[dict[str, Any]] = []
    for ref in NODE_REFS:
        kind, spec = specs[ref]
        override = run.overrides.get(ref)
        if isinstance(override, dict):
            spec = {**spec, **override}
        node_state = node_status[ref]
        response: dict[str, Any] = {"status": node_state}
        if node_state not in {"waiting", "skipped"} and started is not None:
            response["startTime"] = started
            if node_state in NODE_TERMINAL and ended is not None:
                response["endTime"] = ended
        if ref == error_ref:
            response["error"] = {
                "code": "BUILD_FAILED",
                "message": run.plan.error_message,
            }
        nodes.append({"kind": kind, "ref": ref, "spec": spec, "response": response})
    return {
        "kind": "Workflow",
        "spec": {"type": "sequential", "steps": nodes},
        "response": _workflow_response([node["response"] for node in nodes]),
    }


def release_flow_template(*, paused: bool = False, concurrency: str = "queue") -> dict[str, Any]:
    """A realistic release flow template, as the SDK's GetReleaseFlowResponse types it (northflank/_types.py,
    northflank 2.1.0): `apiVersion`, `createdAt`, `updatedAt`, `paused`, `spec` and `status` required;
    `arguments`, `concurrencyPolicy`, `options` (AbortPreviewBlueprintRunResponseOptions: concurrencyPolicy,
    paused), `stage` and `triggers` (AbortPreviewBlueprintRunResponseTrigger) among the optional ones. `spec`
    is `Dict[str, Any]` there: its nodes take the documented run shape (`kind`, `ref`, `spec.steps`), and the
    Release nodes name the service they deploy in `spec.target.id` (the key of releaseNodeOverrides).

    Refs `build` and `deploy` (service `web`) are those of the runs' default flow (`_template`), and service
    `api` the one the examples override, so a plan of what the other tests send passes.
    """

    def release(ref: str, service: str, origin_type: str, origin: dict[str, Any]) -> dict[str, Any]:
        return {
            "kind": "Release",
            "ref": ref,
            "spec": {"type": origin_type, "origin": origin, "target": {"id": service, "type": "deployment"}},
        }

    spec = {
        "kind": "Workflow",
        "spec": {
            "type": "sequential",
            "steps": [
                {
                    "kind": "StartBuild",
                    "ref": "build",
                    "spec": {"id": "app-builder", "branch": "${args.BRANCH}", "reuseExistingBuilds": True},
                },
                {
                    "kind": "Workflow",
                    "ref": "prepare",
                    "spec": {
                        "type": "parallel",
                        "steps": [
                            {
                                "kind": "RunJob",
                                "ref": "migrate",
                                "spec": {"id": "db-migrate", "waitForCompletion": True},
                            },
                            {"kind": "BackupAddon", "ref": "backup", "spec": {"id": "postgres"}},
                        ],
                    },
                },
                {
                    "kind": "Workflow",
                    "ref": "release",
                    "spec": {
                        "type": "parallel",
                        "steps": [
                            release(
                                "deploy", "web", "build", {"id": "app-builder", "branch": "main", "build": "latest"}
                            ),
                            release(
                                "deploy-api", "api", "build", {"id": "app-builder", "branch": "main", "build": "latest"}
                            ),
                            {
                                "kind": "Workflow",
                                "ref": "workers",
                                "spec": {
                                    "type": "sequential",
                                    "steps": [
                                        release(
                                            "deploy-worker",
                                            "worker",
                                            "registry",
                                            {"imagePath": "ghcr.io/acme/worker:${args.VERSION}"},
                                        ),
                                        {
                                            "kind": "Condition",
                                            "ref": "worker-ready",
                                            "spec": {"kind": "Service", "id": "worker", "type": "running"},
                                        },
                                    ],
                                },
                            },
                        ],
                    },
                },
            ],
        },
    }
    return {
        "apiVersion": "v1.2",
        "createdAt": "2026-01-05 09:12:44.000Z",
        "updatedAt": "2026-11-20 16:03:10.000Z",
        "status": "success",
        "paused": paused,
        "concurrencyPolicy": concurrency,
        "options": {"concurrencyPolicy": concurrency, "paused": paused},
        "arguments": {"VERSION": "latest", "COMMIT": "", "BRANCH": "main", "RUN_MIGRATIONS": "true"},
        "triggers": [
            {
                "ref": "git-push",
                "repoUrl": "https://github.com/acme/shop",
                "vcsService": "github",
                "branchRestrictions": ["main"],
            }
        ],
        "spec": spec,
    }


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _without_fields(answer: _Answer, fields: set[str]) -> _Answer:
    """The answer with these fields removed from its run (or from every run of a list)."""
    payload = json.loads(answer.body)
    data = payload.get("data") if isinstance(payload, dict) else None
    runs = data.get("runs", [data]) if isinstance(data, dict) else []
    for run in runs:
        for name in fields:
            run.pop(name, None)
    trimmed = _Answer.json(answer.status, payload)
    trimmed.headers = answer.headers
    return trimmed


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    standin: NorthflankStandin

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        with self.standin._lock:
            self.standin.connections += 1
        return connection, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or hang up mid-answer are part of the tests, not news.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm on, each answer on a kept-alive
    # connection would wait ~40 ms for the client's delayed ACK, and skew every timing taken against it.
    disable_nagle_algorithm = True
    server: _Server

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header comes from the API's clock, which may not be ours.
        now = time.time() + self.server.standin.clock_offset if timestamp is None else timestamp
        return super().date_time_string(now)

    def version_string(self) -> str:
        return "NorthflankStandin/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the recorded requests are the log

    def _dispatch(self) -> None:
        body = self._read_body()
        if body is None:
            return
        split = urlsplit(self.path)
        text = body.decode("utf-8", errors="replace")
        try:
            parsed: Any | None = json.loads(text) if text.strip() else None
        except ValueError:
            parsed = None
        request = RecordedRequest(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body_text=text,
            body_json=parsed,
            time=time.monotonic(),
            at=self.server.standin.clock(),
        )
        standin = self.server.standin
        standin._record(request)
        answer = standin.handle(request, body)
        if answer.raw is not None:
            with contextlib.suppress(OSError):
                os.write(self.connection.fileno(), answer.raw)
        if answer.hold:
            standin.stopping.wait(answer.hold)
        if answer.reset:
            # SO_LINGER with a zero timeout makes close() send RST, and the client sees ECONNRESET. Closed
            # here, since the server's own shutdown_request would send an orderly FIN first.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            return
        if answer.drop or answer.raw is not None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if answer.delay > 0:
            time.sleep(answer.delay)
        if answer.stream is not None:
            with contextlib.suppress(OSError):
                self._send_stream(answer, answer.stream)
            return
        self._send(answer)

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length_header = self.headers.get("Content-Length", "0")
        try:
            length = int(length_header)
            if length < 0:
                raise ValueError(length_header)
        except ValueError:
            self.close_connection = True
            self._send(_Answer.error(400, "Invalid Content-Length"))
            return None
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _send(self, answer: _Answer) -> None:
        self.send_response(answer.status)
        if answer.content_type is not None:
            self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)
        self.wfile.flush()

    def _send_stream(self, answer: _Answer, pieces: Iterator[bytes]) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        if answer.length is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(answer.length))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        for piece in pieces:
            self.wfile.write(piece if answer.length is not None else b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
            if answer.pause:
                time.sleep(answer.pause)
        if answer.length is None:
            self.wfile.write(b"0\r\n\r\n")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch


# --- Demo entry point --------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the local Northflank stand-in.")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--token", default=API_TOKEN_DEFAULT, help="accepted API token")
    options = parser.parse_args(argv)
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with NorthflankStandin(options.token, port=options.port) as standin:
        print(f"Northflank stand-in listening on {standin.url}", flush=True)
        while not stopping.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
