"""Whole release runs under GitHub's rules: a first release, a second one whose workflows changed, reruns.

Each test dispatches the release workflow in testing/workflow_run.py against the fake GitHub of
testing/fake_github.py, which refuses ref writes as GitHub does (Workflows permission, tag rulesets). The
same scenarios run against the workflow as it was before issue 17 (tests/release/fixtures/
release-before-issue-17.yml, a verbatim copy), which must fail them: that is what shows the rules bite.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from testing.fake_github import RELEASE_APP, Repository
from testing.runner import REPO
from testing.workflow_run import (
    DIGEST,
    IMAGE,
    REBUILT,
    App,
    Run,
    World,
    main_commit,
    new_repository,
    release_commit,
)

NEW = REPO / ".github" / "workflows" / "release.yml"
OLD = REPO / "tests" / "release" / "fixtures" / "release-before-issue-17.yml"
JOBS = ("preflight", "image", "public", "pin", "release-commit", "verify", "major-tag")


def _first(folder: Path) -> tuple[Repository, str]:
    github = new_repository(folder)
    main = main_commit(github, workflows="ci: one job")
    github.set_ref("refs/heads/main", main)
    github.save()
    return github, main


def _second(folder: Path) -> tuple[Repository, str, str]:
    """v1.0.0 and v1 on the first release commit; main has moved on, with other workflows."""
    github = new_repository(folder)
    first = main_commit(github, workflows="ci: one job")
    released = release_commit(github, first, "v1.0.0")
    github.set_ref("refs/tags/v1.0.0", released)
    github.set_ref("refs/tags/v1", released)
    main = main_commit(github, workflows="ci: new pins, a new job", parent=first)
    github.set_ref("refs/heads/main", main)
    github.save()
    return github, main, released


def _run(workflow: Path, folder: Path, github: Repository, sha: str, world: World | None = None, **kw: str) -> Run:
    return Run(workflow, folder, github, world or World(), version=kw.get("version", "1.1.0"),
               ref=kw.get("ref", "refs/heads/main"), sha=sha)  # fmt: skip


def _tag(github: Repository, name: str) -> str | None:
    github.reload()
    value = github.data["refs"].get(f"refs/tags/{name}")
    return None if value is None else str(value)


def _released(github: Repository, version: str, main: str) -> str:
    """The commit the version tag names, checked to be main's commit with only action.yml pinned."""
    commit = _tag(github, version)
    assert commit is not None, f"no tag {version}"
    files, parent_files = github.files(commit), github.files(main)
    assert github.data["commits"][commit]["parents"] == [main]
    assert {k for k in files if files[k] != parent_files.get(k)} == {"action.yml"}
    assert f"@sha256:{'b' * 64}" in github.blob_content(files["action.yml"]).decode()
    return commit


def test_a_first_release_tags_the_release_commit_and_makes_v1(tmp_path: Path) -> None:
    github, main = _first(tmp_path)
    run = _run(NEW, tmp_path, github, main, version="1.0.0")
    assert run.attempt() == dict.fromkeys(JOBS, "success")
    commit = _released(github, "v1.0.0", main)
    assert _tag(github, "v1") == commit
    writes = [c for c in github.data["log"] if c["method"] in ("POST", "PATCH") and "/git/refs" in c["path"]]
    assert {c["actor"] for c in writes} == {RELEASE_APP}


def test_todays_workflow_gets_through_a_first_release(tmp_path: Path) -> None:
    """The fake refuses what GitHub refuses, not every GITHUB_TOKEN write: nothing changes workflows yet."""
    github, main = _first(tmp_path)
    assert set(_run(OLD, tmp_path, github, main, version="1.0.0").attempt().values()) == {"success"}
    assert _tag(github, "v1") == _released(github, "v1.0.0", main)


def test_todays_workflow_leaves_v1_behind_on_a_second_release(tmp_path: Path) -> None:
    github, main, first = _second(tmp_path)
    run = _run(OLD, tmp_path, github, main)
    results = run.attempt()
    assert results["release-commit"] == "success"  # the version tag: its workflows are main's head's
    assert results["major-tag"] == "failure"
    assert _tag(github, "v1") == first
    assert "HTTP 403" in run.jobs["major-tag"].log


