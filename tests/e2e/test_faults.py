"""Fault injection, end to end: every way an answer can go wrong, on every route the action reads.

Each case runs entrypoint.py against the stand-in with injected faults and checks how many runs exist
afterwards, that `run-id` names the run when there is one, the exit status, and that the error text (or
the log, when the action recovered) names the cause. The tally printed at the end of the module counts
duplicates (a second run), lost runs (a run exists, the job went green without naming it), adopted runs
(run-id names a run this job did not create: another matrix leg's, an older namesake) and the requests used.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from testing.fault_tally import OUTCOMES, Outcome
from testing.injection import INJECTED_ARGUMENTS, INJECTED_DESCRIPTION, INJECTED_STATUS, MARKERS
from testing.northflank_standin import Fault, NorthflankStandin, RunPlan
from testing.runner import ActionRun, run_action, trigger_bodies

PROJECT, PIPELINE, STAGE = "shop", "release-pipeline", "production"
OUTPUT_NAMES = frozenset(
    {"run-id", "run-name", "status", "concluded", "started-at", "concluded-at", "response", "request"}
)


def new_runs(standin: NorthflankStandin, before: set[str]) -> list[dict[str, Any]]:
    """The runs the action created: every run on the stand-in except the ones seeded before it ran."""
    return [run for run in standin.runs() if run["id"] not in before]


def record(
    case: str, standin: NorthflankStandin, before: set[str], result: ActionRun, *, others: int = 0
) -> list[dict[str, Any]]:
    """Count the case in the tally (before any assertion can fail) and return the runs it created.

    `others` runs were created by other legs on purpose; only the rest count towards duplicates.
    """
    created = new_runs(standin, before)
    run_id = result.outputs.get("run-id", "")
    sent = json.loads(result.outputs["request"]) if result.outputs.get("request") else {}
    mine = [run for run in created if run.get("description") == sent.get("description")]
    adopted = bool(run_id) and not any(run["id"] == run_id for run in (mine if others else created))
    OUTCOMES.append(
        Outcome(
            case,
            len(created) - others,
            any(run["id"] == run_id for run in created),
            result.exit_code != 0,
            adopted,
            len(standin.requests),
        )
    )
    return created


def closed_port_url() -> str:
    """A loopback URL nothing listens on: bind a port, then close it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- The table ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultCase:
    id: str
    faults: Callable[[], list[Fault]]  # a factory: a Fault counts down its `times` as it is used
    runs: int  # runs on the stand-in afterwards, not counting seeded ones
    exit_code: int
    causes: tuple[str, ...]  # each must appear in the error annotations (failure) or the log (success)
    trigger_requests: int | None = None  # exact number of trigger requests the stand-in saw, when it matters
    adopted: bool = False  # the run was found by lookup, not read from the trigger's answer
    min_retry_gap: float = 0.0  # the second trigger request came at least this long after the first
    env: Mapping[str, str] = field(default_factory=dict)
    closed_port: bool = False
    seed: int = 0
    list_order: str = "newest_first"
    settle: float = 0.0  # count the runs only this long after the first trigger request (for late processing)
    bug: str = ""  # the action is known to fail this case: marked xfail(strict=True) with this reason
    with_inputs: Mapping[str, str] = field(default_factory=dict)  # inputs beyond the typical release's
    plan: RunPlan | None = None  # how the run moves, when the case reads it while waiting
    names_run: bool = True  # run-id names the run that exists (False: an honest failure that could not)
    log_mentions: tuple[str, ...] = ()  # each must appear in the log, whatever the exit status


def faults_of(*faults: Fault) -> Callable[[], list[Fault]]:
    """Fresh copies of the faults for each run of the case."""
    specs = [dict(vars(fault)) for fault in faults]
    return lambda: [Fault(**{**spec, "headers": dict(spec["headers"])}) for spec in specs]


REFUSED = [
    FaultCase(
        "401-refused",
        faults_of(Fault("POST", "trigger", "status", status=401, message="Unauthorized")),
        runs=0,
        exit_code=1,
        causes=("HTTP 401", "token"),
        trigger_requests=1,
    ),
    FaultCase(
        "403-refused",
        faults_of(Fault("POST", "trigger", "status", status=403, message="Forbidden")),
        runs=0,
        exit_code=1,
        causes=("HTTP 403", "Pipelines > General > Update"),
        trigger_requests=1,
    ),
    FaultCase(
        "404-refused",
        faults_of(Fault("POST", "trigger", "status", status=404, message="Pipeline not found")),
        runs=0,
        exit_code=1,
        causes=("HTTP 404", "ids", "project-id, pipeline-id and stage"),
        trigger_requests=1,
    ),
    FaultCase(
        "409-refused",
        faults_of(Fault("POST", "trigger", "status", status=409, message="A run is already in progress")),
        runs=0,
        exit_code=1,
        causes=("HTTP 409", "concurrency"),
        trigger_requests=1,
    ),
]

