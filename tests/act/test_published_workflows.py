"""Every workflow we publish, run by nektos/act against the Northflank stand-in and the real image.

The README's quick start (read from README.md itself), each workflow in examples/ on its own event, and
the CI workflow's self-test job. Steps that need the internet are replaced by local equivalents, named
in REPLACED below. Each run asserts what the stand-in received and what later steps and jobs saw.
"""

from __future__ import annotations

import inspect
import json
import re
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from testing.northflank_standin import API_TOKEN_DEFAULT, NorthflankStandin
from tests.act import harness
from tests.act.checks import assert_token_absent, body_of, stage_of, trigger_posts

README = harness.REPO_ROOT / "README.md"
EXAMPLES = harness.REPO_ROOT / "examples"
CI_WORKFLOW = harness.REPO_ROOT / ".github" / "workflows" / "ci.yml"
SECRETS = {"NORTHFLANK_API_TOKEN": API_TOKEN_DEFAULT}
VARIABLES = {"NORTHFLANK_PROJECT_ID": "shop", "NORTHFLANK_PIPELINE_ID": "release-pipeline"}
TAG_PUSH = {"ref": "refs/tags/v1.4.0"}

# Steps that need the internet, and what runs in their place.
_CHECKOUT_NOTE = "checkout replaced: act binds the workspace (-b), which already holds the commit"
REPLACED: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    # actions/checkout clones from github.com; the bound workspace is that clone.
    "actions/checkout": lambda step: {"name": step.get("name", "checkout"), "run": f"echo '{_CHECKOUT_NOTE}'"},
}
# examples/release-on-tag.yml's image step logs in to GHCR and pushes; no registry answers here, and the
# job container has no docker client. The replacement keeps the step's name and env and prints the ref
# the real step would push, so the release step still receives the image reference from `steps.image`.
_PUSH_STEP = "Build and push the image"
_PUSH_REPLACEMENT = 'echo "image $IMAGE: build and push replaced (no registry reachable in tests)"'


def _replace_internet_steps(doc: dict[str, Any]) -> dict[str, Any]:
    for job in doc["jobs"].values():
        steps = job.get("steps") or []
        for index, step in enumerate(steps):
            uses = str(step.get("uses", ""))
            for prefix, replacement in REPLACED.items():
                if uses.startswith(prefix + "@"):
                    steps[index] = replacement(step)
            if step.get("name") == _PUSH_STEP:
                steps[index] = {"name": _PUSH_STEP, "env": step.get("env", {}), "run": _PUSH_REPLACEMENT}
    return doc


def _local(text: str, standin: NorthflankStandin) -> str:
    prepared = harness.prepare_workflow(text, api_url=standin.url)
    return harness.dump_workflow(_replace_internet_steps(harness.load_workflow(prepared)))


def readme_quick_start() -> str:
    """The first YAML block of README.md's "Quick start" section."""
    readme = README.read_text(encoding="utf-8")
    section = readme.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert match, "README.md's quick start has no yaml block"
    return match.group(1)


def _run(
    text: str,
    event: str,
    standin: NorthflankStandin,
    tmp_path: Path,
    image: str,
    **kwargs: Any,
) -> harness.ActResult:
    triggers = harness.load_workflow(text)["on"]
    assert event in ([triggers] if isinstance(triggers, str) else triggers), f"the workflow is not for {event}"
    kwargs.setdefault("secrets", SECRETS)
    kwargs.setdefault("variables", VARIABLES)
    result = harness.run_act(_local(text, standin), event, tmp_path=tmp_path, action_image=image, **kwargs)
    assert_token_absent(result, standin)
    return result


# --- README -------------------------------------------------------------------------------------


