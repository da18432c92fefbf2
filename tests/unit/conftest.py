"""The unit tier runs in one process: a test that starts a program belongs a tier up (tests/README.md)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

_PROCESS_EVENTS = frozenset({"subprocess.Popen", "os.system", "os.posix_spawn", "os.spawn", "os.exec", "os.fork"})
_running: list[str] = []  # the unit test running now, if any: the hook is the process's, the rule the tier's


def _refuse_processes(event: str, args: tuple[Any, ...]) -> None:
    if _running and event in _PROCESS_EVENTS:
        raise RuntimeError(f"{_running[0]} starts a process ({event} {args[:2]!r}): move it to a higher tier")


sys.addaudithook(_refuse_processes)  # audit hooks see every way a process starts, from any library


@pytest.fixture(autouse=True)
def _in_process(request: pytest.FixtureRequest) -> Iterator[None]:
    _running.append(request.node.nodeid)
    try:
        yield
    finally:
        _running.clear()