CASES = [
    FaultCase(
        "connection-refused",
        faults_of(),
        runs=0,
        exit_code=1,
        causes=("connection refused", "attempt"),
        trigger_requests=0,
        env={"NORTHFLANK_TRIGGER_RETRY_SECONDS": "2"},
        closed_port=True,
    ),
    FaultCase(
        "drop-after-create",
        faults_of(Fault("POST", "trigger", "drop", create_first=True)),
        runs=1,
        exit_code=0,
        causes=("connection closed before an answer", "using it (no second run)"),
        trigger_requests=1,
        adopted=True,
    ),
    FaultCase(
        "500-after-create",
        faults_of(Fault("POST", "trigger", "status", status=500, create_first=True, message="Internal error")),
        runs=1,
        exit_code=0,
        causes=("HTTP 500", "Internal error", "using it (no second run)"),
        trigger_requests=1,
        adopted=True,
    ),
    FaultCase(
        "502-html-not-created",
        faults_of(Fault("POST", "trigger", "html", status=502)),
        runs=1,
        exit_code=0,
        causes=("HTTP 502", "HTML page", "Retrying"),
        trigger_requests=2,
    ),
    FaultCase(
        "503-retried",
        faults_of(Fault("POST", "trigger", "status", status=503, message="Service unavailable")),
        runs=1,
        exit_code=0,
        causes=("HTTP 503", "Service unavailable", "Retrying"),
        trigger_requests=2,
    ),
    FaultCase(
        "429-retry-after",
        faults_of(Fault("POST", "trigger", "status", status=429, message="Slow down", headers={"Retry-After": "1"})),
        runs=1,
        exit_code=0,
        causes=("HTTP 429", "Slow down", "Retrying in 1.0s"),
        trigger_requests=2,
        min_retry_gap=0.9,
    ),
    FaultCase(
        "429-ratelimit-reset",
        faults_of(
            Fault(
                "POST",
                "trigger",
                "status",
                status=429,
                message="Rate limit exceeded",
                headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1"},
            )
        ),
        runs=1,
        exit_code=0,
        causes=("HTTP 429", "Rate limit exceeded", "Retrying in 1.0s"),
        trigger_requests=2,
        min_retry_gap=0.9,
    ),
    FaultCase(
        "read-timeout-while-creating",
        faults_of(Fault("POST", "trigger", "delay", delay=3.0, create_first=True)),
        runs=1,
        exit_code=0,
        causes=("no answer before the read timeout", "using it (no second run)"),
        trigger_requests=1,
        adopted=True,
        env={"NORTHFLANK_HTTP_TIMEOUT": "1"},
    ),
    FaultCase(
        "read-timeout-before-creating",
        faults_of(Fault("POST", "trigger", "delay", delay=3.0, create_first=False)),
        runs=1,
        exit_code=0,
        causes=("no answer before the read timeout",),
        env={"NORTHFLANK_HTTP_TIMEOUT": "1"},
        settle=3.5,
        trigger_requests=1,
        adopted=True,
    ),
    FaultCase(
        "200-empty-body",
        faults_of(Fault("POST", "trigger", "empty")),
        runs=1,
        exit_code=0,
        causes=("and an empty body, instead of the API's JSON", "using it (no second run)"),
        trigger_requests=1,
        adopted=True,
    ),
    FaultCase(
        "200-not-json",
        faults_of(Fault("POST", "trigger", "not_json")),
        runs=1,
        exit_code=0,
        causes=("text/plain", "starting 'success'", "using it (no second run)"),
        trigger_requests=1,
        adopted=True,
    ),
    *[
        FaultCase(
            f"200-no-id-150-runs-{order}",
            faults_of(Fault("POST", "trigger", "no_id")),
            runs=1,
            exit_code=0,
            causes=("no run id", "looking the run up by name"),
            trigger_requests=1,
            adopted=True,
            seed=150,
            list_order=order,
        )
        for order in ("newest_first", "oldest_first")
    ],
    *REFUSED,
]

