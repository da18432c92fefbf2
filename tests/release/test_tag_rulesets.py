"""scripts/tag_rulesets.py against the fake GitHub's rulesets: what the preflight says for each answer.

The whole-run cases (a ruleset refuses the App, or lets it through) are in test_release_runs.py; these are
the answers a run rarely meets: an undocumented or missing ``current_user_can_bypass``, a refused or broken
listing, a second page, a name that would end the annotation.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from testing.fake_github import RELEASE_APP, Repository, install_gh
from testing.runner import REPO

SCRIPT = REPO / "scripts" / "tag_rulesets.py"
REPOSITORY = "northflank-release/action"
REFS = ["refs/tags/v1.2.3", "refs/tags/v1"]


def _github(tmp_path: Path) -> Repository:
    github = Repository(tmp_path / "github.json")
    github.data["repository"] = REPOSITORY
    github.add_token("ghs_app", RELEASE_APP, contents="write", workflows=True)
    github.save()
    return github


def _check(tmp_path: Path, github: Repository) -> subprocess.CompletedProcess[str]:
    github.save()
    bin_dir = tmp_path / "bin"
    install_gh(bin_dir, github.path)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "GH_TOKEN": "ghs_app"}
    return subprocess.run([sys.executable, str(SCRIPT), REPOSITORY, *REFS], env=env, capture_output=True, text=True,
                          check=False, timeout=60)  # fmt: skip


def test_the_list_holds_no_bypass_answer_so_each_tag_ruleset_is_read_on_its_own(tmp_path: Path) -> None:
    github = _github(tmp_path)
    ruleset = github.add_ruleset("refs/tags/v*", bypass=[])
    listed = github.handle("GET", f"repos/{REPOSITORY}/rulesets?includes_parents=true", {}, "ghs_app")
    assert "current_user_can_bypass" not in listed.body[0]
    assert "conditions" not in listed.body[0]
    result = _check(tmp_path, github)
    assert result.returncode == 1
    github.reload()
    assert [c["path"] for c in github.data["log"]] == [
        f"repos/{REPOSITORY}/rulesets?includes_parents=true&per_page=100&page=1",
        f"repos/{REPOSITORY}/rulesets/{ruleset}?includes_parents=true",
    ]


@pytest.mark.parametrize("value", [None, "sometimes"], ids=["absent", "undocumented"])
def test_an_unknown_bypass_answer_is_a_warning_not_a_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    github = _github(tmp_path)
    ruleset = github.add_ruleset("refs/tags/v*", bypass=[])
    github.save()
    # The fake gh runs in another process: the changed answer is written into the script's import path.
    patch = tmp_path / "sitecustomize.py"
    patch.write_text(
        "from testing import fake_github\n"
        "_original = fake_github.Repository._ruleset_answer\n"
        "def _answer(self, ruleset, actor):\n"
        "    body = _original(self, ruleset, actor)\n"
        f"    if actor is not None and ruleset['id'] == {ruleset}:\n"
        f"        body = {{**body, 'current_user_can_bypass': {value!r}}}\n"
        "        body = {k: v for k, v in body.items() if v is not None}\n"
        "    return body\n"
        "fake_github.Repository._ruleset_answer = _answer\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), str(REPO)]))
    result = _check(tmp_path, github)
    assert result.returncode == 0, result.stdout + result.stderr
    said = "no current_user_can_bypass" if value is None else 'current_user_can_bypass "sometimes"'
    named = f'Ruleset "tags refs/tags/v*" (id {ruleset}, from {REPOSITORY})'
    assert f"::warning title=Tag ruleset::{named}" in result.stdout
    assert said in result.stdout
    assert "::error" not in result.stdout


@pytest.mark.parametrize("status", [403, 404, 502])
def test_a_listing_github_refuses_is_an_error_not_a_pass(tmp_path: Path, status: int) -> None:
    github = _github(tmp_path)
    github.add_fault("GET", r"^rulesets$", status)
    result = _check(tmp_path, github)
    assert result.returncode == 1
    (line,) = result.stdout.splitlines()
    assert line.startswith("::error title=Cannot read the tag rulesets::gh: Server Error (HTTP ")
    assert "Traceback" not in result.stderr


def test_a_ruleset_on_the_second_page_is_read(tmp_path: Path) -> None:
    github = _github(tmp_path)
    for _ in range(100):
        github.add_ruleset("refs/tags/v*", bypass=[])
    for ruleset in github.data["rulesets"]:
        ruleset["target"] = "branch"  # the list's target spares their reads
    last = github.add_ruleset("refs/tags/v1", bypass=[])
    result = _check(tmp_path, github)
    assert result.returncode == 1
    assert f"(id {last}, from {REPOSITORY}) covers refs/tags/v1 and GitHub says" in result.stdout


def test_a_ruleset_name_cannot_end_the_annotation(tmp_path: Path) -> None:
    github = _github(tmp_path)
    github.add_ruleset("refs/tags/v*", bypass=[])
    github.data["rulesets"][0]["name"] = "x\n::warning::forged%"
    result = _check(tmp_path, github)
    assert result.returncode == 1
    (line,) = result.stdout.splitlines()
    assert '"x%0A::warning::forged%25"' in line


def test_no_tag_ruleset_passes_and_says_so(tmp_path: Path) -> None:
    github = _github(tmp_path)
    result = _check(tmp_path, github)
    assert result.returncode == 0
    assert result.stdout == f"No active tag ruleset refuses the release App's writes of {', '.join(REFS)}.\n"


def test_the_usage_is_refused_without_a_tag_ref(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), REPOSITORY, "refs/heads/main"], capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.returncode == 2
    assert "usage:" in result.stderr
