"""Once the API has accepted a run, its id reaches the outputs: no header, charset, size or signal stops it.

Every case answers the trigger with a run (the run exists) through a server that speaks raw HTTP
(testing/hostile_http.py), then misbehaves, and checks what a user sees: `run-id` in GITHUB_OUTPUT as the
runner parses it, the exit status, the time the step took, and no traceback. The cases that send nothing
check that they say so, at once, without printing a credential.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from testing.hostile_http import HostileServer, ReleaseApi, Reply, Request, answer
from testing.northflank_standin import API_TOKEN_DEFAULT
from testing.runner import ActionRun, StartedAction, start_action

RUN_ID = "release-run-4f2a"
CREATED = {"data": {"id": RUN_ID, "name": "v1.4.0", "status": "pending"}}
# Interpreter start-up and the action's own work: far above what it takes, far below the hang a case provokes.
QUICK = 10.0
# The runner's grace between its first signal and the next one (actions/runner src/Runner.Sdk/ProcessInvoker.cs,
# _sigintTimeout = 7500 ms): a step that has not ended by then is killed, here with SIGKILL at once.
RUNNER_GRACE = 7.5


def created(headers: list[tuple[str, str]] | None = None, **options: Any) -> Callable[[Request], Reply]:
    return lambda _request: Reply(answer(201, CREATED, headers, reason="Created", **options))


@pytest.fixture
def hostile() -> Iterator[Callable[[ReleaseApi], HostileServer]]:
    servers: list[HostileServer] = []

    def serve(api: ReleaseApi) -> HostileServer:
        server = HostileServer(api).__enter__()
        servers.append(server)
        return server

    yield serve
    for server in servers:
        server.__exit__(None, None, None)


def release_inputs(url: str, **more: str) -> dict[str, str]:
    return {
        "api-token": API_TOKEN_DEFAULT,
        "project-id": "shop",
        "pipeline-id": "release-pipeline",
        "stage": "production",
        "arguments": "VERSION=v1.4.0",
        "api-url": url,
        **more,
    }


def finished(started: StartedAction, timeout: float = 60) -> ActionRun:
    result = started.finish(timeout, measure=True)
    print(f"exit {result.exit_code} after {result.seconds:.2f}s")  # the figures for the closing note
    assert "Traceback" not in result.log
    assert "Unexpected error" not in result.log
    return result


def run(tmp_path: Path, inputs: dict[str, str], job_env: dict[str, str] | None = None) -> ActionRun:
    return finished(start_action(tmp_path, inputs, job_env=job_env))


def strict_json(text: str) -> Any:
    """JSON as fromJSON() and every other strict reader take it: no NaN, no Infinity."""

    def refuse(name: str) -> None:
        raise AssertionError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


# --- Linear, bounded output fitting ---


def test_a_run_of_24000_keys_is_reported_at_once(tmp_path: Path, hostile: Callable[..., HostileServer]) -> None:
    run_object = {"id": RUN_ID, "status": "pending", **{f"k{index:05d}": "x" * 24 for index in range(24000)}}
    server = hostile(ReleaseApi(trigger=lambda _r: Reply(answer(201, {"data": run_object}, reason="Created"))))

    result = run(tmp_path, release_inputs(server.url))

    assert result.exit_code == 0, result.log
    assert result.outputs["run-id"] == RUN_ID
    assert result.seconds < QUICK  # it took 508 s when each dropped key re-serialised the rest
    response = strict_json(result.outputs["response"])
    assert response["id"] == RUN_ID
    assert "left out" in response["_truncated"]
    assert len(result.outputs["response"].encode()) <= 256 * 1024


# --- Finite numbers only ---


@pytest.mark.parametrize("value", ["inf", "nan", "1e400", "-5", "9" * 400, "Infinity"])
def test_a_rate_limit_header_that_is_no_finite_number_does_not_stop_the_run_id(
    tmp_path: Path, hostile: Callable[..., HostileServer], value: str
) -> None:
    headers = [("x-ratelimit-remaining", value), ("x-ratelimit-reset", value), ("Retry-After", value)]
    server = hostile(ReleaseApi(trigger=created(headers)))

    result = run(tmp_path, release_inputs(server.url))

    assert result.exit_code == 0, result.log
    assert result.outputs["run-id"] == RUN_ID
    assert len(server.requests_to("POST")) == 1


@pytest.mark.parametrize(
    "headers",
    [
        [("Retry-After", "inf")],
        [("Retry-After", "1e400")],
        [("Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT")],
        [("Retry-After", "Sat, 01 Jan 99999 00:00:00 GMT")],
        [("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "inf")],
        [("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1e308")],
    ],
)
def test_a_pause_no_clock_can_keep_ends_the_wait_at_its_timeout_with_the_outputs_and_summary(
    tmp_path: Path, hostile: Callable[..., HostileServer], headers: list[tuple[str, str]]
) -> None:
    limited = answer(429, {"error": {"message": "slow down"}}, headers, reason="Too Many Requests")
    running = answer(200, {"data": {"id": RUN_ID, "status": "running"}}, headers)
    server = hostile(
        ReleaseApi(trigger=created(headers), read=lambda r: Reply(limited if len(server.requests) % 2 else running))
    )

    result = run(tmp_path, release_inputs(server.url, wait="true", timeout="4s", **{"poll-interval": "1s"}))

    assert result.exit_code == 1, result.log
    assert result.outputs["run-id"] == RUN_ID
    assert [title for title, _ in result.annotations] == ["Timed out waiting for the release"]
    assert result.outputs["concluded"] == "false"
    assert "Timed out" in result.summary or "Stopped waiting" in result.summary
    assert result.seconds < 4 + 3 + QUICK


# --- Strict text ---


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json; charset=utf-7", json.dumps(CREATED).replace('"v1.4.0"', '"v1.4.0 +2AA-"').encode()),
        ("application/json; charset=unicode_escape", json.dumps(CREATED).replace("v1.4.0", "v1\\ud800").encode()),
        ("application/json; charset=latin-1", json.dumps(CREATED).encode()),
        ("application/json; charset=no-such-charset", json.dumps(CREATED).encode()),
        ("application/json", b"\xef\xbb\xbf" + json.dumps(CREATED).encode()),
        ("application/json", json.dumps(CREATED).replace('"v1.4.0"', '"\\ud800 cut"').encode()),
        ("application/json", json.dumps(CREATED).replace('"v1.4.0"', '"\\udfff"').encode()),
        ("application/json", json.dumps(CREATED).replace('"v1.4.0"', '"v1.4.0", "weight": NaN, "cost": -Infinity')),
        ("application/json", json.dumps(CREATED).replace('"v1.4.0"', '"v1.4.0", "big": 1e400, "huge": ' + "9" * 5000)),
        ("application/json", json.dumps(CREATED).replace('"v1.4.0"', '"v1.4.0", "deep": ' + "[" * 988 + "]" * 988)),
    ],
    ids=[
        "utf-7",
        "unicode_escape",
        "latin-1",
        "unknown-charset",
        "bom",
        "lone-high",
        "lone-low",
        "nan",
        "1e400",
        "deep",
    ],
)
def test_an_accepted_run_in_text_that_is_not_plain_json_still_reaches_the_outputs(
    tmp_path: Path, hostile: Callable[..., HostileServer], content_type: str, body: bytes | str
) -> None:
    server = hostile(
        ReleaseApi(trigger=lambda _r: Reply(answer(201, body, reason="Created", content_type=content_type)))
    )

    result = run(tmp_path, release_inputs(server.url))

    assert result.exit_code == 0, result.log
    assert result.outputs["run-id"] == RUN_ID
    assert strict_json(result.outputs["response"])["id"] == RUN_ID
    assert len(server.requests_to("POST")) == 1
    assert "not triggered" not in result.log


# --- Publish first, and signals ---


def signal_then_kill(started: StartedAction, signum: int, at: float) -> ActionRun:
    """The runner's cancellation: a signal at `at` seconds, and a kill RUNNER_GRACE later if the step is alive."""
    time.sleep(max(0.0, at - (time.monotonic() - started.started)))
    started.process.send_signal(signum)
    kill_at = time.monotonic() + RUNNER_GRACE
    # WNOWAIT: look without reaping, so finish() still reaps it and measures it.
    while os.waitid(os.P_PID, started.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        if time.monotonic() > kill_at:
            started.process.kill()
            break
        time.sleep(0.02)
    return finished(started)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_hanging_status_read_after_the_trigger_cannot_hold_back_the_run_id(
    tmp_path: Path, hostile: Callable[..., HostileServer], signum: int
) -> None:
    no_status = {"data": {"id": RUN_ID, "name": "v1.4.0"}}  # so the action reads the run once
    server = hostile(ReleaseApi(trigger=lambda _r: Reply(answer(201, no_status, reason="Created"))))
    started = start_action(tmp_path, release_inputs(server.url))
    while not server.requests_to("GET") and time.monotonic() - started.started < QUICK:
        time.sleep(0.05)

    result = signal_then_kill(started, signum, at=2.0)

    assert result.outputs["run-id"] == RUN_ID
    assert f"Triggered run {RUN_ID}" in result.log
    assert f"Received {signal.Signals(signum).name}: run {RUN_ID} was triggered" in result.log
    assert result.exit_code == 128 + signum  # it ended itself, within the grace
    assert result.seconds < 2.0 + 2.0


def test_without_a_signal_the_hanging_status_read_is_short(
    tmp_path: Path, hostile: Callable[..., HostileServer]
) -> None:
    no_status = {"data": {"id": RUN_ID, "name": "v1.4.0"}}
    server = hostile(ReleaseApi(trigger=lambda _r: Reply(answer(201, no_status, reason="Created"))))

    result = run(tmp_path, release_inputs(server.url))

    assert result.exit_code == 0, result.log
    assert result.outputs["run-id"] == RUN_ID
    assert result.seconds < 3.0 + QUICK  # the read's own 3 s, not the client's 30 s read timeout


def test_a_signal_during_a_slow_trigger_says_what_is_known_and_the_late_answer_is_reported(
    tmp_path: Path, hostile: Callable[..., HostileServer]
) -> None:
    server = hostile(ReleaseApi(trigger=lambda _r: Reply(answer(201, CREATED, reason="Created"), delay=3.0)))
    started = start_action(tmp_path, release_inputs(server.url))

    result = signal_then_kill(started, signal.SIGTERM, at=1.0)

    assert "Received SIGTERM: the trigger request was sent and its answer has not come" in result.log
    assert result.outputs["run-id"] == RUN_ID
    assert result.exit_code == 143
    assert [title for title, _ in result.annotations] == ["Cancelled"]


def test_a_signal_during_a_trigger_that_never_answers_ends_the_step_within_the_grace_saying_so(
    tmp_path: Path, hostile: Callable[..., HostileServer]
) -> None:
    server = hostile(ReleaseApi(trigger=lambda _r: Reply(hang=True)))
    started = start_action(tmp_path, release_inputs(server.url))

    result = signal_then_kill(started, signal.SIGTERM, at=1.0)

    assert result.exit_code == 143, "the action ended itself before the kill"
    assert "Received SIGTERM: the trigger request was sent" in result.log
    [(title, message)] = result.annotations
    assert title == "Cancelled"
    assert "after 1 request(s) whose answers were lost" in message
    assert result.seconds < 1.0 + RUNNER_GRACE
    assert len(server.requests_to("POST")) == 1


# --- Nothing sent means nothing sent ---

PROXY_PASSWORD = "pr0xy-Secret-77"
PROXY_BASIC = "dXNlcjpwcjB4eS1TZWNyZXQtNzc="  # base64 of user:pr0xy-Secret-77, as Proxy-Authorization carries it


def assert_no_proxy_credentials(result: ActionRun) -> None:
    """Only in the runner's add-mask commands, which make the runner hide them (as the token)."""
    shown = [line for line in result.log.splitlines() if not line.startswith("::add-mask::")]
    for secret in (PROXY_PASSWORD, PROXY_BASIC, f"user:{PROXY_PASSWORD}"):
        assert secret not in "\n".join(shown) + result.raw_outputs + result.summary


@pytest.mark.parametrize(
    ("variable", "proxy"),
    [
        ("HTTPS_PROXY", f"http://user:{PROXY_PASSWORD}@proxy.internal:99999"),
        ("https_proxy", f"socks5://user:{PROXY_PASSWORD}@proxy.internal:1080"),
        ("ALL_PROXY", f"http://user:{PROXY_PASSWORD}@[::1"),
        ("HTTPS_PROXY", "ftp://proxy.internal:21"),
    ],
)
def test_a_proxy_setting_the_http_stack_cannot_use_fails_at_once_naming_it_with_nothing_sent(
    tmp_path: Path, variable: str, proxy: str
) -> None:
    # https to a closed loopback port: should the proxy be skipped, nothing could arrive anywhere either.
    result = run(tmp_path, release_inputs("https://127.0.0.1:9"), job_env={variable: proxy})

    assert result.exit_code == 1
    [(title, message)] = result.annotations
    assert title == "The release flow was not triggered"
    assert variable in message
    assert "nothing was sent" in message
    assert "may have been created" not in result.log
    assert result.seconds < QUICK  # not the trigger's 120 s of list reads
    assert result.outputs.get("run-id", "") == ""
    assert_no_proxy_credentials(result)


def test_a_proxy_refusal_that_echoes_its_credentials_shows_none_of_them(
    tmp_path: Path, hostile: Callable[..., HostileServer]
) -> None:
    refusal = f"Proxy-Authorization: Basic {PROXY_BASIC} for user:{PROXY_PASSWORD} \x1b[31m\u202e"
    proxy = hostile(lambda _request: Reply(f"HTTP/1.1 407 {refusal}\r\nContent-Length: 0\r\n\r\n".encode()))
    proxy_url = f"http://user:{PROXY_PASSWORD}@127.0.0.1:{proxy.port}"

    result = run(tmp_path, release_inputs("https://127.0.0.1:9"), job_env={"HTTPS_PROXY": proxy_url})

    assert [request.method for request in proxy.requests] == ["CONNECT"]
    assert proxy.requests[0].headers["proxy-authorization"] == f"Basic {PROXY_BASIC}"  # what it could echo
    assert result.exit_code == 1
    [(title, message)] = result.annotations
    assert title == "The release flow was not triggered"
    assert "407" in message
    assert "nothing was sent" in message
    assert_no_proxy_credentials(result)
    assert "\x1b" not in result.log
    assert "\u202e" not in result.log


# --- Log lines as inert as the summary ---


def test_control_characters_and_bidi_overrides_from_the_api_are_replaced_in_the_log(
    tmp_path: Path, hostile: Callable[..., HostileServer]
) -> None:
    message = "\x1b[2J\x1b[31mrefused\u202e)lanigiro(\u2066 \x07 done"
    server = hostile(
        ReleaseApi(trigger=lambda _r: Reply(answer(409, {"error": {"message": message}}, reason="Conflict\x1b[0m")))
    )

    result = run(tmp_path, release_inputs(server.url))

    assert result.exit_code == 1
    [(_title, shown)] = result.annotations
    assert "refused" in shown
    assert "\ufffd" in shown
    for char in "\x1b\x07\u202e\u2066":
        assert char not in result.log


# --- Titles that say what is known ---

SIGN_IN = "<html><head><title>Sign in</title></head><body>Sign in with your company account</body></html>"


def test_a_sign_in_page_on_every_route_is_titled_unknown_not_untriggered(
    tmp_path: Path, hostile: Callable[..., HostileServer]
) -> None:
    page = Reply(answer(200, SIGN_IN, content_type="text/html; charset=utf-8"))
    server = hostile(lambda _request: page)

    result = run(tmp_path, release_inputs(server.url), job_env={"NORTHFLANK_TRIGGER_RETRY_SECONDS": "3"})

    assert result.exit_code == 1
    [(title, message)] = result.annotations
    assert "may have been created" in message or "may have been accepted" in message
    assert title == "Unknown whether the release flow was triggered"
    assert "not triggered" not in title
    assert len(server.requests_to("POST")) == 1