# After a lost trigger answer the run is looked up in the list; every way the list can answer badly must read
# as "could not check", never as "no runs" (which would send the trigger again: two runs).
_DROPPED_AFTER_CREATE = Fault("POST", "trigger", "drop", create_first=True)
# A list that never answers is read again until the trigger's budget is spent (test_outages.py shows the
# default two minutes on a simulated clock); here a short budget keeps the real-time cases short.
_SHORT_BUDGET = {"NORTHFLANK_TRIGGER_RETRY_SECONDS": "4"}
LIST_READS = [
    *[
        FaultCase(
            f"list-{kind}-200-once",
            faults_of(_DROPPED_AFTER_CREATE, Fault("GET", "list", kind, status=200)),
            runs=1,
            exit_code=0,
            causes=("Reading the runs list failed", mention, "using it (no second run)"),
            trigger_requests=1,
            adopted=True,
        )
        for kind, mention in (
            ("html", "HTTP 200 with text/html"),
            ("empty", "and an empty body, instead of the runs list as JSON"),
            ("truncated", "instead of the runs list as JSON"),
            ("shape", "instead of a runs list (data.runs)"),
        )
    ],
    FaultCase(
        "list-html-always-after-create",
        faults_of(_DROPPED_AFTER_CREATE, Fault("GET", "list", "html", status=200, times=50)),
        runs=1,
        exit_code=1,
        causes=("may have been created", "could not be read", "text/html", "Not retrying"),
        trigger_requests=1,
        env=_SHORT_BUDGET,
        names_run=False,
    ),
    FaultCase(
        "list-html-always-not-created",
        faults_of(Fault("POST", "trigger", "drop"), Fault("GET", "list", "html", status=200, times=50)),
        runs=0,
        exit_code=1,
        causes=("may have been created", "could not be read", "text/html"),
        trigger_requests=1,
        env=_SHORT_BUDGET,
    ),
    FaultCase(
        "sso-page-on-every-route",
        faults_of(
            Fault("POST", "trigger", "html", status=200),
            Fault("GET", "list", "html", status=200, times=50),
        ),
        runs=0,
        exit_code=1,
        causes=("HTTP 200 with text/html", "sign-in page", "could not be read"),
        trigger_requests=1,
        env=_SHORT_BUDGET,
    ),
    FaultCase(
        "json-gateway-on-every-route",
        faults_of(Fault("POST", "trigger", "shape"), Fault("GET", "list", "shape", times=50)),
        runs=1,
        exit_code=1,
        causes=("may have been created", "instead of a runs list (data.runs)"),
        trigger_requests=1,
        env=_SHORT_BUDGET,
        names_run=False,
    ),
    FaultCase(
        "trigger-200-other-json-shape",
        faults_of(Fault("POST", "trigger", "shape")),
        runs=1,
        exit_code=0,
        causes=("instead of the API's JSON (a run in a data object)", "using it (no second run)"),
        trigger_requests=1,
        adopted=True,
    ),
    FaultCase(
        "503-after-forwarding",  # Envoy and Istio say 503 when the API reset after the request reached it
        faults_of(Fault("POST", "trigger", "status", status=503, create_first=True, message="upstream reset")),
        runs=1,
        exit_code=0,
        causes=("HTTP 503", "using it (no second run)"),
        trigger_requests=1,
        adopted=True,
    ),
    FaultCase(
        "trigger-200-html-and-no-run-listed",
        faults_of(Fault("POST", "trigger", "html", status=200)),
        runs=0,
        exit_code=1,
        causes=("HTTP 200 with text/html", "No run from this job was found", "Not sending the request again"),
        trigger_requests=1,
    ),
]

# While waiting, a bad status read is a failed read (retried within the read-error bound), never "no news".
_WAITING = {"wait": "true", "poll-interval": "1s", "timeout": "30s"}
GET_READS = [
    FaultCase(
        f"get-{kind}-200-once",
        faults_of(Fault("GET", "get", kind, status=200)),
        runs=1,
        exit_code=0,
        causes=("A status read failed", mention),
        trigger_requests=1,
        with_inputs=_WAITING,
        plan=RunPlan(steps=[(0.0, "running"), (2.5, "success")]),
    )
    for kind, mention in (
        ("html", "HTTP 200 with text/html"),
        ("empty", "and an empty body"),
        ("truncated", "instead of the run as JSON"),
        ("shape", "as JSON"),
    )
]

