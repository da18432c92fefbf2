"""Real network peers the action meets on self-hosted runners: a forward proxy and a private CA.

The proxy is a real HTTP proxy on 127.0.0.1 that records every byte it is sent and answers CONNECT with a
chosen status: 407 or 403, as corporate proxies refuse, or 200 and a real tunnel to the target. Plain
proxied requests get 502: it never forwards them, so anything sent in clear goes no further.
The CA is made with the openssl command line, as an administrator would make one.
"""

from __future__ import annotations

import select
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self


@dataclass
class RecordingProxy:
    connect_status: int = 407
    connect_reason: str = "Proxy Authentication Required"
    received: list[bytes] = field(default_factory=list)  # each request's head and body, as sent
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                head = f"{self.requestline}\r\n{self.headers}".encode("latin-1")
                proxy.received.append(head + body)

            def do_CONNECT(self) -> None:
                self._record()
                if proxy.connect_status == 200:
                    self._tunnel()
                    return
                self.send_response(proxy.connect_status, proxy.connect_reason)
                self.send_header("Proxy-Authenticate", 'Basic realm="corp"')
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _tunnel(self) -> None:
                host, _, port = self.path.rpartition(":")
                upstream = socket.create_connection((host, int(port)), timeout=30)
                self.send_response(200, "Connection established")
                self.end_headers()
                ends = [self.connection, upstream]
                while True:
                    readable, _, _ = select.select(ends, [], [], 30)
                    if not readable:
                        break
                    for end in readable:
                        data = end.recv(65536)
                        if not data:
                            upstream.close()
                            self.close_connection = True
                            return
                        (upstream if end is self.connection else self.connection).sendall(data)

            def _refuse(self) -> None:
                self._record()
                self.send_response(502, "Bad Gateway")
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_PUT = do_DELETE = _refuse

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@dataclass(frozen=True)
class PrivateCA:
    """A CA no default trust store knows, and a server certificate it signed for 127.0.0.1."""

    ca: Path
    certificate: Path
    key: Path


def make_private_ca(folder: Path) -> PrivateCA:
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    folder.mkdir(parents=True, exist_ok=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Self-hosted runner test CA")  # fmt: skip
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"
    )
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n", encoding="utf-8")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "san.ext")  # fmt: skip
    return PrivateCA(folder / "ca.pem", folder / "server.pem", folder / "server.key")