def test_readme_quick_start_releases_production_once_and_the_next_step_sees_the_run(
    act_image: str, standin: NorthflankStandin, tmp_path: Path
) -> None:
    result = _run(readme_quick_start(), "push", standin, tmp_path, act_image, payload=TAG_PUSH)

    assert result.exit_code == 0, result.log[-4000:]
    posts = trigger_posts(standin)
    assert [stage_of(post) for post in posts] == ["production"]
    assert "/projects/my-project/pipelines/my-pipeline/" in posts[0].path
    sha = harness.head_sha(tmp_path / "workspace")
    assert body_of(posts[0])["arguments"] == {"VERSION": "v1.4.0", "COMMIT": sha}
    assert body_of(posts[0])["name"].startswith("v1-4-0 run ")
    run = standin.runs()[0]
    assert result.outputs("release", "release")["run-id"] == run["id"]
    assert result.outputs("release", "release")["status"] == "success"
    # The `if: always()` step (no id: act numbers it) saw the outputs through env.
    assert f"Northflank run {run['id']} ended as success" in result.printed("release")


# --- examples/ -----------------------------------------------------------------------------------


def _example(name: str) -> str:
    return (EXAMPLES / name).read_text(encoding="utf-8")


# Each example, and the tests that run it (each must read it with _example("<name>")).
EXAMPLE_TESTS = {
    "release-on-tag.yml": ["test_release_on_tag_stages_the_tag_commit_and_image_and_reports_the_run"],
    "promote-to-production.yml": [
        "test_promote_to_production_passes_the_staging_run_to_the_production_job",
        "test_promote_to_production_refuses_a_bad_version_before_anything_is_sent",
    ],
    "overrides.yml": ["test_overrides_sends_branch_and_image_as_single_strings"],
    "dry-run-on-pull-request.yml": ["test_dry_run_on_pull_request_sends_nothing_and_prints_the_body"],
    "plan-on-pull-request.yml": [
        "test_plan_on_pull_request_reads_the_template_and_changes_nothing",
        "test_plan_on_pull_request_from_a_fork_checks_locally_and_sends_nothing",
    ],
    "trigger-then-follow.yml": ["test_trigger_then_follow_follows_the_run_the_first_job_started"],
}


def test_every_example_has_a_test_here() -> None:
    assert {path.name for path in EXAMPLES.glob("*.yml")} == set(EXAMPLE_TESTS)
    for name, tests in EXAMPLE_TESTS.items():
        for test_name in tests:
            test = globals().get(test_name)
            assert callable(test), f"{name}: no test named {test_name}"
            assert f'_example("{name}")' in inspect.getsource(test), f"{test_name} does not run {name}"


def test_release_on_tag_stages_the_tag_commit_and_image_and_reports_the_run(
    act_image: str, standin: NorthflankStandin, tmp_path: Path
) -> None:
    result = _run(_example("release-on-tag.yml"), "push", standin, tmp_path, act_image, payload=TAG_PUSH)

    assert result.exit_code == 0, result.log[-4000:]
    posts = trigger_posts(standin)
    assert [stage_of(post) for post in posts] == ["staging"]
    assert "/projects/shop/pipelines/release-pipeline/" in posts[0].path
    image = f"ghcr.io/{harness.REPOSITORY}:v1.4.0"
    sha = harness.head_sha(tmp_path / "workspace")
    assert body_of(posts[0])["arguments"] == {"VERSION": "v1.4.0", "COMMIT": sha, "IMAGE": image}
    run_id = standin.runs()[0]["id"]
    assert result.outputs("release", "release")["run-id"] == run_id
    assert f"Release flow run {run_id} finished with status success" in result.printed("release")
    # The example writes the tag and the id as code spans, after checking each (examples/release-on-tag.yml).
    assert any(f"Staged `v1.4.0`: Northflank run `{run_id}` (success)" in s for s in result.summaries("release"))
    assert f"Northflank release flow run: {run_id} (last status: success)" in result.printed("release")