# An abort answered badly is reported as a failed abort; the timeout stays the job's one error.
ABORT_READS = [
    FaultCase(
        f"abort-{kind}-200",
        faults_of(Fault("POST", "abort", kind, status=200)),
        runs=1,
        exit_code=1,
        causes=("timeout", "Aborting the run failed"),
        trigger_requests=1,
        with_inputs={**_WAITING, "timeout": "2s", "abort-on-timeout": "true"},
        plan=RunPlan(steps=[(0.0, "running"), (3600.0, "success")]),
        log_mentions=("Could not abort the run", mention),
    )
    for kind, mention in (("html", "text/html"), ("shape", "as JSON"))
]
CASES += [*LIST_READS, *GET_READS, *ABORT_READS]


def as_param(case: FaultCase) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=f"BUG: {case.bug}")] if case.bug else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [as_param(case) for case in CASES])
def test_fault(tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str], case: FaultCase) -> None:
    standin.list_order = case.list_order
    if case.seed:
        standin.seed_runs(PROJECT, PIPELINE, STAGE, case.seed)
    before = {run["id"] for run in standin.runs()}
    for fault in case.faults():
        standin.add_fault(fault)
    if case.plan is not None:
        standin.plan = case.plan
    given = {**inputs, **case.with_inputs}
    if case.closed_port:
        given["api-url"] = closed_port_url()

    started = time.monotonic()
    result = run_action(tmp_path, given, job_env=case.env, timeout=30)
    elapsed = time.monotonic() - started
    if case.settle and standin.requests_to("trigger"):
        # A request the stand-in still holds may create its run after the action has exited.
        time.sleep(max(0.0, standin.requests_to("trigger")[0].time + case.settle - time.monotonic()))
    created = record(case.id, standin, before, result)

    assert len(created) <= 1, f"{len(created)} runs: the run was triggered twice\n{result.log}"
    assert len(created) == case.runs, result.log
    assert result.exit_code == case.exit_code, result.log
    assert "Traceback" not in result.log
    if created and case.names_run:
        [run] = created
        assert result.outputs.get("run-id") == run["id"], f"run {run['id']} was lost\n{result.log}"
        assert json.loads(result.outputs["response"])["id"] == run["id"]
    else:
        assert result.outputs.get("run-id", "") == ""
    if case.exit_code == 0:
        assert not result.errors, result.errors
    for mention in case.log_mentions:
        assert mention in result.log, f"{mention!r} not in the log:\n{result.log}"
    text = "\n".join(result.errors) if case.exit_code else result.log
    for cause in case.causes:
        assert cause in text, f"{cause!r} not in:\n{text}"
    if case.exit_code:
        assert len(result.errors) == 1, result.errors

    triggers = standin.requests_to("trigger")
    if case.trigger_requests is not None:
        assert len(triggers) == case.trigger_requests, result.log
    bodies = trigger_bodies(standin)
    assert all(body == bodies[0] for body in bodies), "a retry must send the same body (the same name)"
    if case.min_retry_gap:
        gap = triggers[1].time - triggers[0].time
        assert gap >= case.min_retry_gap, f"retried after {gap:.2f}s"
        assert gap < case.min_retry_gap + 2.5, f"retried after {gap:.2f}s"
    if case.adopted:
        assert standin.requests_to("list"), "an adopted run is found through the runs list"
        assert "using it" in result.log or "looking the run up by name" in result.log
    if case.seed and case.list_order == "oldest_first":
        pages = standin.requests_to("list")
        assert len(pages) >= 2, "the new run is on the second page: the lookup must follow the cursor"
    assert elapsed < 15, f"the case took {elapsed:.1f}s"


# --- Cases that need more than the table --------------------------------------------------------------


