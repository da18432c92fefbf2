"""The README promises what the code does: its tables come from action.yml, its commands exist."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from testing.runner import REPO


def test_inputs_and_outputs_tables_match_action_yml() -> None:
    completed = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "readme_tables.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr


def test_the_two_commands_the_readme_gives_exist_and_ci_runs_the_test_command() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "./scripts/demo" in readme
    assert "./scripts/test" in readme
    for script in ("demo", "test"):
        assert os.access(REPO / "scripts" / script, os.X_OK)
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "\nscripts/test\n" in ci


# GitHub's heading anchors: lower case, punctuation but '-' and '_' dropped, spaces as '-'.
def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    headings = re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


PAGES = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(REPO)))
def test_every_relative_link_lands_inside_the_repository_on_a_page_and_heading_that_exist(page: Path) -> None:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    if page.name == "README.md":
        assert len(links) > 20, "the README's links were not found"
    for link in links:
        if re.match(r"[a-z]+:", link):
            assert link.startswith(("https://", "mailto:")), f"{link}: only public https pages may be linked"
            continue
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.is_relative_to(REPO), f"{link} leaves the repository"
        assert target.exists(), f"{link}: {target.relative_to(REPO)} does not exist"
        if anchor:
            assert anchor in _anchors(target), f"{link}: no heading #{anchor} in {target.relative_to(REPO)}"


def test_the_readme_stays_a_page_for_users() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    # The inputs and outputs tables are generated from action.yml (scripts/readme_tables.py) and grow with
    # each input a user asked for; the guard is on the written prose, where maintainers' material creeps in.
    prose = re.sub(r"<!-- (\w+):start -->.*?<!-- \1:end -->", "", readme, flags=re.DOTALL)
    assert len(prose) < len(readme), "the generated tables' markers were not found"
    assert len(prose.encode("utf-8")) < 25_000, "maintainers' material goes to CONTRIBUTING.md or docs/"
    for heading in ("## Quick start", "## Inputs", "## Outputs", "## Waiting", "## Security", "## Troubleshooting"):
        assert heading in readme
