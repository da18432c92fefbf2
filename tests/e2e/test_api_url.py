"""api-url is accepted only when the HTTP stack connects where the check looked (northflank_release/api_url.py)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from urllib3.util import parse_url

from northflank_release.api_url import read_api_url
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


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://evil.example\\@localhost", "backslash"),
        ("http://evil.example\\@[::1]", "backslash"),
        ("https://api.example.com\\path", "backslash"),
        ("http://u53r:pa55w0rd@127.0.0.1:8080", "user name or password"),
        ("https://u53r@api.example.com", "user name or password"),
        ("https://api.example.com/x y", "a space at character 26"),
        ("https://api.example.com/\tx", "U+0009"),
        ("https://api.example.com\x00.evil", "U+0000"),
        ("https://api.example.com\u200b", "U+200B"),
        ("https://api.example.com/?q=1", "query or fragment"),
        ("https://api.example.com#frag", "query or fragment"),
        ("http://localhost.", "plain http to a non-loopback host"),
        ("http://127.0.0.1:99999", "port or host that is not valid"),
        ("ftp://x", "is not a URL"),
        ("https://", "is not a URL"),
    ],
)
def test_each_unsafe_url_is_refused_naming_the_part_and_never_its_userinfo(url: str, refused: str) -> None:
    problem = read_api_url(url).problem

    assert refused in problem
    assert "pa55w0rd" not in problem
    assert "u53r" not in problem


@pytest.mark.parametrize(
    "url",
    ["https://api.northflank.com", "http://127.0.0.1:8080/", "http://[::1]:80", "HTTP://LOCALHOST:1", "https://gw/nf"],
)
def test_ordinary_urls_are_accepted(url: str) -> None:
    api_url = read_api_url(url)

    assert api_url.problem == ""
    assert api_url.url == url.rstrip("/").replace("HTTP://", "http://")


_URL_CHARS = st.sampled_from(list("abz09.-:@/\\?#[]%_~!$&'()*+,;= \t\x00\u00e9\u0131\uff0e"))


@settings(max_examples=2000)
@given(host=st.text(_URL_CHARS, min_size=1, max_size=20), rest=st.text(_URL_CHARS, max_size=10))
def test_every_accepted_url_is_read_alike_by_urllib3(host: str, rest: str) -> None:
    """Whatever the check accepts, urllib3 (what requests connects with) reads the same scheme, host and port."""
    for scheme in ("http", "https"):
        url = f"{scheme}://{host}{rest}"
        api_url = read_api_url(url)
        if api_url.problem:
            continue
        ours = urlsplit(api_url.url)
        theirs = parse_url(api_url.url)
        assert theirs.auth is None
        assert (theirs.scheme, (theirs.host or "").strip("[]").lower(), theirs.port) == (
            scheme,
            (ours.hostname or "").lower(),
            ours.port,
        ), url
