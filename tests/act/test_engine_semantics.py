"""Workflows of the tests' own, for what users build around the action: matrices, `needs:` outputs,
`if: always()`, `continue-on-error`, bad input, job env beside `with:`, and the token in act's log.

Where act differs from GitHub's runner in a way that matters to us (evidence: each engine's source):

1. `runs.env` against the job's env. The runner adds a `runs.env` key only when the step's environment
   lacks it (actions/runner src/Runner.Worker/Handlers/ContainerActionHandler.cs: `if
   (!this.Environment.ContainsKey(env.Key))`), so a job-level `NORTHFLANK_STAGE` beats `with: stage` for
   an action that reads `NORTHFLANK_*`. act merges `runs.env` over the step's env (nektos/act
   pkg/runner/action.go, `evalDockerArgs`: `mergeIntoMap(step, step.getEnv(), action.Runs.Env)`), so
   under act `with:` wins either way. test_with_beats_a_job_env_of_the_same_setting therefore cannot
   catch that runner defect; testing/runner.py emulates the runner's order for it.
2. Workflow commands with an empty property list. github-action-utils (this action's until issue 28)
   writes `::add-mask ::VALUE`, `::debug ::text`, `::stop-commands ::TOKEN`, `::group ::title` (a space,
   then no properties); northflank_release/github.py writes none of them so. The runner accepts that
   (src/Runner.Common/ActionCommand.cs, `TryParseV2`: the name ends at the first space, empty properties
   are skipped). act's pattern `^::([^ ]+)( (.+))?::` (pkg/runner/command.go)
   needs at least one character after the space, so act prints those lines as plain output: an
   `add-mask` line shows the secret itself, and `stop-commands` does not stop command processing.
   Engines built on act (Gitea and Forgejo runners) inherit this.
3. act logs every step output (`::set-output:: name=value` in pkg/runner/command.go, `setOutput`); the
   runner never prints outputs. A token a user passes through a step output is therefore in act's log
   whatever the action does, so the token tests pass it as a secret (masked by act) or a variable.
4. A job's `environment:` means nothing to act (its Job model, pkg/model/workflow.go, has no such
   field): no approval gate, no environment secrets; the examples' approval step is not exercised.
   `github.run_id` is 1 unless GITHUB_RUN_ID is given (pkg/runner/run_context.go), so every act run
   derives the same run name, and the matrix legs of one run share it, as on GitHub.
5. act's `--json` log masks secrets in the message only (pkg/runner/logger.go, `valueMasker`), so an
   `add-mask` record carries the secret in its `arg` and `raw` fields; checks.assert_token_absent
   skips exactly those two fields.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from testing.injection import INJECTED_ARGUMENTS, INJECTED_STATUS, MARKERS
from testing.northflank_standin import API_TOKEN_DEFAULT, NorthflankStandin, RunPlan
from tests.act import harness
from tests.act.checks import assert_token_absent, body_of, stage_of, trigger_posts

SECRETS = {"NORTHFLANK_API_TOKEN": API_TOKEN_DEFAULT}
TAG_PUSH = {"ref": "refs/tags/v1.4.0"}
OUTPUT_NAMES = {"run-id", "run-name", "status", "concluded", "started-at", "concluded-at", "response", "request"}
_WITH = """
          api-token: ${{ secrets.NORTHFLANK_API_TOKEN }}
          project-id: shop
          pipeline-id: release-pipeline"""


def _run(text: str, standin: NorthflankStandin, tmp_path: Path, image: str, **kwargs: Any) -> harness.ActResult:
    kwargs.setdefault("secrets", SECRETS)
    kwargs.setdefault("payload", TAG_PUSH)
    workflow = harness.prepare_workflow(text, api_url=standin.url)
    result = harness.run_act(workflow, "push", tmp_path=tmp_path, action_image=image, **kwargs)
    assert_token_absent(result, standin)
    return result


MATRIX_AND_NEEDS = f"""
name: Matrix and needs
on: push
jobs:
  legs:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        stage: [staging, production]
    steps:
      - id: release
        uses: northflank-release/action@v1
        with:{_WITH}
          stage: ${{{{ matrix.stage }}}}
          arguments: LEG=${{{{ matrix.stage }}}}
      - id: seen
        env:
          RUN_ID: ${{{{ steps.release.outputs.run-id }}}}
          LEG: ${{{{ matrix.stage }}}}
        run: echo "leg $LEG saw run $RUN_ID"
  first:
    runs-on: ubuntu-latest
    outputs:
      run-id: ${{{{ steps.release.outputs.run-id }}}}
      status: ${{{{ steps.release.outputs.status }}}}
    steps:
      - id: release
        uses: northflank-release/action@v1
        with:{_WITH}
          stage: development
          wait: true
          poll-interval: 1s
  after:
    needs: first
    runs-on: ubuntu-latest
    steps:
      - id: seen
        env:
          RUN_ID: ${{{{ needs.first.outputs.run-id }}}}
          STATUS: ${{{{ needs.first.outputs.status }}}}
        run: |
          test -n "$RUN_ID"
          echo "after saw run $RUN_ID ($STATUS)"