def test_the_new_workflow_moves_v1_on_a_second_release_whose_workflows_changed(tmp_path: Path) -> None:
    github, main, _ = _second(tmp_path)
    run = _run(NEW, tmp_path, github, main)
    assert set(run.attempt().values()) == {"success"}
    assert _tag(github, "v1") == _released(github, "v1.1.0", main)


def _main_moves_during_the_build(github: Repository, main: str) -> None:
    github.reload()
    github.set_ref("refs/heads/main", main_commit(github, workflows="ci: changed while the image built", parent=main))
    github.save()


def test_a_workflow_change_on_main_during_the_build_does_not_stop_the_tag(tmp_path: Path) -> None:
    old_github, old_main, _ = _second(tmp_path / "old")
    old = _run(OLD, tmp_path / "old", old_github, old_main)
    old.between_jobs["image"] = lambda: _main_moves_during_the_build(old_github, old_main)
    assert old.attempt()["release-commit"] == "failure"
    assert _tag(old_github, "v1.1.0") is None
    assert "could not create or read tags/v1.1.0" in old.jobs["release-commit"].log  # GitHub's 403 hidden

    github, main, _ = _second(tmp_path / "new")
    run = _run(NEW, tmp_path / "new", github, main)
    run.between_jobs["image"] = lambda: _main_moves_during_the_build(github, main)
    assert set(run.attempt().values()) == {"success"}
    assert _tag(github, "v1") == _released(github, "v1.1.0", main)


def test_a_tag_ruleset_refuses_github_token_but_lets_its_bypass_app_through(tmp_path: Path) -> None:
    old_github, old_main, _ = _second(tmp_path / "old")
    old_github.add_ruleset("refs/tags/v*", bypass=[RELEASE_APP])
    old_github.save()
    assert _run(OLD, tmp_path / "old", old_github, old_main).attempt()["release-commit"] == "failure"

    github, main, _ = _second(tmp_path / "new")
    github.add_ruleset("refs/tags/v*", bypass=[RELEASE_APP])
    github.save()
    assert set(_run(NEW, tmp_path / "new", github, main).attempt().values()) == {"success"}


def _add_ruleset_later(run: Run, github: Repository, include: str) -> None:
    """A tag ruleset the App is no bypass actor of, made while the image builds (after the preflight's check)."""

    def add() -> None:
        github.reload()
        github.add_ruleset(include, bypass=[])
        github.save()

    run.between_jobs["preflight"] = add


def test_a_refused_tag_prints_githubs_status_and_message(tmp_path: Path) -> None:
    github, main, first = _second(tmp_path)
    run = _run(NEW, tmp_path, github, main)
    _add_ruleset_later(run, github, "refs/tags/v*")
    assert run.attempt()["release-commit"] == "failure"
    log = run.jobs["release-commit"].log
    assert (
        "::error title=Tag not created::tags/v1.1.0: GitHub answered 422 Unprocessable Entity: Repository rule "
        "violations found%0A%0ACannot create ref due to creations being restricted."
    ) in log
    assert "RELEASING.md" in log
    assert _tag(github, "v1") == first


def test_a_refused_major_tag_prints_githubs_status_and_message(tmp_path: Path) -> None:
    github, main, first = _second(tmp_path)
    run = _run(NEW, tmp_path, github, main)
    _add_ruleset_later(run, github, "refs/tags/v1")  # protects the major tag only
    results = run.attempt()
    assert results["release-commit"] == "success"
    assert results["major-tag"] == "failure"
    assert (
        "::error title=Major tag not moved::tags/v1: GitHub answered 422 Unprocessable Entity: Repository rule "
        "violations found%0A%0ACannot update this protected ref."
    ) in run.jobs["major-tag"].log
    assert _tag(github, "v1") == first


def test_an_app_that_lost_workflows_after_the_preflight_stops_at_the_mint_not_at_a_403(tmp_path: Path) -> None:
    github, main, first = _second(tmp_path)
    run = _run(NEW, tmp_path, github, main)
    run.between_jobs["image"] = lambda: setattr(run.world.app, "permissions", ("contents",))
    results = run.attempt()
    assert results["release-commit"] == "failure"
    assert "The permissions requested are not granted" in run.jobs["release-commit"].log
    assert _tag(github, "v1.1.0") is None
    assert _tag(github, "v1") == first


