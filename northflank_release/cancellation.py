"""SIGTERM and SIGINT handling: the entry point is PID 1 in the container, which gets no default handling.

A signal only records itself while the action does something that must not be cut (the trigger, writing
outputs). While it waits (sleeping or reading a status) the signal interrupts at once, so a cancelled
job ends within the runner's grace period.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

NOTHING_SENT = "The job was cancelled before the run was triggered; nothing was sent."


class Cancelled(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # 143 for SIGTERM, 130 for SIGINT, as shells report them


class Cancellation:
    def __init__(self) -> None:
        self.signum: int | None = None
        self._interruptible = False

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.signum = signum
        if self._interruptible:
            self._interruptible = False
            raise Cancelled(signum)

    def check(self) -> None:
        if self.signum is not None:
            raise Cancelled(self.signum)

    @contextmanager
    def interruptible(self) -> Iterator[None]:
        self.check()
        self._interruptible = True
        try:
            yield
        finally:
            self._interruptible = False