"""


def test_matrix_legs_each_release_their_own_stage_and_needs_carries_outputs(
    act_image: str, standin: NorthflankStandin, tmp_path: Path
) -> None:
    result = _run(MATRIX_AND_NEEDS, standin, tmp_path, act_image)

    assert result.exit_code == 0, result.log[-4000:]
    posts = trigger_posts(standin)
    assert sorted(stage_of(post) for post in posts) == ["development", "production", "staging"]
    runs_by_stage = {run["stage"]: run for run in standin.runs()}
    assert sorted(runs_by_stage) == ["development", "production", "staging"]
    for post in posts:
        if stage_of(post) != "development":
            assert body_of(post)["arguments"] == {"LEG": stage_of(post)}
    assert sorted(map(str, result.matrices("legs"))) == sorted(
        map(str, [{"stage": "staging"}, {"stage": "production"}])
    )
    for leg in ("staging", "production"):
        # Each leg reports the run of its own stage, never the other leg's.
        assert result.outputs("legs", "release", {"stage": leg})["run-id"] == runs_by_stage[leg]["id"]
        assert f"leg {leg} saw run {runs_by_stage[leg]['id']}" in result.printed("legs", {"stage": leg})
    development = runs_by_stage["development"]["id"]
    assert f"after saw run {development} (success)" in result.printed("after")


ALWAYS_AFTER_FAILURE = f"""
name: Always after failure
on: push
jobs:
  release:
    runs-on: ubuntu-latest
    steps:
      - id: release
        uses: northflank-release/action@v1
        with:{_WITH}
          stage: production
          wait: true
          poll-interval: 1s
      - id: skipped
        run: echo "this step must not run after a failed release"
      - id: report
        if: always()
        env:
          RUN_ID: ${{{{ steps.release.outputs.run-id }}}}
          STATUS: ${{{{ steps.release.outputs.status }}}}
          OUTCOME: ${{{{ steps.release.outcome }}}}
        run: echo "report run=$RUN_ID status=$STATUS outcome=$OUTCOME"
"""


def test_an_always_step_after_a_failed_release_sees_the_run_and_its_status(
    act_image: str, standin: NorthflankStandin, tmp_path: Path
) -> None:
    standin.plan = RunPlan(steps=[(0.0, "running"), (0.0, "failure")], failing_node="build")
    result = _run(ALWAYS_AFTER_FAILURE, standin, tmp_path, act_image)

    assert result.exit_code != 0
    assert len(trigger_posts(standin)) == 1
    run_id = standin.runs()[0]["id"]
    assert result.step_result("release", "release") == "failure"
    assert result.step_result("release", "skipped") in {None, "skipped"}
    assert "must not run" not in result.printed("release")
    assert result.step_result("release", "report") == "success"
    assert f"report run={run_id} status=failure outcome=failure" in result.printed("release")
    errors = result.annotations("error")
    assert errors, "a failed release must leave an error annotation"
    assert any("build" in error.message for error in errors), errors
    assert result.job_result("release") == "failure"


CONTINUE_ON_ERROR = f"""
name: Continue on error
on: push
jobs:
  release:
    runs-on: ubuntu-latest
    steps:
      - id: optional
        continue-on-error: true
        uses: northflank-release/action@v1
        with:{_WITH}
          stage: staging
          wait: true
          poll-interval: 1s
      - id: outcome
        env:
          OUTCOME: ${{{{ steps.optional.outcome }}}}
          CONCLUSION: ${{{{ steps.optional.conclusion }}}}
          STATUS: ${{{{ steps.optional.outputs.status }}}}
        run: echo "optional outcome=$OUTCOME conclusion=$CONCLUSION status=$STATUS"
"""


def test_continue_on_error_gives_outcome_failure_conclusion_success_and_the_job_goes_on(
    act_image: str, standin: NorthflankStandin, tmp_path: Path
) -> None:
    standin.plan = RunPlan(steps=[(0.0, "running"), (0.0, "failure")], failing_node="deploy")
    result = _run(CONTINUE_ON_ERROR, standin, tmp_path, act_image)

    assert result.exit_code == 0, result.log[-4000:]
    assert [stage_of(post) for post in trigger_posts(standin)] == ["staging"]
    assert "optional outcome=failure conclusion=success status=failure" in result.printed("release")
    assert result.job_result("release") == "success"


BAD_INPUT = """
name: Bad input
on: push
jobs:
  release:
    runs-on: ubuntu-latest
    steps:
      - id: release
        uses: northflank-release/action@v1
        with:
          api-token: ${{ secrets.NORTHFLANK_API_TOKEN }}
          project-id: "Shop Project!"
          pipeline-id: release-pipeline
          stage: prod
          timeout: forever
      - id: report
        if: always()
        env:
          OUTCOME: ${{ steps.release.outcome }}
          RUN_ID: ${{ steps.release.outputs.run-id }}
        run: echo "bad input outcome=$OUTCOME run=[$RUN_ID]"