def test_a_write_refused_for_workflows_names_them(tmp_path: Path) -> None:
    """github_ref.py on its own, with GITHUB_TOKEN's rights: GitHub's 403 and the header naming workflows."""
    github, main, first = _second(tmp_path)
    second = release_commit(github, main, "v1.1.0")
    github.add_token("ghs_job", "github-actions", contents="write", workflows=False)
    github.save()
    run = _run(NEW, tmp_path, github, main)
    step = {"run": f'/usr/bin/python3 scripts/github_ref.py move "$GITHUB_REPOSITORY" tags/v1 {second}',
            "env": {"GH_TOKEN": "ghs_job"}}  # fmt: skip
    workspace, temp = tmp_path / "work", tmp_path / "temp"
    workspace.mkdir()
    temp.mkdir()
    context: dict[str, Any] = {"workspace": workspace, "temp": temp, "steps": {}, "path": [], "env": {}}
    run._checkout(main, workspace)
    outcome, _, text = run._step(step, "move", context)
    assert outcome == "failure"
    assert text.strip() == (
        "GitHub answered 403 Forbidden: Resource not accessible by integration "
        "(this route takes: contents=write; contents=write,workflows=write)"
    )
    assert _tag(github, "v1") == first


def test_the_verify_job_gates_the_major_tag(tmp_path: Path) -> None:
    github, main, first = _second(tmp_path)
    run = _run(NEW, tmp_path, github, main, world=World(verify_fails_on={"ubuntu-24.04-arm"}))
    results = run.attempt()
    assert results["release-commit"] == "success"
    assert results["verify"] == "failure"
    assert results["major-tag"] == "skipped"
    assert _tag(github, "v1") == first  # users of @v1 keep the release that ran
    verify = run.workflow["jobs"]["verify"]
    assert verify["strategy"]["matrix"]["runner"] == ["ubuntu-24.04", "ubuntu-24.04-arm"]
    assert "verify" in run.workflow["jobs"]["major-tag"]["needs"]
    checkout, *_ = verify["steps"]
    assert checkout["with"]["ref"] == "${{ needs.release-commit.outputs.commit }}"
    (action,) = [s for s in verify["steps"] if s.get("uses") == "./"]
    assert action["with"]["dry-run"] is True
    assert not [s for s in verify["steps"] if "login" in str(s.get("uses", ""))]


def test_the_verify_job_refuses_a_checkout_that_is_not_pinned(tmp_path: Path) -> None:
    github, main = _first(tmp_path)
    run = _run(NEW, tmp_path, github, main, version="1.0.0")
    # The release commit's output names main's commit (Dockerfile build) instead of the pinned one.
    run.between_jobs["release-commit"] = lambda: run.jobs["release-commit"].outputs.update(commit=main)
    results = run.attempt()
    assert results["verify"] == "failure"
    assert "::error title=Not the release commit::" in run.jobs["verify"].log
    assert _tag(github, "v1") is None


def test_the_workflow_stops_before_the_build_when_the_workflows_are_not_mains(tmp_path: Path) -> None:
    github, main, _ = _second(tmp_path)
    _main_moves_during_the_build(github, main)  # main moved while the run queued
    run = _run(NEW, tmp_path, github, main)
    results = run.attempt()
    assert results["preflight"] == "failure"
    assert results["image"] == "skipped"
    assert "::error title=Workflows differ from main::" in run.jobs["preflight"].log
    assert not (tmp_path / "docker.log").exists()


@pytest.mark.parametrize(
    "app",
    [App(installed=False), App(permissions=("contents",)), App(in_environment=False)],
    ids=["not installed", "no workflows permission", "no key in the environment"],
)
def test_the_workflow_stops_before_the_build_without_a_usable_app(tmp_path: Path, app: App) -> None:
    github, main, _ = _second(tmp_path)
    run = _run(NEW, tmp_path, github, main, world=World(app=app))
    results = run.attempt()
    assert results["preflight"] == "failure"
    assert results["image"] == "skipped"
    assert "::error title=No release App token::" in run.jobs["preflight"].log


def test_a_run_from_another_branch_gets_no_app_key_and_is_refused(tmp_path: Path) -> None:
    github, main, _ = _second(tmp_path)
    github.set_ref("refs/heads/feature", main)
    github.save()
    run = _run(NEW, tmp_path, github, main, ref="refs/heads/feature")
    assert run.attempt()["preflight"] == "failure"
    assert "::error title=Not main::" in run.jobs["preflight"].log


