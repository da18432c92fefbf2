"""The story of one run: settings -> request -> (dry run [-> plan] | trigger -> outputs -> wait -> summary), or
settings -> follow (run-id) -> outputs -> wait -> summary.

Everything up to the dry run lives here and imports no HTTP library, so a dry run or a bad input
never pays for loading one; the sending half is in release.py.
"""

from __future__ import annotations

import os
import sys
from signal import Signals

from northflank_release.cancellation import NOTHING_SENT, Cancellation, Cancelled
from northflank_release.context import GitHubContext, read_github_context
from northflank_release.github import Runner, json_output
from northflank_release.proxies import proxy_secrets
from northflank_release.request import RequestError, RunRequest, build_request
from northflank_release.settings import (
    TOKEN_VARIABLES,
    InputProblem,
    Settings,
    SettingsError,
    read_settings,
    shadowed_variables,
)
from northflank_release.summary import dry_run_summary
from northflank_release.text import maskable_json


def main(argv: list[str] | None = None) -> int:
    flags: dict[str, str] = {}
    if argv:
        # argparse and its gettext (which reads the locale alias file) cost about 1.6 ms the container, which
        # runs with no arguments, never needs (-X importtime, median of 11; tests/e2e/test_lazy_imports.py
        # pins it).
        from northflank_release.cli import CommandLineError, parse_command_line

        try:
            flags = parse_command_line(argv)
        except CommandLineError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    environ = {**os.environ, **flags}
    context = read_github_context(environ)
    runner = Runner(in_actions=context.in_actions, debug=context.debug, environ=environ)
    for token in {environ.get(variable, "").strip() for variable in TOKEN_VARIABLES}:  # before anything is printed
        runner.mask(token)
    for secret in sorted(proxy_secrets(environ)):  # a proxy's refusal may quote its credentials back
        runner.mask(secret)
    for variable, input_name in shadowed_variables(environ):
        runner.warning(
            f"{variable} is set in the workflow's or job's env and differs from the action's {input_name} input; "
            f"using the input (what `with:` says). Remove {variable} from env: to silence this.",
            title=f"{variable} ignored",
        )

    def announce(signum: int) -> None:
        runner.info_now(f"Received {Signals(signum).name}: {NOTHING_SENT}")

    with Cancellation(announce) as cancellation:
        try:
            settings, request, problems = load(environ, context)
            if problems or (request is None and not settings.run_id):
                for problem in problems:
                    runner.error(problem.message, title=f"Invalid input: {problem.input}")
                runner.info(f"{len(problems)} problem(s) with the inputs; nothing was sent to Northflank.")
                return 1
            if request is None:  # run-id: follow that run, trigger none
                from northflank_release.release import Release

                return Release(settings, None, runner, cancellation).follow(settings.run_id)
            runner.set_outputs({"run-name": request.name, "request": json_output(request.body)})
            if settings.dry_run:
                show_dry_run(runner, settings, request)
                if not settings.api_token:
                    runner.info(LOCAL_ONLY_NOTE)
                    runner.append_summary(f"\n{LOCAL_ONLY_NOTE}\n")
                    return 0
                # The plan reads the template over HTTP; a dry run without a token still loads no HTTP library.
                from northflank_release.plan import check_plan

                return check_plan(settings, request, runner, cancellation)
            # requests loads only here: a dry run without a token or a bad input never pays for an HTTP library,
            # about 50 ms (-X importtime, median of 11; tests/e2e/test_lazy_imports.py pins it).
            from northflank_release.release import Release

            return Release(settings, request, runner, cancellation).run()
        except Cancelled as cancelled:
            runner.error(NOTHING_SENT, title="Cancelled")
            return cancelled.exit_code
        except Exception as error:  # noqa: BLE001 - the last guard: one readable line, never a traceback
            runner.error(f"{error.__class__.__name__}: {error}", title="Unexpected error in the Northflank action")
            return 1


def load(environ: dict[str, str], context: GitHubContext) -> tuple[Settings, RunRequest | None, list[InputProblem]]:
    """Every problem with the inputs and the body, found in one pass."""
    problems: list[InputProblem] = []
    try:
        settings = read_settings(environ)
    except SettingsError as error:
        settings, problems = error.partial, list(error.problems)
    if settings.run_id:
        return settings, None, problems  # no run is requested: nothing to build, nothing to validate
    try:
        return settings, build_request(settings, context), problems
    except RequestError as error:
        seen = {problem.input for problem in problems}
        return settings, None, problems + [p for p in error.problems if p.input not in seen]


LOCAL_ONLY_NOTE = (
    "Checked locally only. With api-token (a token with Project > Pipelines > General > Read), the dry run also "
    "checks this request against the release flow's template: node refs, release node services, arguments, paused."
)


def show_dry_run(runner: Runner, settings: Settings, request: RunRequest) -> None:
    pretty = maskable_json(request.body, indent=2)
    runner.info(f"Dry run: would POST {settings.api_url}{request.target.runs_path} with this body:")
    for line in pretty.splitlines():
        runner.info(line)
    runner.append_summary(dry_run_summary(request.target, pretty))
