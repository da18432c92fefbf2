"""A server that speaks raw HTTP, for answers no well-behaved framework would send: any status line, any
header (`x-ratelimit-remaining: inf`, `Content-Type: ...; charset=utf-7`), any bytes, after any delay, or
none at all. It also answers a proxy's CONNECT as a proxy would (a 407 whose reason phrase says anything).

Each test gives a handler: a function from the request to a Reply. One thread per connection; every reply
closes its connection, so requests cannot carry a half-read answer into the next request.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # the path and query, or host:port for a CONNECT
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


@dataclass(frozen=True)
class Reply:
    raw: bytes = b""  # the whole answer as written to the socket
    delay: float = 0.0  # seconds before it is written
    hang: bool = False  # write nothing and hold the connection open until the server stops


def answer(
    status: int,
    body: bytes | str | dict[str, Any] = b"",
    headers: list[tuple[str, str]] | None = None,
    *,
    reason: str = "OK",
    content_type: str = "application/json",
) -> bytes:
    """An HTTP/1.1 answer, byte for byte: a dict body is JSON, a str body UTF-8; headers as given, in order."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body.encode() if isinstance(body, str) else body
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}", f"Content-Length: {len(data)}"]
    lines += [f"{name}: {value}" for name, value in headers or []]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data


class HostileServer:
    """Serves `handler`'s replies on 127.0.0.1; `requests` lists what arrived, in order."""

    def __init__(self, handler: Callable[[Request], Reply]) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests_to(self, method: str) -> list[Request]:
        return [request for request in self.requests if request.method == method]

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stopped.set()
        self._thread.join(5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(10)
            try:
                request = _read_request(connection)
            except (OSError, ValueError):
                return
            self.requests.append(request)
            reply = self.handler(request)
            if reply.hang:
                self._stopped.wait()
                return
            if reply.delay and self._stopped.wait(reply.delay):
                return
            try:
                connection.sendall(reply.raw)
                connection.shutdown(socket.SHUT_WR)
                time.sleep(0.05)  # let the client read before the close (a reset could drop unread bytes)
            except OSError:
                return


def _read_request(connection: socket.socket) -> Request:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            raise ValueError("closed before the headers ended")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    method, target, _version = request_line.split(" ", 2)
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return Request(method, target, headers, body)


@dataclass
class ReleaseApi:
    """The few routes a release uses, answered from a script of raw replies: `trigger` for the POST, `read`
    for the GET of the run, `listing` for the runs list. Each is a function of the request, so a test can
    count, delay or vary its answers."""

    trigger: Callable[[Request], Reply]
    read: Callable[[Request], Reply] = field(default=lambda _request: Reply(hang=True))
    listing: Callable[[Request], Reply] = field(default=lambda _request: Reply(answer(200, {"data": {"runs": []}})))

    def __call__(self, request: Request) -> Reply:
        if request.method == "POST":
            return self.trigger(request)
        if request.method == "GET" and request.path.endswith("/runs"):
            return self.listing(request)
        if request.method == "GET":
            return self.read(request)
        return Reply(answer(405, {"error": {"message": "method not allowed"}}, reason="Method Not Allowed"))
