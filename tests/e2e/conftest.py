"""The fault tally in the terminal summary, from this process or, under xdist, from every worker: each worker
hands its outcomes over in `workeroutput`, the channel xdist provides for that (pytest-xdist's
"how-to" on sending data from workers to the controller)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.tally import OUTCOMES, Outcome, as_data, tally_line

_FROM_WORKERS: list[Outcome] = []


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput: dict[str, Any] | None = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["fault_outcomes"] = as_data(OUTCOMES)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    outcomes = getattr(node, "workeroutput", {}).get("fault_outcomes", [])
    _FROM_WORKERS.extend(Outcome(**outcome) for outcome in outcomes)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    outcomes = OUTCOMES + _FROM_WORKERS
    if outcomes:
        terminalreporter.write_line(tally_line(outcomes))
