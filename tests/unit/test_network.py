"""network.explain on real failures from real sockets: what each means for a request that may have reached
the API, and whether sending it again could go differently."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import requests

from northflank_release.api.network import explain
from testing.northflank_standin import NorthflankStandin, Outage


def failure(url: str, timeout: float | tuple[float, float] = 2.0) -> requests.RequestException:
    try:
        requests.get(url, timeout=timeout)
    except requests.RequestException as error:
        return error
    raise AssertionError("the request succeeded")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections, reads the request, and then does what the test sets: nothing, or reset."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.01)  # how soon the fixture ends once the test has
        held = []
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            connection.recv(65536)
            held.append(connection)
        for connection in held:
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    server.close()


def test_a_refused_connection_sent_nothing_and_may_be_retried() -> None:
    problem = explain(failure(f"http://127.0.0.1:{closed_port()}/"))

    assert problem.text == "connection refused"
    assert not problem.may_have_arrived
    assert not problem.persistent


def test_a_name_that_does_not_resolve_sent_nothing() -> None:
    problem = explain(failure("http://northflank-release-test.invalid/"))

    assert "does not resolve" in problem.text
    assert not problem.may_have_arrived


def test_no_answer_before_the_read_timeout_may_have_arrived(silent_server: int) -> None:
    problem = explain(failure(f"http://127.0.0.1:{silent_server}/", timeout=(2.0, 0.05)))

    assert problem.text == "no answer before the read timeout"
    assert problem.may_have_arrived


def test_a_reset_after_the_request_may_have_arrived() -> None:
    with NorthflankStandin() as standin:
        standin.outage = Outage("reset", 60.0, start=standin.clock())
        problem = explain(failure(standin.url + "/v1/anything"))

    assert problem.text == "connection closed before an answer"
    assert problem.may_have_arrived