def test_the_major_tag_moves_although_the_tag_listing_lags(tmp_path: Path) -> None:
    for workflow, moves in ((OLD, False), (NEW, True)):
        folder = tmp_path / workflow.stem
        github, main, first = _second(folder)
        github.data["listing_lag"] = True  # a tag made a job ago is not yet in matching-refs
        github.save()
        run = _run(workflow, folder, github, main)
        assert run.attempt()["major-tag"] == "success"
        assert (_tag(github, "v1") != first) is moves, workflow


def test_the_step_holding_the_write_token_runs_the_system_python(tmp_path: Path) -> None:
    for workflow, name in ((OLD, "old"), (NEW, "new")):
        folder = tmp_path / name
        github, main, _ = _second(folder)
        _run(workflow, folder, github, main).attempt()
        ran = set((folder / "pin-venv-python.log").read_text(encoding="utf-8").split("\n")) - {""}
        if workflow == OLD:
            assert "Commit and tag" in ran
        else:
            assert ran == {"Pin action.yml's image to the index digest"}


def _break_preflight(run: Run, github: Repository) -> None:
    run.world.app.installed = False


def _break_image(run: Run, github: Repository) -> None:
    run.world.image_public = False


def _break_release_commit(run: Run, github: Repository) -> None:
    def faults() -> None:
        # The gateway times out after the tag is made, and the read that follows fails too.
        github.reload()
        github.add_fault("POST", r"^git/refs$", 502, after_write=True)
        github.add_fault("GET", r"^git/ref/tags/v1\.1\.0$", 502)
        github.save()

    run.between_jobs["image"] = faults


def _break_verify(run: Run, github: Repository) -> None:
    run.world.verify_fails_on = {"ubuntu-24.04-arm"}


def _break_major_tag(run: Run, github: Repository) -> None:
    github.add_fault("PATCH", r"^git/refs/tags/v1$", 502)
    github.save()


def _mend(run: Run, github: Repository) -> None:
    run.world.app.installed = True
    run.world.image_public = True
    run.world.verify_fails_on = set()


@pytest.mark.parametrize(
    ("job", "breaks"),
    [
        ("preflight", _break_preflight),
        ("public", _break_image),
        ("release-commit", _break_release_commit),
        ("verify", _break_verify),
        ("major-tag", _break_major_tag),
    ],
)
def test_rerunning_the_failed_jobs_after_a_failure_at_each_job_completes_the_release(
    tmp_path: Path, job: str, breaks: object
) -> None:
    github, main, first = _second(tmp_path)
    run = _run(NEW, tmp_path, github, main)
    breaks(run, github)  # type: ignore[operator]
    results = run.attempt()
    assert results[job] == "failure", run.jobs[job].log
    assert _tag(github, "v1") == first
    _mend(run, github)
    assert set(run.attempt().values()) == {"success"}, {n: j.log for n, j in run.jobs.items()}
    released = _released(github, "v1.1.0", main)
    assert _tag(github, "v1") == released
    if job == "release-commit":  # the re-run made a second commit and took the first attempt's tag
        assert "::notice title=Tag already made::" in run.jobs[job].log
        assert len([c for c in github.data["commits"].values() if c["parents"] == [main]]) == 2


# The workflow as it was before issue 27 (a verbatim copy): each scenario below fails against it.
BEFORE_27 = REPO / "tests" / "release" / "fixtures" / "release-before-issue-27.yml"


def _newer_minor_released(folder: Path) -> tuple[Repository, str, str]:
    """v1.0.0 and v1.2.0 released, v1 on v1.2.0's release commit; main moved on. Releasing 1.1.1 next."""
    github, main, _ = _second(folder)
    newer = release_commit(github, main, "v1.2.0")
    github.set_ref("refs/tags/v1.2.0", newer)
    github.set_ref("refs/tags/v1", newer)
    github.save()
    return github, main, newer


