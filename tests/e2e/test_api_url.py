"""api-url is accepted only when the HTTP stack connects where the check looked (northflank_release/api_url.py)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from testing.northflank_standin import NorthflankStandin
from testing.runner import run_action


class Listener:
    """A TCP listener on another loopback address, standing in for a remote host: it records what it is sent."""

    def __init__(self, address: str) -> None:
        self.server = socket.create_server((address, 0))
        self.port = self.server.getsockname()[1]
        self.received: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(2)
                try:
                    self.received.append(connection.recv(65536))
                    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\n" + b'{"data": {"id": "remote"}}')
                except OSError:
                    pass


@pytest.fixture
def remote() -> Iterator[Listener]:
    listener = Listener("127.0.0.2")
    yield listener
    listener.server.close()


def test_a_backslash_url_sends_nothing_to_the_host_before_it(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str], remote: Listener
) -> None:
    """urlsplit reads 127.0.0.1 (after the '@'), urllib3 connects to 127.0.0.2 (before the '\\')."""
    url = f"http://127.0.0.2:{remote.port}\\@{standin.url.removeprefix('http://')}"

    result = run_action(tmp_path, {**inputs, "api-url": url})

    assert result.exit_code == 1, result.log
    assert remote.received == [], "the token went to the host before the backslash"
    assert standin.requests == []
    [error] = result.errors
    assert error.startswith("Invalid input: api-url: api-url has a backslash")


def test_a_dry_run_does_not_show_a_backslash_url_as_loopback(tmp_path: Path, inputs: dict[str, str]) -> None:
    result = run_action(tmp_path, {**inputs, "api-url": "http://evil.example\\@localhost", "dry-run": "true"})

    assert result.exit_code == 1
    assert "would POST" not in result.log
