"""dry-run with a token: the request planned against the release flow's template, as a user sees it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from testing.northflank_standin import API_TOKEN_DEFAULT, Fault, NorthflankStandin, release_flow_template
from testing.runner import REPO, ActionRun, assert_token_not_leaked, run_action


@pytest.fixture
def planning(inputs: dict[str, str]) -> dict[str, str]:
    return {**inputs, "dry-run": "true"}


def warnings(result: ActionRun) -> list[tuple[str, str]]:
    return result.annotations_of("warning")


def notices(result: ActionRun) -> list[tuple[str, str]]:
    return result.annotations_of("notice")


def assert_nothing_changed(standin: NorthflankStandin) -> None:
    """Only reads of the release flow itself: no trigger, no abort, not even a runs read."""
    assert standin.requests, "the template was not read"
    for request in standin.requests:
        assert request.method == "GET"
        assert request.path.endswith("/release-flows/production") or request.path.endswith("/release-flows/staging")


def test_a_plan_that_passes_exits_zero_and_shows_the_template_with_the_overridden_nodes(
    tmp_path: Path, standin: NorthflankStandin, planning: dict[str, str]
) -> None:
    given = {
        **planning,
        "overrides": "build:\n  branch: release/1.4",
        "release-node-overrides": json.dumps({"api": {"type": "registry", "origin": {"imagePath": "ghcr.io/a:1"}}}),
    }
    result = run_action(tmp_path, given)

    assert result.exit_code == 0, result.log
    assert result.annotations == []
    assert warnings(result) == []
    assert notices(result) == [
        (
            "Plan: argument defaults",
            "2 declared argument(s) not given; the template's defaults apply: 'BRANCH' = \"main\", "
            "'RUN_MIGRATIONS' = \"true\".",
        ),
        (
            "Plan: concurrency policy",
            "The release flow's concurrency policy is 'queue': while another run of the flow is in progress, this "
            "run waits (status queued) until it ends.",
        ),
    ]
    [template_read] = standin.requests
    assert template_read.method == "GET"
    assert template_read.path == "/v1/projects/shop/pipelines/release-pipeline/release-flows/production"
    assert "Plan: matches the template: The request matches the template" in result.stdout
    assert "### Plan: the request against the release flow's template" in result.summary
    assert "2 node(s) changed by overrides are marked" in result.summary
    assert 'n1["build<br/>StartBuild · overridden"]' in result.summary
    assert 'n7["deploy-api<br/>Release · overridden"]' in result.summary
    assert 'n6["deploy<br/>Release"]' in result.summary  # not overridden
    assert 'subgraph w8["workers · sequential"]' in result.summary  # nested workflows drawn
    assert '"imagePath": "ghcr.io/a:1"' in result.summary  # the body that would be sent
    assert json.loads(result.outputs["request"])["overrides"] == {"build": {"branch": "release/1.4"}}


def test_an_unknown_override_ref_is_an_error_naming_the_input_the_key_and_the_closest_ref(
    tmp_path: Path, standin: NorthflankStandin, planning: dict[str, str]
) -> None:
    given = {**planning, "overrides": "buidl:\n  branch: x\nzzzzzzz:\n  branch: y\nbuild:\n  branch: z"}
    result = run_action(tmp_path, given)

    assert result.exit_code == 1
    assert result.annotations == [
        (
            "Plan: unknown node ref",
            "overrides key 'buidl' is not a ref of any node in the production release flow's template; did you "
            "mean 'build'?",
        ),
        (
            "Plan: unknown node ref",
            "overrides key 'zzzzzzz' is not a ref of any node in the production release flow's template. Its refs: "
            "'backup', 'build', 'deploy', 'deploy-api', 'deploy-worker', 'git-push', 'migrate', 'prepare' and 3 more.",
        ),
    ]
    assert "Plan: 2 problem(s) with the request against the template; nothing was sent." in result.stdout
    assert "❌ **Plan&#58; unknown node ref**" in result.summary
    assert_nothing_changed(standin)


def test_an_unknown_release_node_service_is_an_error_with_the_closest_service(
    tmp_path: Path, standin: NorthflankStandin, planning: dict[str, str]
) -> None:
    overrides = {"wbe": {"type": "registry", "origin": {"imagePath": "nginx:1"}}, "web": {"type": "registry"}}
    result = run_action(tmp_path, {**planning, "release-node-overrides": json.dumps(overrides)})

    assert result.exit_code == 1
    assert result.annotations == [
        (
            "Plan: unknown release node service",
            "release-node-overrides key 'wbe' is not a service that a Release node of the template deploys; did "
            "you mean 'web'?",
        )
    ]


def test_a_key_from_request_file_is_named_as_request_file(
    tmp_path: Path, standin: NorthflankStandin, planning: dict[str, str]
) -> None:
    (tmp_path / "workspace").mkdir()
    (tmp_path / "workspace" / "request.json").write_text(
        json.dumps({"overrides": {"deplyo": {"x": 1}}}), encoding="utf-8"
    )
    result = run_action(tmp_path, {**planning, "request-file": "request.json"})

    assert result.exit_code == 1
    [(title, message)] = result.annotations
    assert title == "Plan: unknown node ref"
    assert message.startswith("request-file key 'deplyo' is not a ref")
    assert message.endswith("did you mean 'deploy'?")


def test_an_undeclared_argument_is_a_warning_and_the_plan_still_passes(
    tmp_path: Path, standin: NorthflankStandin, planning: dict[str, str]
) -> None:
    result = run_action(tmp_path, {**planning, "arguments": "VERSON=v1.4.0\nCOMMIT=4f2a9c1\nBRANCH=main"})

    assert result.exit_code == 0, result.log
    assert result.annotations == []
    assert warnings(result) == [
        (
            "Plan: argument not declared",
            "arguments key 'VERSON' is not declared in the template's arguments; no node refers to it; did you "
            "mean 'VERSION'?",
        )
    ]
    [defaults] = [message for title, message in notices(result) if title == "Plan: argument defaults"]
    assert defaults == (
        "2 declared argument(s) not given; the template's defaults apply: 'VERSION' = \"latest\", "
        "'RUN_MIGRATIONS' = \"true\"."
    )


def test_a_paused_flow_is_an_error(tmp_path: Path, standin: NorthflankStandin, planning: dict[str, str]) -> None:
    standin.release_flow = release_flow_template(paused=True)
    result = run_action(tmp_path, planning)

    assert result.exit_code == 1
    assert result.annotations == [
        (
            "Plan: release flow paused",
            "The production release flow of pipeline release-pipeline is paused in Northflank: it runs nothing "
            "until it is resumed. Resume it in Northflank (release flow settings) before releasing.",
        )
    ]


def test_paused_and_the_policy_are_read_from_options_when_only_there(
    tmp_path: Path, standin: NorthflankStandin, planning: dict[str, str]
) -> None:
    template = release_flow_template(paused=True, concurrency="forbid")
    del template["concurrencyPolicy"]
    template["paused"] = None  # the top-level field unusable: options says it
    standin.release_flow = template
    result = run_action(tmp_path, planning)

    assert [title for title, _ in result.annotations] == ["Plan: release flow paused"]
    [policy] = [message for title, message in notices(result) if title == "Plan: concurrency policy"]
    assert "'forbid': while another run of the flow is in progress, this request is refused (HTTP 409)" in policy


@pytest.mark.parametrize(
    ("known", "said"),
    [
        ({"known_projects": {"other"}}, "the answer says the project was not found"),
        ({"known_pipelines": {"other"}}, "the answer says the pipeline was not found"),
        ({"release_flow": None}, "the answer says the release flow was not found"),
    ],
)
def test_a_missing_project_pipeline_or_flow_is_an_error_saying_which(
    tmp_path: Path, standin: NorthflankStandin, planning: dict[str, str], known: dict[str, object], said: str
) -> None:
    for name, value in known.items():
        setattr(standin, name, value)
    result = run_action(tmp_path, planning)

    assert result.exit_code == 1
    [(title, message)] = result.annotations
    assert title == "Plan: release flow not found"
    assert message.startswith("No release flow at project shop, pipeline release-pipeline, stage production (HTTP 404")
    assert said in message


def test_a_404_that_names_nothing_says_so(tmp_path: Path, standin: NorthflankStandin, planning: dict[str, str]) -> None:
    standin.add_fault(Fault("GET", "template", "status", status=404, message="Not found"))
    result = run_action(tmp_path, planning)

    [(_, message)] = result.annotations
    assert "the answer does not say which of project-id, pipeline-id and stage is wrong" in message


@pytest.mark.parametrize(("status", "why"), [(403, "cannot read release flows"), (401, "the token was rejected")])
def test_a_token_without_read_makes_the_plan_a_warning_not_an_error(
    tmp_path: Path, standin: NorthflankStandin, planning: dict[str, str], status: int, why: str
) -> None:
    standin.add_fault(Fault("GET", "template", "status", status=status, message="Forbidden"))
    result = run_action(tmp_path, planning)

    assert result.exit_code == 0, result.log
    assert result.annotations == []
    [(title, message)] = warnings(result)
    assert title == "Plan: template not readable"
    assert why in message
    assert message.endswith("The request was checked locally only.")
    assert "Nothing was sent" in result.summary


@pytest.mark.parametrize(
    "fault",
    [
        Fault("GET", "template", "html", status=200),
        Fault("GET", "template", "shape"),
        Fault("GET", "template", "not_json"),
        Fault("GET", "template", "huge"),
        Fault("GET", "template", "endless"),
        Fault("GET", "template", "truncated"),
        Fault("GET", "template", "status", status=503, message="upstream down"),
        Fault("GET", "template", "drop"),
    ],
    ids=lambda fault: f"{fault.kind}-{fault.status}",
)
def test_a_hostile_answer_on_the_template_is_a_warning_without_a_traceback(
    tmp_path: Path, standin: NorthflankStandin, planning: dict[str, str], fault: Fault
) -> None:
    standin.add_fault(fault)
    result = run_action(tmp_path, planning)

    assert result.exit_code == 0, result.log
    assert result.annotations == []
    [(title, message)] = warnings(result)
    assert title == "Plan: template not read"
    assert "Traceback" not in result.log
    assert message.endswith("The request was checked locally only.")


def test_a_template_that_hangs_is_given_up_within_the_http_timeout(
    tmp_path: Path, standin: NorthflankStandin, planning: dict[str, str]
) -> None:
    standin.add_fault(Fault("GET", "template", "delay", delay=30.0))
    result = run_action(tmp_path, planning, job_env={"NORTHFLANK_HTTP_TIMEOUT": "1"}, timeout=20)

    assert result.exit_code == 0, result.log
    [(title, _)] = warnings(result)
    assert title == "Plan: template not read"


def test_an_organisation_token_reads_the_team_scoped_template(
    tmp_path: Path, standin: NorthflankStandin, planning: dict[str, str]
) -> None:
    standin.team_id = "acme-team"
    result = run_action(tmp_path, {**planning, "team-id": "acme-team"})

    assert result.exit_code == 0, result.log
    [read] = standin.requests
    assert read.path == "/v1/teams/acme-team/projects/shop/pipelines/release-pipeline/release-flows/production"


def test_without_a_token_the_dry_run_checks_locally_and_says_a_token_would_check_the_template(
    tmp_path: Path, standin: NorthflankStandin, planning: dict[str, str]
) -> None:
    given = {name: value for name, value in planning.items() if name != "api-token"}
    result = run_action(tmp_path, {**given, "overrides": "buidl:\n  branch: x"})

    assert result.exit_code == 0, result.log
    assert result.annotations == []
    assert standin.requests == []
    assert "With api-token (a token with Project > Pipelines > General > Read), the dry run also" in result.stdout
    assert "the dry run also checks this request against the release flow" in result.summary


@pytest.mark.parametrize(("token", "loaded"), [("", False), (API_TOKEN_DEFAULT, True)])
def test_only_a_dry_run_with_a_token_loads_an_http_library(
    tmp_path: Path, standin: NorthflankStandin, token: str, loaded: bool
) -> None:
    """main.py keeps a dry run free of requests (and its ~40 ms of imports); the plan needs it, nothing else."""
    env = {"PATH": os.environ["PATH"], "INPUT_PROJECT-ID": "shop", "INPUT_PIPELINE-ID": "main"}
    env |= {"INPUT_STAGE": "staging", "INPUT_DRY-RUN": "true", "INPUT_API-TOKEN": token, "INPUT_API-URL": standin.url}
    script = "import sys; from northflank_release.main import main; main(); print('requests' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=REPO, capture_output=True, text=True, timeout=30, check=False
    )

    assert done.stdout.strip().splitlines()[-1] == str(loaded), done.stdout + done.stderr
    assert bool(standin.requests) is loaded


def test_the_token_never_shows_in_a_plan_even_when_a_page_echoes_it(
    tmp_path: Path, standin: NorthflankStandin, planning: dict[str, str]
) -> None:
    standin.add_fault(Fault("GET", "template", "html", status=200, echo=True))
    result = run_action(
        tmp_path, planning, job_env={"RUNNER_DEBUG": "1"}, context={"GITHUB_ACTIONS": "true", "RUNNER_DEBUG": "1"}
    )

    assert result.exit_code == 0, result.log
    assert [title for title, _ in warnings(result)] == ["Plan: template not read"]
    assert_token_not_leaked(result, API_TOKEN_DEFAULT)


def test_a_proxy_setting_that_cannot_be_used_is_named_not_api_url(tmp_path: Path, planning: dict[str, str]) -> None:
    # https to a closed loopback port: should the proxy be skipped, nothing could arrive anywhere either.
    inputs = {**planning, "api-url": "https://127.0.0.1:9"}
    result = run_action(tmp_path, inputs, job_env={"HTTPS_PROXY": "http://user:pw@proxy.internal:99999"})

    assert result.exit_code == 0
    [(title, message)] = warnings(result)
    assert title == "Plan: template not read"
    assert "HTTPS_PROXY" in message
    assert "check api-url" not in message
