"""lookup.walk in-process against the stand-in: what proves a run ours, what is only a candidate, and what
a walk costs (pages read) and proves (complete or not) in each list order."""

from __future__ import annotations

import time

import pytest

from northflank_release.api.client import NorthflankClient
from northflank_release.api.target import Target
from northflank_release.lookup import MAX_CANDIDATE_READS, MAX_PAGES, Candidates, Identity, Walk, walk
from testing.northflank_standin import API_TOKEN_DEFAULT, Fault, NorthflankStandin

TARGET = Target("shop", "release-pipeline", "production")
MARKED = "Triggered by acme/shop, trigger 3f9a0c2e"


def identity(
    name: str = "Deploy shop", description: str = MARKED, *, unique: bool = True, **arguments: str
) -> Identity:
    return Identity(name, description, dict(arguments), started_wall=time.time(), unique=unique)


def create(standin: NorthflankStandin, body: dict[str, object]) -> str:
    client = NorthflankClient(standin.url, API_TOKEN_DEFAULT)
    data = client.trigger(TARGET, body).data["data"]
    return str(data["id"])


def look(standin: NorthflankStandin, who: Identity, max_pages: int = MAX_PAGES) -> tuple[Walk, NorthflankClient]:
    client = NorthflankClient(standin.url, API_TOKEN_DEFAULT)
    return walk(client, TARGET, who, time.time, max_pages), client


def test_the_marker_proves_a_run_ours_among_namesakes(standin: NorthflankStandin) -> None:
    create(standin, {"name": "Deploy shop", "description": "Triggered by acme/shop, trigger 00000000"})
    mine = create(standin, {"name": "Deploy shop", "description": MARKED})

    result, _ = look(standin, identity())

    assert result.found is not None
    assert result.found["id"] == mine
    assert result.candidates == []


def test_a_description_of_ones_own_makes_a_match_only_a_candidate(standin: NorthflankStandin) -> None:
    own = identity(description="Deploy the shop", unique=False, REGION="eu")
    match = create(standin, {"name": "Deploy shop", "description": "Deploy the shop", "arguments": {"REGION": "eu"}})
    create(standin, {"name": "Deploy shop", "description": "Deploy the shop", "arguments": {"REGION": "us"}})

    result, client = look(standin, own)

    assert result.found is None
    assert len(result.candidates) == 2, "the list shows no arguments: both legs' runs match on it"
    assert all("arguments" not in run for run in result.candidates)
    reader = Candidates(client, TARGET, lambda: 30.0)
    narrowed = reader.narrow(result, own)
    assert [run["id"] for run in narrowed.candidates] == [match], "a read of each shows the other leg's arguments"
    assert len(standin.requests_to("get")) == 2
    reader.narrow(result, own)
    assert len(standin.requests_to("get")) == 2, "each run is read once: its arguments do not change"


def test_candidate_reads_are_capped_and_a_failed_read_rules_nothing_out(standin: NorthflankStandin) -> None:
    own = identity(description="Deploy the shop", unique=False, REGION="eu")
    for leg in range(MAX_CANDIDATE_READS + 3):
        create(standin, {"name": "Deploy shop", "description": "Deploy the shop", "arguments": {"REGION": f"r{leg}"}})
    standin.add_fault(Fault("GET", "get", "status", status=503))
    result, client = look(standin, own)

    narrowed = Candidates(client, TARGET, lambda: 30.0).narrow(result, own)

    assert len(standin.requests_to("get")) == MAX_CANDIDATE_READS
    assert len(narrowed.candidates) == 4, "the failed read and the three past the cap stay candidates"


def test_the_documented_list_carries_no_arguments_but_a_rich_one_still_rules_out(standin: NorthflankStandin) -> None:
    standin.rich_list = True
    own = identity(description="Deploy the shop", unique=False, REGION="eu")
    match = create(standin, {"name": "Deploy shop", "description": "Deploy the shop", "arguments": {"REGION": "eu"}})
    create(standin, {"name": "Deploy shop", "description": "Deploy the shop", "arguments": {"REGION": "us"}})

    result, _ = look(standin, own)

    assert [run["id"] for run in result.candidates] == [match]


def test_an_older_namesake_is_neither_ours_nor_a_candidate(standin: NorthflankStandin) -> None:
    standin.seed_runs("shop", "release-pipeline", "production", 3, name_prefix="Deploy shop")
    for run in standin.runs():
        standin.rename_run(run["id"], "Deploy shop", "Deploy the shop")

    result, _ = look(standin, identity(description="Deploy the shop", unique=False))

    assert result.found is None
    assert result.candidates == []
    assert result.complete


def test_a_newest_first_list_is_read_only_until_it_is_older_than_the_trigger(standin: NorthflankStandin) -> None:
    standin.seed_runs("shop", "release-pipeline", "production", 2000)

    result, _ = look(standin, identity())

    assert result.found is None
    assert result.complete, "newest first and already older than the trigger: proof of absence"
    assert result.pages == 1


def test_an_oldest_first_list_longer_than_the_cap_proves_nothing(standin: NorthflankStandin) -> None:
    standin.seed_runs("shop", "release-pipeline", "production", 2000)
    standin.list_order = "oldest_first"

    result, _ = look(standin, identity())

    assert not result.complete
    assert result.pages == MAX_PAGES


@pytest.mark.parametrize("shift", [-120.0, 120.0])
def test_the_api_clock_decides_what_is_older_than_the_trigger(standin: NorthflankStandin, shift: float) -> None:
    """Runs created after the trigger started are candidates whichever way the API's clock is off."""
    standin.shift_clock(shift)
    who = identity(description="Deploy the shop", unique=False)
    match = create(standin, {"name": "Deploy shop", "description": "Deploy the shop"})

    result, _ = look(standin, who)

    assert [run["id"] for run in result.candidates] == [match]
