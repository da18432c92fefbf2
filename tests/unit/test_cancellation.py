"""Cancellation (northflank_release/cancellation.py): SIGTERM and SIGINT are the action's inside its block, and
the caller's again after it, so running main() in-process (tests/e2e/test_masking.py, a debugger) leaves
Ctrl-C working."""

from __future__ import annotations

import signal
from types import FrameType

import pytest

from northflank_release.cancellation import Cancellation, Cancelled
from northflank_release.main import main


def test_sigint_interrupts_again_after_an_in_process_main(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"PROJECT_ID": "shop", "PIPELINE_ID": "release", "STAGE": "staging", "DRY_RUN": "true"}.items():
        monkeypatch.setenv(f"NORTHFLANK_{name}", value)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

    assert main([]) == 0

    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)


def test_a_signal_inside_the_block_is_recorded_and_the_callers_handlers_come_back() -> None:
    received: list[int] = []

    def callers(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    before = signal.signal(signal.SIGTERM, callers)
    try:
        with Cancellation() as cancellation:
            signal.raise_signal(signal.SIGTERM)
            with pytest.raises(Cancelled) as cancelled:
                cancellation.check()
        assert cancelled.value.exit_code == 143
        assert received == []  # the action's, inside the block

        signal.raise_signal(signal.SIGTERM)
        assert received == [signal.SIGTERM]  # the caller's again after it
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGTERM, before)
