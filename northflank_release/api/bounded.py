"""Every answer is read within a size limit and a total deadline.

requests' timeouts bound each read, not a whole answer: an API (or whatever answers in its place) that
drips one byte a second holds a request for ever, and an endless body fills the memory. So each request
streams, stops reading past MAX_ANSWER_BYTES, and runs under a total deadline that interrupts it wherever
it waits: connecting, the TLS handshake, the headers or the body. The deadline is a SIGALRM timer, as
cancellation.py interrupts a wait with SIGTERM; a handler that raises makes the blocked call raise too
(PEP 475). Signals reach only the main thread, where the action makes every request; elsewhere (a test's
helper thread) only the per-read timeouts apply.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

import requests

# A run with its flow template, or a page of 100 runs, is tens of KiB; 4 MiB is far above any real answer.
MAX_ANSWER_BYTES = 4 * 1024 * 1024
_CHUNK = 64 * 1024


class AnswerTooSlow(requests.exceptions.ReadTimeout):
    """No complete answer within the request's total deadline: like a read timeout, it may have arrived."""


class _DeadlinePassed(Exception):
    """Raised inside the HTTP stack by the timer; not an OSError, so urllib3 cannot take it for a network
    error and retry or wrap it."""


@dataclass(frozen=True)
class Body:
    data: bytes
    cut: bool  # the answer went on past the limit, and the rest was not read


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise AnswerTooSlow when the block has not ended within `seconds`."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    armed = True

    def expire(_signum: int, _frame: FrameType | None) -> None:
        if armed:
            raise _DeadlinePassed

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
    started = time.monotonic()
    try:
        yield
    except _DeadlinePassed:
        # The time it took, not `seconds`: a cancellation shortens the deadline (cancellation.py).
        raise AnswerTooSlow(f"no complete answer within {time.monotonic() - started:.0f}s") from None
    finally:
        armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def read_body(response: requests.Response, limit: int = MAX_ANSWER_BYTES) -> Body:
    """The body of a streamed response, at most `limit` bytes; the connection is closed when it is cut."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(_CHUNK):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            response.close()  # the rest is never read: the pool must not reuse this connection
            return Body(b"".join(chunks)[:limit], True)
    return Body(b"".join(chunks), False)
