"""lookup.walk in-process against the stand-in: what proves a run ours, what is only a candidate, and what
a walk costs (pages read) and proves (complete or not) in each list order."""

from __future__ import annotations

import time

import pytest

from northflank_release.api.client import NorthflankClient
from northflank_release.api.target import Target
from northflank_release.lookup import MAX_PAGES, Identity, Walk, walk
from testing.northflank_standin import API_TOKEN_DEFAULT, NorthflankStandin

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

    result, _ = look(standin, own)

    assert result.found is None
    assert [run["id"] for run in result.candidates] == [match], "the other leg's arguments rule it out"


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

    result, client = look(standin, identity())

    assert result.found is None
    assert result.complete, "newest first and already older than the trigger: proof of absence"
    assert client.list_reads == 1


def test_an_oldest_first_list_longer_than_the_cap_proves_nothing(standin: NorthflankStandin) -> None:
    standin.seed_runs("shop", "release-pipeline", "production", 2000)
    standin.list_order = "oldest_first"

    result, client = look(standin, identity())

    assert not result.complete
    assert client.list_reads == MAX_PAGES == result.pages


@pytest.mark.parametrize("shift", [-120.0, 120.0])
def test_the_api_clock_decides_what_is_older_than_the_trigger(standin: NorthflankStandin, shift: float) -> None:
    """Runs created after the trigger started are candidates whichever way the API's clock is off."""
    standin.shift_clock(shift)
    who = identity(description="Deploy the shop", unique=False)
    match = create(standin, {"name": "Deploy shop", "description": "Deploy the shop"})

    result, _ = look(standin, who)

    assert [run["id"] for run in result.candidates] == [match]