def test_promote_to_production_passes_the_staging_run_to_the_production_job(
    act_image: str, standin: NorthflankStandin, tmp_path: Path
) -> None:
    result = _run(
        _example("promote-to-production.yml"),
        "workflow_dispatch",
        standin,
        tmp_path,
        act_image,
        payload={"inputs": {"version": "v1.4.0"}},
    )

    assert result.exit_code == 0, result.log[-4000:]
    posts = trigger_posts(standin)
    assert [stage_of(post) for post in posts] == ["staging", "production"]
    staging_run, production_run = standin.runs()
    assert body_of(posts[0])["arguments"] == {"VERSION": "v1.4.0"}
    # needs.staging.outputs.run-id reached the production job's `with:`.
    assert body_of(posts[1])["arguments"] == {"VERSION": "v1.4.0", "STAGING_RUN_ID": staging_run["id"]}
    assert result.outputs("production", "release")["run-id"] == production_run["id"]
    assert any(
        f"Production release of `v1.4.0`: run `{production_run['id']}` (success)" in summary
        for summary in result.summaries("production")
    )


def test_promote_to_production_refuses_a_bad_version_before_anything_is_sent(
    act_image: str, standin: NorthflankStandin, tmp_path: Path
) -> None:
    result = _run(
        _example("promote-to-production.yml"),
        "workflow_dispatch",
        standin,
        tmp_path,
        act_image,
        payload={"inputs": {"version": "1.4"}},
    )

    assert result.exit_code != 0
    assert standin.requests == []
    assert [a.properties.get("title") for a in result.annotations("error")] == ["Invalid version"]
    assert result.job_result("staging") == "failure"
    assert result.job_result("production") is None  # never started: its `needs` failed


def test_overrides_sends_branch_and_image_as_single_strings(
    act_image: str, standin: NorthflankStandin, tmp_path: Path
) -> None:
    # A branch with ':' and '#' must stay one string (the example's toJSON), not become YAML structure.
    branch = "feature/a: b #1"
    image = "ghcr.io/acme/api:1.4.0"
    result = _run(
        _example("overrides.yml"),
        "workflow_dispatch",
        standin,
        tmp_path,
        act_image,
        payload={"inputs": {"branch": branch, "image": image}},
        variables={**VARIABLES, "NORTHFLANK_API_SERVICE_ID": "api"},
    )

    assert result.exit_code == 0, result.log[-4000:]
    posts = trigger_posts(standin)
    assert [stage_of(post) for post in posts] == ["development"]
    assert body_of(posts[0])["overrides"] == {"build-ref": {"branch": branch}}
    assert body_of(posts[0])["releaseNodeOverrides"] == {"api": {"type": "registry", "origin": {"imagePath": image}}}
    run_id = standin.runs()[0]["id"]
    assert f"Run {run_id} (success); request body:" in result.printed("release")


def test_dry_run_on_pull_request_sends_nothing_and_prints_the_body(
    act_image: str, standin: NorthflankStandin, tmp_path: Path
) -> None:
    head = "9" * 40
    result = _run(
        _example("dry-run-on-pull-request.yml"),
        "pull_request",
        standin,
        tmp_path,
        act_image,
        payload={"pull_request": {"number": 42, "head": {"sha": head, "ref": "feature"}, "base": {"ref": "main"}}},
        secrets={},
    )

    assert result.exit_code == 0, result.log[-4000:]
    assert standin.requests == []
    request = json.loads(result.outputs("dry-run", "validate")["request"])
    assert request["arguments"] == {"VERSION": "pr-42", "COMMIT": head}
    # The next step parsed the output as JSON and pretty-printed it.
    assert '"VERSION": "pr-42"' in result.printed("dry-run")


_PULL_REQUEST = {"pull_request": {"number": 42, "head": {"sha": "9" * 40, "ref": "feature"}, "base": {"ref": "main"}}}


