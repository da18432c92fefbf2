"""SIGTERM and SIGINT handling: the entry point is PID 1 in the container, which gets no default handling.

A signal only records itself while the action does something that must not be cut (the trigger, writing
outputs). While it waits (sleeping or reading a status) the signal interrupts at once, so a cancelled
job ends within the runner's grace period.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Self

Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None  # as signal.signal returns it

NOTHING_SENT = "The job was cancelled before the run was triggered; nothing was sent."
# After its first signal the runner waits 7.5 s before the next, then 2.5 s before it kills the process
# (actions/runner src/Runner.Sdk/ProcessInvoker.cs: _sigintTimeout 7500 ms, _sigtermTimeout 2500 ms). A
# request that cannot be cut (the trigger) gets this long for its answer after the signal, so the action
# can still say what it knows before the kill.
ANSWER_GRACE_SECONDS = 5.0


class Cancelled(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # 143 for SIGTERM, 130 for SIGINT, as shells report them


class Cancellation:
    """`with Cancellation() as cancellation:` handles SIGTERM and SIGINT inside the block and gives the handlers
    it replaced back at its end, so a caller that runs main() in-process (a test, a debugger) keeps its Ctrl-C.
    Without the block (the tests of the wait), it records nothing and handles no signal."""

    def __init__(self, announce: Callable[[int], None] = lambda _signum: None) -> None:
        self.signum: int | None = None
        self._interruptible = False
        self._replaced: dict[int, Handler] = {}
        # Called on each signal, at once: prints what is known (sent or not, the run's id or not), so a job
        # killed before it ends still says it in its log. It must not print through buffered streams.
        self.announce = announce

    def __enter__(self) -> Self:
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._replaced[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *_exc: object) -> None:
        for signum, previous in self._replaced.items():
            # None: a handler not set from Python, which signal.signal cannot set back; the default stands in.
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)
        self._replaced.clear()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.signum = signum
        self.announce(signum)
        # A request under a deadline (api/bounded.py) that must not be cut now has only the grace left.
        remaining, _interval = signal.getitimer(signal.ITIMER_REAL)
        if remaining > ANSWER_GRACE_SECONDS:
            signal.setitimer(signal.ITIMER_REAL, ANSWER_GRACE_SECONDS)
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
