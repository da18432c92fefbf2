"""scripts/peers.py's record: what counts as a second run or a lost id, and how a cell says it.

The record itself runs the real tools (scripts/peers); here only its counting, on attempts made by hand.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from testing.runner import REPO


def load_peers() -> ModuleType:
    spec = importlib.util.spec_from_file_location("peers", REPO / "scripts" / "peers.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["peers"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


peers = load_peers()


def attempt(created: tuple[str, ...], reported: str, exit_code: int | None = 0) -> object:
    return peers.Attempt(created, reported, posts=len(created), exit_code=exit_code, seconds=1.2)


def test_a_second_run_and_a_lost_id_are_counted_per_fault() -> None:
    results = {
        "drop": attempt(("a", "b"), "b"),  # the id of the second run: reported, yet two runs
        "no-id": attempt(("a",), ""),  # a run, but the caller was not told which
        "wrong": attempt(("a",), "x"),  # an id that names no run the API created counts as lost
        "outage": attempt((), "", exit_code=1),  # an honest failure: nothing created, nothing to report
        "fine": attempt(("a",), "a"),
        "slow": peers.NotMeasured("left out (--skip-slow)"),
    }

    tally = peers.tally(results)

    assert tally.measured == 5
    assert tally.duplicated == ["drop"]
    assert tally.lost == ["no-id", "wrong"]
    assert tally.sentence() == (
        "5 faults measured; a second run after 1 (drop); a created run's id not reported after 2 (no-id, wrong)"
    )


def test_a_cell_bolds_a_second_run_and_a_lost_id_only() -> None:
    assert peers.cell(attempt(("a", "b"), "b")) == "**2 runs**, id, exit 0 (2 POSTs, 1 s)"
    assert peers.cell(attempt(("a",), "")) == "1 run, **no id**, exit 0 (1 POST, 1 s)"
    assert peers.cell(attempt(("a",), "x")) == "1 run, **an id of no run**, exit 0 (1 POST, 1 s)"
    assert peers.cell(attempt((), "", exit_code=1)) == "0 runs, no id, exit 1 (0 POSTs, 1 s)"
    assert peers.cell(attempt(("a",), "", exit_code=None)).startswith("1 run, **no id**, killed at ")
    assert peers.cell(peers.NotMeasured("npm is missing")) == "not measured: npm is missing"
    assert peers.tally({"slow": peers.NotMeasured("left out")}).sentence() == "not measured"