def test_a_failing_tag_listing_leaves_v1_where_it_is_and_fails_the_job(tmp_path: Path) -> None:
    """A 502 on the listing must not make 1.1.1 "the newest": v1 stays on 1.2.0, the job fails."""
    for workflow in (BEFORE_27, NEW):
        folder = tmp_path / workflow.stem
        github, main, newer = _newer_minor_released(folder)
        github.add_fault("GET", r"^git/matching-refs/tags/v1\.$", 502, times=1)
        github.save()
        run = _run(workflow, folder, github, main, version="1.1.1")
        results = run.attempt()
        if workflow == BEFORE_27:  # the listing's failure hid in $(...): v1 moved backwards to 1.1.1
            assert results["major-tag"] == "success"
            assert _tag(github, "v1") == _tag(github, "v1.1.1") != newer
            continue
        assert results["major-tag"] == "failure"
        assert "::error title=Cannot list the tags::" in run.jobs["major-tag"].log
        assert _tag(github, "v1") == newer
        # GitHub answers again: a re-run of the failed job leaves v1 on the newer release, and says why.
        assert set(run.attempt().values()) == {"success"}
        assert _tag(github, "v1") == newer
        assert "::notice title=Major tag not moved::v1.2.0 is newer than v1.1.1" in run.jobs["major-tag"].log


def test_a_first_release_resumes_after_the_package_is_made_public_without_a_rebuild(tmp_path: Path) -> None:
    for workflow in (BEFORE_27, NEW):
        folder = tmp_path / workflow.stem
        github, main = _first(folder)
        run = _run(workflow, folder, github, main, world=World(image_public=False), version="1.0.0")
        results = run.attempt()
        assert "::error title=Image not public::" in "".join(job.log for job in run.jobs.values())
        assert _tag(github, "v1.0.0") is None
        run.world.image_public = True  # RELEASING.md, First release: make the package public, re-run failed jobs
        assert set(run.attempt().values()) == {"success"}
        github.reload()
        attestations = github.data["attestations"]
        pinned = github.blob_content(github.files(_tag(github, "v1.0.0") or "")["action.yml"]).decode()
        if workflow == BEFORE_27:  # the check sat in the image job: the re-run built and attested again
            assert results["image"] == "failure"
            assert run.builds == [DIGEST, REBUILT[0]]
            assert len(attestations) == 2
            assert f"@{REBUILT[0]}" in pinned
            continue
        assert (results["image"], results["public"]) == ("success", "failure")
        assert run.builds == [DIGEST]  # one build, one digest, one attestation
        assert [a["digest"] for a in attestations] == [DIGEST]
        assert f"@{DIGEST}" in pinned


def test_third_party_code_runs_in_a_job_without_the_app_token_and_installs_wheels_only(tmp_path: Path) -> None:
    for workflow in (BEFORE_27, NEW):
        folder = tmp_path / workflow.stem
        github, main, _ = _second(folder)
        run = _run(workflow, folder, github, main)
        assert set(run.attempt().values()) == {"success"}
        installs = (folder / "pip.log").read_text(encoding="utf-8").splitlines()
        pip_jobs = {line.split(" ", 1)[0] for line in installs}
        if workflow == BEFORE_27:
            assert pip_jobs & set(run.minted_in) == {"release-commit"}
            continue
        assert pip_jobs == {"pin"}
        assert not pip_jobs & set(run.minted_in)
        assert all("--only-binary=:all:" in line.split() for line in installs)
        assert _tag(github, "v1") == _released(github, "v1.1.0", main)


def test_the_release_commit_refuses_a_pinned_action_yml_that_is_not_mains_with_one_line_changed(
    tmp_path: Path,
) -> None:
    github, main, first = _second(tmp_path)
    run = _run(NEW, tmp_path, github, main)

    def tamper() -> None:
        pinned = base64.b64decode(run.jobs["pin"].outputs["action-yml"]).decode()
        extra = pinned.replace("runs:\n", "runs:\n  pre-entrypoint: /tmp/x\n", 1)
        run.jobs["pin"].outputs["action-yml"] = base64.b64encode(extra.encode()).decode()

    run.between_jobs["pin"] = tamper
    results = run.attempt()
    assert results["release-commit"] == "failure"
    assert "::error title=Pinned action.yml differs::" in run.jobs["release-commit"].log
    assert _tag(github, "v1.1.0") is None
    assert _tag(github, "v1") == first