def test_an_older_run_with_the_same_name_is_not_adopted(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    """A lost answer with nothing created: the lookup sees only an old namesake, so it retries, once."""
    standin.seed_runs(PROJECT, PIPELINE, STAGE, 3, name_prefix="Deploy prod")
    before = {run["id"]: run for run in standin.runs()}
    [old] = [run for run in before.values() if run["name"] == "Deploy prod 3"]
    standin.add_fault(Fault("POST", "trigger", "drop", create_first=False))

    # A dropped connection makes the action look for the run for as long as its read timeout (at least 5 s).
    result = run_action(
        tmp_path, {**inputs, "name": "Deploy prod 3"}, job_env={"NORTHFLANK_HTTP_TIMEOUT": "2"}, timeout=30
    )
    created = record("older-namesake-not-adopted", standin, set(before), result)

    assert result.exit_code == 0, result.log
    assert len(created) == 1, f"{len(created)} new runs\n{result.log}"
    [run] = created
    assert run["name"] == "Deploy prod 3"
    assert result.outputs["run-id"] == run["id"]
    assert result.outputs["run-id"] != old["id"], "adopted a run created before this job"
    assert len(standin.requests_to("trigger")) == 2
    assert "connection closed before an answer" in result.log
    assert "Retrying" in result.log
    assert {body["name"] for body in trigger_bodies(standin)} == {"Deploy prod 3"}


def test_a_persistent_503_fails_within_the_bound_saying_what_was_tried(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    standin.add_fault(Fault("POST", "trigger", "status", status=503, times=100, message="Service unavailable"))

    started = time.monotonic()
    result = run_action(tmp_path, inputs, job_env={"NORTHFLANK_TRIGGER_RETRY_SECONDS": "5"}, timeout=30)
    elapsed = time.monotonic() - started
    created = record("persistent-503", standin, set(), result)

    assert created == []
    assert result.exit_code == 1, result.log
    assert result.outputs.get("run-id", "") == ""
    assert elapsed < 5 + 3, f"the retry phase is bounded at 5s, the action took {elapsed:.1f}s"
    triggers = standin.requests_to("trigger")
    assert 2 <= len(triggers) <= 5
    assert triggers[-1].time - triggers[0].time <= 5.5
    [error] = result.errors
    assert f"after {len(triggers)} attempt(s)" in error
    assert ", ".join(["HTTP 503"] * len(triggers)) in error
    assert "Service unavailable" in error
    assert "Traceback" not in result.log


# --- Odd tokens ------------------------------------------------------------------------------------------

# A token can be one letter, a common word, or text that also sits in the run (its arguments): the answer is
# parsed as received, and the token is taken out only of what is printed. Workflow-command keywords are ours.
_COMMAND_SYNTAX = re.compile(
    r"^::(add-mask|error|warning|notice|debug|group|endgroup|stop-commands|[0-9a-f]+)( [^:]*)?::"
)
ODD_TOKENS = {"one-letter": "T", "common-word": "Release", "in-the-arguments": "v1.4.0"}
ODD_TOKEN_FAULTS = {
    "drop-after-create": Fault("POST", "trigger", "drop", create_first=True),
    "500-after-create": Fault("POST", "trigger", "status", status=500, create_first=True, message="Internal error"),
    "no-id": Fault("POST", "trigger", "no_id"),
    "empty-200": Fault("POST", "trigger", "empty"),
}


@pytest.mark.parametrize("fault", list(ODD_TOKEN_FAULTS))
@pytest.mark.parametrize("kind", list(ODD_TOKENS))
def test_an_odd_token_changes_no_answer_and_is_never_printed(
    tmp_path: Path, inputs: dict[str, str], kind: str, fault: str
) -> None:
    token = ODD_TOKENS[kind]
    with NorthflankStandin(token) as standin:
        standin.add_fault(faults_of(ODD_TOKEN_FAULTS[fault])()[0])
        given = {**inputs, "api-token": token, "api-url": standin.url, "name": "Release shop"}
        result = run_action(tmp_path, given, timeout=30)
        created = record(f"{kind}-token-{fault}", standin, set(), result)

        assert len(created) == 1, f"{len(created)} runs\n{result.log}"
        assert len(standin.requests_to("trigger")) == 1
        assert result.exit_code == 0, result.log
        assert result.outputs["run-id"] == created[0]["id"], result.log
        assert created[0]["arguments"]["VERSION"] == "v1.4.0"
    # What the runner shows: every line but the add-mask command, with our command keywords set aside.
    shown = [_COMMAND_SYNTAX.sub("", line) for line in result.log.splitlines() if not line.startswith("::add-mask::")]
    for place, text in (("log", "\n".join(shown)), ("summary", result.summary), ("outputs", result.raw_outputs)):
        assert token not in text, f"the token {token!r} is printed in the {place}"


# --- Output and workflow-command injection ------------------------------------------------------------

RUNNER_COMMANDS = frozenset(
    {"add-mask", "debug", "notice", "warning", "error", "group", "endgroup", "stop-commands", "echo"}
)


def commands_outside_stop_blocks(stdout: str) -> list[tuple[str, str, str]]:
    """The workflow commands the runner would act on, as (name, properties, message), parsed the runner's way.

    A line is a command when its lstrip() starts with `::`; the name and properties run to the next `::`.
    After `::stop-commands::TOKEN`, nothing is a command until the line `::TOKEN::`.
    """
    found: list[tuple[str, str, str]] = []
    stop_token: str | None = None
    for raw in stdout.splitlines():
        line = raw.strip()
        if stop_token is not None:
            if line == f"::{stop_token}::":
                stop_token = None
            continue
        if not line.startswith("::"):
            continue
        end = line.find("::", 2)
        if end < 0:
            continue
        name, _, properties = line[2:end].partition(" ")
        message = line[end + 2 :]
        if name == "stop-commands":
            stop_token = message
        found.append((name, properties, message))
    assert stop_token is None, "a stop-commands block was never closed: every later command would be ignored"
    return found


def test_api_and_user_text_cannot_forge_outputs_or_workflow_commands(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    """Newlines, heredoc delimiters and `::` in argument values and in a run status stay data."""
    standin.plan = RunPlan(steps=[(0.0, INJECTED_STATUS), (3600.0, "success")])
    given = {
        **inputs,
        "arguments": json.dumps(INJECTED_ARGUMENTS),
        "description": INJECTED_DESCRIPTION,
        "wait": "true",
        "timeout": "2s",
        "poll-interval": "1s",
    }

    result = run_action(tmp_path, given, timeout=30)
    created = record("output-injection", standin, set(), result)

    # The status never concludes, so the wait times out: one run, exit 1, its id kept.
    assert len(created) == 1, result.log
    [run] = created
    assert result.exit_code == 1, result.log
    assert set(result.outputs) == OUTPUT_NAMES, sorted(result.outputs)
    assert result.outputs["run-id"] == run["id"]
    assert result.outputs["run-name"] == "v1-4-0 run 8123456789-1"
    assert result.outputs["status"] == "unknown"  # the raw status is only logged
    assert result.outputs["concluded"] == "false"
    [body] = trigger_bodies(standin)
    assert body["arguments"] == INJECTED_ARGUMENTS
    assert json.loads(result.outputs["request"]) == body
    response = json.loads(result.outputs["response"])
    assert response["id"] == run["id"]
    assert response["status"] == INJECTED_STATUS
    assert response["arguments"] == INJECTED_ARGUMENTS
    # Every value the outputs file holds was written in a heredoc whose delimiter appears in no value.
    assert "stolen" not in result.outputs["run-id"]

    commands = commands_outside_stop_blocks(result.stdout)
    for name, properties, message in commands:
        assert name in RUNNER_COMMANDS, f"an unexpected command ::{name}:: reached the runner"
        for marker in MARKERS:
            assert marker not in name, f"injected text in the command name ::{name}::"
            assert marker not in properties, f"injected text in the properties of ::{name} {properties}::"
        if name not in {"error", "warning", "notice", "debug"}:
            # Only annotation messages may quote outside text, and then only as the message's data.
            for marker in MARKERS:
                assert marker not in message, f"injected text in ::{name}::{message}"
        assert "\n" not in message
    assert [name for name, _, _ in commands].count("error") == 1
    for raw in result.stdout.splitlines():
        # The injected text never starts a line of its own: the runner could read such a line as a command.
        assert not raw.lstrip().startswith(("::warning::pwned", "::set-output", "::error::pwned", "::pwned::"))
    [error] = result.errors
    assert "timeout" in error
    assert "Traceback" not in result.log


def test_an_accepted_run_whose_id_cannot_be_found_is_a_warning_not_a_resend(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    standin.add_fault(Fault("POST", "trigger", "no_id"))
    standin.add_fault(Fault("GET", "list", "status", status=500, times=50, message="list broken"))
    result = run_action(tmp_path, inputs, job_env=_SHORT_BUDGET, timeout=60)

    assert result.exit_code == 0, result.log
    assert len(standin.requests_to("trigger")) == 1  # a 200 is never sent again
    assert len(standin.runs()) == 1
    assert result.outputs["run-id"] == ""
    assert "Run id unknown" in result.stdout
    assert result.errors == []


# --- Matrix legs and long histories -------------------------------------------------------------------

MATRIX_VARIANTS = {
    # Derived name and description: the description's random marker tells the legs apart.
    "derived": ({}, {"REGION": "eu"}, {"REGION": "us"}),
    # The user's own name and description: the arguments tell the legs apart.
    "own-text-other-arguments": (
        {"name": "Deploy shop", "description": "Deploy the shop"},
        {"REGION": "eu"},
        {"REGION": "us"},
    ),
    # Nothing tells them apart: an honest failure, not a guess.
    "own-text-same-arguments": ({"name": "Deploy shop", "description": "Deploy the shop"}, {}, {}),
}


@pytest.mark.parametrize("variant", list(MATRIX_VARIANTS))
def test_matrix_legs_never_adopt_each_others_runs(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str], variant: str
) -> None:
    """Two legs of one workflow run attempt share the derived name; leg B's POST is lost before the API saw it.

    Leg A's run was created a moment before leg B started, within the clock slack of the creation-time check,
    so name and time alone would make leg B report leg A's run as its own while its own release never ran.
    """
    text, extra_a, extra_b = MATRIX_VARIANTS[variant]
    leg_a = {**inputs, **text, "arguments": json.dumps({"VERSION": "v1.4.0", **extra_a})}
    leg_b = {**inputs, **text, "arguments": json.dumps({"VERSION": "v1.4.0", **extra_b})}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()

    result_a = run_action(tmp_path / "a", leg_a)
    standin.add_fault(Fault("POST", "trigger", "drop"))  # the next POST is leg B's
    before_b = {run["id"] for run in standin.runs()}
    result_b = run_action(tmp_path / "b", leg_b, job_env={"NORTHFLANK_HTTP_TIMEOUT": "2"}, timeout=60)
    created_b = record(f"matrix-{variant}", standin, before_b - {result_a.outputs["run-id"]}, result_b, others=1)

    assert result_a.exit_code == 0, result_a.log
    [run_a] = [run for run in standin.runs() if run["id"] == result_a.outputs["run-id"]]
    assert result_b.outputs.get("run-id", "") != run_a["id"], f"leg B adopted leg A's run\n{result_b.log}"
    if variant == "own-text-same-arguments":
        assert result_b.exit_code == 1, result_b.log
        assert len(standin.runs()) == 1
        [error] = result_b.errors
        assert run_a["id"] in error
        assert "cannot tell whether this job or another one" in error
        assert "Leave description empty" in error
        assert len(standin.requests_to("trigger")) == 2  # one per leg: leg B did not resend
        return
    assert result_b.exit_code == 0, result_b.log
    [run_b] = [run for run in created_b if run["id"] != run_a["id"]]
    assert result_b.outputs["run-id"] == run_b["id"]
    assert run_b["arguments"] == json.loads(leg_b["arguments"])
    assert json.loads(result_b.outputs["response"])["arguments"] == json.loads(leg_b["arguments"])
    assert len(standin.requests_to("trigger")) == 3  # leg A once, leg B twice (the first one lost)


@pytest.mark.parametrize("order", ["newest_first", "oldest_first"])
def test_a_lost_answer_costs_a_few_list_reads_even_with_2000_old_runs(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str], order: str
) -> None:
    """The list is walked only until it cannot hold the new run, and never past a cap per lookup.

    Newest first, the first page is already older than the trigger, so one read per look settles it. Oldest
    first, the new run would be on page 20: the walk stops at the cap, and the action fails rather than resend.
    """
    standin.seed_runs(PROJECT, PIPELINE, STAGE, 2000)
    standin.list_order = order
    before = {run["id"] for run in standin.runs()}
    standin.add_fault(Fault("POST", "trigger", "drop"))

    result = run_action(tmp_path, inputs, job_env={"NORTHFLANK_HTTP_TIMEOUT": "2"}, timeout=60)
    created = record(f"2000-runs-{order}", standin, before, result)

    lists = standin.requests_to("list")
    assert all(request.query.get("per_page") == "100" for request in lists)
    if order == "newest_first":
        assert result.exit_code == 0, result.log
        assert len(created) == 1
        assert result.outputs["run-id"] == created[0]["id"]
        assert len(lists) <= 8, f"{len(lists)} list reads"
    else:
        assert result.exit_code == 1, result.log
        assert created == []
        assert len(standin.requests_to("trigger")) == 1
        assert len(lists) <= 10, f"{len(lists)} list reads"
        [error] = result.errors
        assert "not ordered newest first" in error


@pytest.mark.parametrize(("shift", "older_namesakes"), [(-120.0, False), (120.0, True)])
def test_the_api_clock_and_slow_answers_never_turn_a_lookup_into_a_guess(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str], shift: float, older_namesakes: bool
) -> None:
    """With a description of its own, the creation time decides between "may be ours" and "surely not".

    API clock 2 minutes behind ours, list answers 3.5 s slow, answer lost after the run was created: the run
    is still a candidate (an honest failure, no second run). API clock 2 minutes ahead, with namesakes created
    before the job: they are older on the API's clock, so the request is sent again and succeeds.
    """
    standin.shift_clock(shift)
    text = {"name": "Deploy shop", "description": "Deploy the shop"}
    if older_namesakes:
        standin.seed_runs(PROJECT, PIPELINE, STAGE, 3, name_prefix="Deploy shop")
        for run in standin.runs():
            standin.rename_run(run["id"], text["name"], text["description"])
        standin.add_fault(Fault("POST", "trigger", "drop"))
    else:
        standin.add_fault(Fault("POST", "trigger", "drop", create_first=True))
        standin.add_fault(Fault("GET", "list", "delay", delay=3.5, create_first=True, times=50))
    before = {run["id"] for run in standin.runs()}

    # A read timeout above the list's 3.5 s, so the slow answers are read, not timed out.
    result = run_action(tmp_path, {**inputs, **text}, job_env={"NORTHFLANK_HTTP_TIMEOUT": "5"}, timeout=90)
    created = record(f"clock-{shift:+.0f}s", standin, before, result)

    assert len(created) == 1, f"{len(created)} runs\n{result.log}"
    if older_namesakes:
        assert result.exit_code == 0, result.log
        assert result.outputs["run-id"] == created[0]["id"]
        assert len(standin.requests_to("trigger")) == 2
    else:
        assert result.exit_code == 1, result.log
        assert len(standin.requests_to("trigger")) == 1
        [error] = result.errors
        assert created[0]["id"] in error


@pytest.mark.parametrize("rewrite", ["values-as-text", "declared-only"])
def test_a_run_whose_arguments_the_api_rewrote_is_still_recognised(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str], rewrite: str
) -> None:
    """The API may keep argument values as text, or only the arguments its template declares."""
    if rewrite == "values-as-text":
        standin.store_arguments = lambda arguments: {key: str(value) for key, value in arguments.items()}
    else:
        standin.store_arguments = lambda arguments: {key: arguments[key] for key in ("TAG",) if key in arguments}
    standin.add_fault(Fault("POST", "trigger", "drop", create_first=True))
    given = {**inputs, "arguments": '{"TAG": "v1", "REPLICAS": 2}'}

    result = run_action(tmp_path, given, job_env={"NORTHFLANK_HTTP_TIMEOUT": "2"})
    created = record(f"arguments-{rewrite}", standin, set(), result)

    assert result.exit_code == 0, result.log
    assert len(created) == 1, f"{len(created)} runs: sent twice"
    assert result.outputs["run-id"] == created[0]["id"]


