"""The fault-injection tally: every fault case counts its duplicates (a second run), lost runs (a run exists,
the job went green without naming it), adopted runs (run-id names a run this job did not create) and the
requests it used. tests/e2e/test_faults.py fills it; tests/conftest.py prints it in the terminal summary, summed
over xdist's workers."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Outcome:
    case: str
    new_runs: int
    run_id_named: bool  # False when a run exists but `run-id` does not name it
    failed: bool  # the job failed, so a run it could not name was at least not hidden behind a green job
    adopted: bool  # `run-id` names a run this job did not create
    requests: int  # requests the stand-in received

    @property
    def duplicate(self) -> bool:
        return self.new_runs > 1

    @property
    def lost(self) -> bool:
        return self.new_runs >= 1 and not self.run_id_named and not self.failed


OUTCOMES: list[Outcome] = []  # this process's cases


def as_data(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    return [asdict(outcome) for outcome in outcomes]


def tally_line(outcomes: list[Outcome]) -> str:
    duplicates = sum(outcome.duplicate for outcome in outcomes)
    lost = sum(outcome.lost for outcome in outcomes)
    adopted = sum(outcome.adopted for outcome in outcomes)
    used = sum(outcome.requests for outcome in outcomes)
    return (
        f"fault-injection tally: {len(outcomes)} cases, {duplicates} duplicates, {lost} lost runs, "
        f"{adopted} adopted runs, {used} requests"
    )