@pytest.mark.parametrize(
    ("ruleset", "says"),
    [
        ({"include": "refs/tags/v*", "bypass": []}, "may bypass it: never"),
        ({"include": "refs/tags/v1", "bypass": []}, "covers refs/tags/v1 and"),  # the major tag only
        ({"include": "refs/tags/v*", "bypass": [RELEASE_APP], "bypass_mode": "pull_request"}, "pull_requests_only"),
        ({"include": "~ALL", "bypass": [], "source_type": "Organization"}, "from northflank-release)"),
    ],
    ids=["no bypass", "major tag", "pull requests only", "organisation ruleset"],
)
def test_a_tag_ruleset_that_would_refuse_the_app_stops_the_release_before_the_build(
    tmp_path: Path, ruleset: dict[str, Any], says: str
) -> None:
    for workflow in (BEFORE_27, NEW):
        folder = tmp_path / workflow.stem
        github, main, first = _second(folder)
        github.add_ruleset(**ruleset)
        github.save()
        run = _run(workflow, folder, github, main)
        results = run.attempt()
        if workflow == BEFORE_27:  # found after the half-hour build, by the tag write itself
            assert results["preflight"] == "success"
            assert run.builds == [DIGEST]
            assert "failure" in (results["release-commit"], results["major-tag"])
            continue
        assert results["preflight"] == "failure"
        assert results["image"] == "skipped"
        assert run.builds == []
        log = run.jobs["preflight"].log
        assert "::error title=Tag ruleset refuses the release App::" in log
        assert says in log
        assert "RELEASING.md" in log
        assert _tag(github, "v1") == first


@pytest.mark.parametrize(
    ("ruleset", "version"),
    [
        ({"include": "refs/tags/v*", "bypass": [RELEASE_APP]}, "1.1.0"),  # the App bypasses it always
        ({"include": "refs/tags/v*", "bypass": [], "enforcement": "evaluate"}, "1.1.0"),  # reported, not enforced
        ({"include": "refs/tags/v*", "bypass": [], "rules": ("deletion",)}, "1.1.0"),  # the release deletes none
        ({"include": "refs/tags/v*", "bypass": [], "exclude": ("refs/tags/v1*",)}, "1.1.0"),
        ({"include": "refs/tags/v1", "bypass": []}, "1.1.0-rc.1"),  # a prerelease never moves v1
    ],
    ids=["bypass always", "evaluate", "deletion only", "excluded", "prerelease"],
)
def test_a_tag_ruleset_that_lets_the_app_through_does_not_stop_the_release(
    tmp_path: Path, ruleset: dict[str, Any], version: str
) -> None:
    github, main, _ = _second(tmp_path)
    github.add_ruleset(**ruleset)
    github.save()
    run = _run(NEW, tmp_path, github, main, version=version)
    results = run.attempt()
    assert set(results.values()) <= {"success", "skipped"}, run.jobs["preflight"].log
    assert results["release-commit"] == "success"
    assert _released(github, f"v{version}", main)


def test_the_verify_job_runs_readmes_provenance_command_and_fails_on_another_spelling(tmp_path: Path) -> None:
    """GitHub spells the repository Northflank-Release/Action; README.md's command spells it in lower case."""
    for workflow in (BEFORE_27, NEW):
        folder = tmp_path / workflow.stem
        github = new_repository(folder, repository="Northflank-Release/Action")
        main = main_commit(github, workflows="ci: one job")
        github.set_ref("refs/heads/main", main)
        github.save()
        run = _run(workflow, folder, github, main, version="1.0.0")
        results = run.attempt()
        if workflow == BEFORE_27:  # nothing ran the documented command: v1 moved
            assert results["major-tag"] == "success"
            continue
        assert results["verify"] == "failure"
        assert results["major-tag"] == "skipped"
        log = run.jobs["verify"].log
        assert "::error title=Provenance not verified::" in log
        assert "(Northflank-Release/Action)" in log
        assert _tag(github, "v1") is None


def test_the_verify_job_verifies_the_new_digest_with_readmes_command(tmp_path: Path) -> None:
    github, main, _ = _second(tmp_path)
    run = _run(NEW, tmp_path, github, main)
    assert set(run.attempt().values()) == {"success"}
    github.reload()
    verified = [c for c in github.data["log"] if c["method"] == "attestation verify"]
    assert [c["path"] for c in verified] == [f"oci://{IMAGE}@{DIGEST}"]  # once, on the amd64 leg
    assert "✓ Verification succeeded!" in run.jobs["verify"].log