def test_a_matrix_sharing_a_description_of_its_own_loses_answers_without_duplicates_or_wrong_adoptions(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    """Three legs share name and description and differ only in arguments, which the runs list does not show.

    Leg `us` loses its POST before the API saw it, leg `ap` loses the answer after its run was created. Each
    reads the candidate runs on their own (GET), rules out the other legs' by their arguments, and so: `us`
    sends again (its run was provably not created), `ap` names its own run and only it, sending nothing more.
    """
    text = {"name": "Deploy shop", "description": "Deploy the shop"}
    legs = {region: {**inputs, **text, "arguments": json.dumps({"REGION": region})} for region in ("eu", "us", "ap")}
    results: dict[str, ActionRun] = {}
    for region, leg in legs.items():
        (tmp_path / region).mkdir()
        before = {run["id"] for run in standin.runs()}
        if region == "us":
            standin.add_fault(Fault("POST", "trigger", "drop"))
        if region == "ap":
            standin.add_fault(Fault("POST", "trigger", "drop", create_first=True))
        results[region] = run_action(tmp_path / region, leg, job_env={"NORTHFLANK_HTTP_TIMEOUT": "2"}, timeout=60)
        record(f"matrix-own-description-{region}", standin, before, results[region])

    runs_by_region: dict[str, list[str]] = {}
    for run in standin.runs():
        runs_by_region.setdefault(run["arguments"]["REGION"], []).append(run["id"])
    assert {region: len(ids) for region, ids in runs_by_region.items()} == {"eu": 1, "us": 1, "ap": 1}, "0 duplicates"
    for region in ("eu", "us"):
        assert results[region].exit_code == 0, results[region].log
        assert results[region].outputs["run-id"] == runs_by_region[region][0], "0 wrong adoptions"
    ap = results["ap"]
    assert ap.exit_code == 1, ap.log
    assert ap.outputs.get("run-id", "") == "", "a run it cannot prove its own is never reported as created"
    [error] = ap.errors
    assert runs_by_region["ap"][0] in error, "the run that matches is named"
    assert runs_by_region["eu"][0] not in error, "the other legs' runs are ruled out"
    assert runs_by_region["us"][0] not in error, "the other legs' runs are ruled out"
    assert len(standin.requests_to("trigger")) == 4, "eu once, us twice (the first never arrived), ap once"
    assert standin.requests_to("get"), "the candidates were read on their own"