def test_plan_on_pull_request_reads_the_template_and_changes_nothing(
    act_image: str, standin: NorthflankStandin, tmp_path: Path
) -> None:
    result = _run(
        _example("plan-on-pull-request.yml"),
        "pull_request",
        standin,
        tmp_path,
        act_image,
        payload=_PULL_REQUEST,
        secrets={"NORTHFLANK_READ_TOKEN": API_TOKEN_DEFAULT},
    )

    assert result.exit_code == 0, result.log[-4000:]
    # One read of the release flow's template, and nothing else: no trigger, no abort.
    assert [(request.method, request.path) for request in standin.requests] == [
        ("GET", "/v1/projects/shop/pipelines/release-pipeline/release-flows/production")
    ]
    assert result.annotations("error") == []
    titles = [a.properties.get("title") for a in result.annotations("notice")]
    assert titles == ["Plan: argument defaults", "Plan: concurrency policy"]
    request = json.loads(result.outputs("plan", "plan")["request"])
    assert request["overrides"] == {"build": {"branch": "feature"}}
    [summary] = [s for s in result.summaries("plan") if "### Plan" in s]
    assert 'n1["build<br/>StartBuild · overridden"]' in summary


def test_plan_on_pull_request_from_a_fork_checks_locally_and_sends_nothing(
    act_image: str, standin: NorthflankStandin, tmp_path: Path
) -> None:
    result = _run(
        _example("plan-on-pull-request.yml"),
        "pull_request",
        standin,
        tmp_path,
        act_image,
        payload=_PULL_REQUEST,
        secrets={},  # a fork's pull request gets no secrets
    )

    assert result.exit_code == 0, result.log[-4000:]
    assert standin.requests == []
    assert "the dry run also checks this request against the release flow" in result.printed("plan")


def test_trigger_then_follow_follows_the_run_the_first_job_started(
    act_image: str, standin: NorthflankStandin, tmp_path: Path
) -> None:
    result = _run(_example("trigger-then-follow.yml"), "push", standin, tmp_path, act_image, payload=TAG_PUSH)

    assert result.exit_code == 0, result.log[-4000:]
    posts = trigger_posts(standin)
    assert [stage_of(post) for post in posts] == ["production"]  # triggered once, by the first job
    [run] = standin.runs()
    assert result.outputs("trigger", "release")["run-id"] == run["id"]
    # needs.trigger.outputs.run-id reached the follow job, which read that run and reported it.
    follow = result.outputs("follow", "follow")
    assert follow["run-id"] == run["id"]
    assert follow["status"] == "success"
    assert "request" not in follow
    assert any(request.path.endswith(f"/runs/{run['id']}") for request in standin.requests_to("get"))
    assert f"Northflank run {run['id']} ended as success" in result.printed("follow")
    assert result.job_result("follow") == "success"


# --- the CI workflow's self-test job ----------------------------------------------------------------


def test_ci_self_test_job_passes(act_image: str, standin: NorthflankStandin, tmp_path: Path) -> None:
    # Only the self-test job: the `test` job is scripts/test itself behind actions/setup-python (a
    # JavaScript action fetched from GitHub, needing node, which the job image lacks), and .ci/run is
    # that job here. .github/workflows/release.yml pushes to GHCR and is not run either.
    result = _run(
        CI_WORKFLOW.read_text(encoding="utf-8"),
        "pull_request",
        standin,
        tmp_path,
        act_image,
        job="self-test",
        payload={"pull_request": {"number": 7, "head": {"ref": "feature"}, "base": {"ref": "main"}}},
    )

    assert result.exit_code == 0, result.log[-4000:]
    assert standin.requests == []  # a dry run: api-url points here, and nothing came
    assert result.job_result("test") is None  # only the self-test job ran
    assert result.step_result("self-test", "self") == "success"
    request = json.loads(result.outputs("self-test", "self")["request"])
    assert request["arguments"]["VERSION"] == "self-test"
    assert request["arguments"]["COMMIT"] == harness.head_sha(tmp_path / "workspace")
    assert result.job_result("self-test") == "success"


# --- README fragments: the steps it shows, run inside a job ---------------------------------------