"""


def test_bad_input_gives_one_annotation_per_input_and_sends_nothing(
    act_image: str, standin: NorthflankStandin, tmp_path: Path
) -> None:
    result = _run(BAD_INPUT, standin, tmp_path, act_image)

    assert result.exit_code != 0
    assert standin.requests == []
    errors = result.annotations("error")
    text = "\n".join(f"{e.properties.get('title', '')}: {e.message}" for e in errors)
    for name in ("project-id", "stage", "timeout"):
        assert sum(name in f"{e.properties.get('title', '')} {e.message}" for e in errors) == 1, text
    assert "Traceback" not in result.log
    assert "bad input outcome=failure run=[]" in result.printed("release")


JOB_ENV_BESIDE_WITH = f"""
name: Job env beside with
on: push
jobs:
  release:
    runs-on: ubuntu-latest
    env:
      NORTHFLANK_STAGE: development
      NORTHFLANK_PROJECT_ID: other-project
    steps:
      - id: release
        uses: northflank-release/action@v1
        with:{_WITH}
          stage: production
"""


def test_with_beats_a_job_env_of_the_same_setting(act_image: str, standin: NorthflankStandin, tmp_path: Path) -> None:
    # Under act this holds whichever variables the action reads (see 1. above); on GitHub's runner
    # only when it reads INPUT_*, which testing/runner.py covers.
    result = _run(JOB_ENV_BESIDE_WITH, standin, tmp_path, act_image)

    assert result.exit_code == 0, result.log[-4000:]
    posts = trigger_posts(standin)
    assert [stage_of(post) for post in posts] == ["production"]
    assert "/projects/shop/" in posts[0].path


TOKEN_FROM_A_VARIABLE = """
name: Token from a variable
on: push
jobs:
  release:
    runs-on: ubuntu-latest
    steps:
      - id: release
        uses: northflank-release/action@v1
        with:
          api-token: ${{ vars.NF_TOKEN }}
          project-id: shop
          pipeline-id: release-pipeline
          stage: staging
          wait: true
          poll-interval: 1s
      - env:
          RESPONSE: ${{ steps.release.outputs.response }}
        run: echo "$RESPONSE"
"""


def test_the_action_masks_a_token_the_engine_does_not_know_is_secret(
    act_image: str, standin: NorthflankStandin, tmp_path: Path
) -> None:
    # A variable is not masked by the engine (act masks secrets): only the action's own add-mask
    # keeps the token out of the log, and act reads add-mask only without a space before '::'.
    result = _run(
        TOKEN_FROM_A_VARIABLE, standin, tmp_path, act_image, secrets={}, variables={"NF_TOKEN": API_TOKEN_DEFAULT}
    )

    assert result.exit_code == 0, result.log[-4000:]
    assert len(trigger_posts(standin)) == 1
    assert trigger_posts(standin)[0].headers["authorization"] == f"Bearer {API_TOKEN_DEFAULT}"
    assert standin.runs()[0]["id"] in result.printed("release")


INJECTION = """
name: Injection
on: push
jobs:
  release:
    runs-on: ubuntu-latest
    steps:
      - id: release
        uses: northflank-release/action@v1
        with:
          api-token: ${{ secrets.NORTHFLANK_API_TOKEN }}
          project-id: shop
          pipeline-id: release-pipeline
          stage: staging
          arguments: ${{ vars.ARGUMENTS }}
          wait: true
          timeout: 2s
          poll-interval: 1s
      - id: seen
        if: always()
        env:
          RUN_ID: ${{ steps.release.outputs.run-id }}
          CONCLUDED: ${{ steps.release.outputs.concluded }}
        run: echo "seen run=$RUN_ID concluded=$CONCLUDED"
"""


def test_api_text_forges_no_outputs_or_commands_under_act(
    act_image: str, standin: NorthflankStandin, tmp_path: Path
) -> None:
    # act reads workflow commands with its own pattern (pkg/runner/command.go) and still honours the
    # deprecated ::set-output; a status and arguments full of command syntax must stay data there too.
    standin.plan = RunPlan(steps=[(0.0, INJECTED_STATUS), (3600.0, "success")])
    result = _run(INJECTION, standin, tmp_path, act_image, variables={"ARGUMENTS": json.dumps(INJECTED_ARGUMENTS)})

    assert result.exit_code != 0  # the status never concludes: the wait times out
    [run] = standin.runs()
    outputs = result.outputs("release", "release")
    assert outputs["run-id"] == run["id"]
    # A status that is no known word is `unknown` as an output (issue 20); the raw value stays in the log only.
    assert outputs["status"] == "unknown"
    assert outputs["concluded"] == "false"
    assert set(outputs) <= OUTPUT_NAMES, sorted(outputs)
    assert f"seen run={run['id']} concluded=false" in result.printed("release")
    for level in ("error", "warning", "notice"):
        for annotation in result.annotations(level):
            assert not any(marker in annotation.message for marker in ("pwned-status", "pwned-argument")), annotation
    forged = [
        record
        for record in result.records
        if record.get("command") not in {None, "set-output", "summary", "add-mask", "error", "warning"}
        and any(marker in json.dumps(record) for marker in MARKERS)
    ]
    assert forged == []
    assert len(result.annotations("error")) == 1