def _readme_yaml_blocks() -> list[str]:
    """The YAML blocks of the users' documentation: README.md and the pages under docs/ it links to."""
    pages = [README, *sorted((harness.REPO_ROOT / "docs").glob("*.md"))]
    return [block for page in pages for block in re.findall(r"```yaml\n(.*?)```", page.read_text("utf-8"), re.DOTALL)]


def _readme_fragment(marker: str) -> str:
    """The README's YAML block of steps that contains ``marker``, wrapped in a tag-push job."""
    blocks = [block for block in _readme_yaml_blocks() if marker in block and "jobs:" not in block]
    assert len(blocks) == 1, f"expected one README yaml block of steps with {marker!r}, found {len(blocks)}"
    steps = textwrap.indent(textwrap.dedent(blocks[0]), " " * 6)
    return f"name: README fragment\non: push\njobs:\n  release:\n    runs-on: ubuntu-latest\n    steps:\n{steps}"


def test_readme_chaining_outputs_fragment_passes_the_run_to_the_next_step(
    act_image: str, standin: NorthflankStandin, tmp_path: Path
) -> None:
    text = _readme_fragment("Link the run in a deployment record")
    result = _run(text, "push", standin, tmp_path, act_image, payload=TAG_PUSH)

    assert result.exit_code == 0, result.log[-4000:]
    posts = trigger_posts(standin)
    assert [stage_of(post) for post in posts] == ["staging"]
    run = standin.runs()[0]
    printed = result.printed("release")
    # The step read run-id, and the status out of the `response` JSON.
    assert f"run {run['id']}\n{run['status']}\n" in printed


def test_readme_prebuilt_image_fragment_runs_the_image_as_a_docker_step(
    act_image: str, standin: NorthflankStandin, tmp_path: Path
) -> None:
    # The README's `uses: docker://...` step, pointed at the image built here, with only what the README
    # shows plus `api-url` under with:. No NORTHFLANK_API_URL: if with: stopped reaching a docker://
    # step, the action would call the default API URL and this test would fail.
    text = _readme_fragment("uses: docker://")
    doc = harness.load_workflow(text)
    [step] = [s for s in doc["jobs"]["release"]["steps"] if str(s.get("uses", "")).startswith("docker://")]
    assert "env" not in step, "the README's docker:// step shows no env:"
    step["uses"] = f"docker://{act_image}"
    step["with"]["api-url"] = standin.url
    result = _run(harness.dump_workflow(doc), "push", standin, tmp_path, act_image, payload=TAG_PUSH)

    assert result.exit_code == 0, result.log[-4000:]
    posts = trigger_posts(standin)
    assert len(posts) == 1
    assert f"Triggered run {standin.runs()[0]['id']}" in result.printed("release")


def test_readme_structured_inputs_fragment_sends_what_the_page_says(
    act_image: str, standin: NorthflankStandin, tmp_path: Path
) -> None:
    [block] = [b for b in _readme_yaml_blocks() if "release-node-overrides: |" in b and "uses:" not in b]
    with_block = textwrap.indent(textwrap.dedent(block), " " * 8)
    text = (
        "name: README fragment\non: push\njobs:\n  release:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - id: release\n        uses: northflank-release/action@v1\n"
        + with_block
        + "          api-token: ${{ secrets.NORTHFLANK_API_TOKEN }}\n"
        "          project-id: shop\n          pipeline-id: release-pipeline\n          stage: staging\n"
    )
    result = _run(text, "push", standin, tmp_path, act_image, payload=TAG_PUSH)

    assert result.exit_code == 0, result.log[-4000:]
    [post] = trigger_posts(standin)
    body = body_of(post)
    assert body["arguments"]["VERSION"] == "v1.4.0"
    assert body["arguments"]["DATABASE_URL"] == "postgres://db/app?sslmode=require", body["arguments"]
    assert body["overrides"] == {"build": {"branch": "v1.4.0"}}
    assert body["releaseNodeOverrides"] == {
        "web": {"type": "registry", "origin": {"imagePath": "ghcr.io/acme/web:v1.4.0"}}
    }
