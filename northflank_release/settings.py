"""The environment, read once into typed, immutable settings.

This module reads the action's inputs (INPUT_*, NORTHFLANK_*); context.py reads what the run says about
itself (GITHUB_*). Every problem is collected (not just the first) so a user fixes all their inputs in one go.

Where an input comes from, as GitHub's runner really behaves (actions/runner):
- src/Runner.Worker/ActionRunner.cs fills every declared input from `with:` or its action.yml default, and
  builds the step environment from the env context: the workflow's, job's and step's `env:` and GITHUB_ENV;
- src/Runner.Worker/Handlers/Handler.cs (AddInputsToEnvironment) sets `INPUT_<NAME>` for each input,
  upper-cased with spaces as `_` and hyphens kept (`INPUT_API-TOKEN`), overwriting;
- src/Runner.Worker/Handlers/ContainerActionHandler.cs adds a `runs.env` key only when the step's
  environment lacks it, so a job-level NORTHFLANK_STAGE would beat `with: stage`.
So `INPUT_<NAME>` is read first (it is what `with:` says), and NORTHFLANK_* only where the runner set no
input value: `docker run -e NORTHFLANK_...`, other CI, a `docker://` step without that `with:` key.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from northflank_release.api_url import read_api_url
from northflank_release.files import FileRefused, is_inside, read_regular_file
from northflank_release.inputs import (
    InputFormatError,
    parse_arguments,
    parse_boolean,
    parse_duration,
    parse_json_or_yaml_object,
)
from northflank_release.runs import is_run_id

T = TypeVar("T")


def input_variable(name: str) -> str:
    """The variable the runner sets for an input: `api-token` -> `INPUT_API-TOKEN` (Handler.cs)."""
    return "INPUT_" + name.replace(" ", "_").upper()


# CA bundles to trust instead of the default, in requests' own order, then OpenSSL's variable (which
# requests alone ignores): self-hosted runners behind TLS inspection set one of these.
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")

# Advanced tuning, not action inputs: read from the environment for self-hosted APIs and for tests.
HTTP_TIMEOUT_ENV = "NORTHFLANK_HTTP_TIMEOUT"
TRIGGER_RETRY_SECONDS_ENV = "NORTHFLANK_TRIGGER_RETRY_SECONDS"

# A request body is a few KiB. JSON of a MiB parses in milliseconds; PyYAML takes about a second and tens
# of MB for 256 KiB (5 s and 160 MB for a MiB of keys), so YAML gets the smaller limit.
MAX_REQUEST_FILE_BYTES = 1024 * 1024
MAX_REQUEST_YAML_BYTES = 256 * 1024
MAX_CA_BUNDLE_BYTES = 8 * 1024 * 1024  # a public CA bundle is about 300 KiB

STAGES = ("development", "staging", "production")
MAX_TIMEOUT_SECONDS = 6 * 3600.0  # a GitHub job's own limit

# A token travels in an HTTP header: printable ASCII, no whitespace.
_TOKEN = re.compile(r"[\x21-\x7e]+", re.ASCII)
# Ids become URL path segments: anything but letters, digits and '-' could change the path.
_ID = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?", re.ASCII)


@dataclass(frozen=True)
class InputProblem:
    """One thing wrong with one input, said the way a user can act on it."""

    input: str
    message: str


class SettingsError(Exception):
    """Problems with the inputs, and the settings read with fallbacks, so later checks can still run."""

    def __init__(self, problems: list[InputProblem], partial: Settings) -> None:
        super().__init__(f"{len(problems)} input problem(s)")
        self.problems = problems
        self.partial = partial


@dataclass(frozen=True)
class Settings:
    api_token: str = field(repr=False)
    project_id: str
    pipeline_id: str
    stage: str
    team_id: str
    run_name: str
    run_description: str
    arguments: dict[str, Any] | None
    overrides: dict[str, Any] | None
    release_node_overrides: dict[str, Any] | None
    request_file: dict[str, Any] | None
    wait: bool
    timeout: float
    poll_interval: float
    abort_on_timeout: bool
    stop_at_approval: bool
    api_url: str
    dry_run: bool
    run_id: str
    # Not inputs (the catalogue's), but advanced tuning and the CA bundle, read from the environment after them.
    http_timeout: float = 30.0
    trigger_retry_seconds: float = 120.0
    ca_bundle: str = ""


class _Reader:
    """Reads inputs one by one, turning each format error into a problem for that input."""

    def __init__(self, environ: Mapping[str, str], workspace: str, *, confined: bool) -> None:
        self.environ = environ
        self.workspace = workspace  # where request-file is looked for
        self.confined = confined  # inside Actions: request-file must stay in the workspace
        self.problems: list[InputProblem] = []

    def raw(self, name: str) -> str:
        spec = INPUTS_BY_NAME[name]
        value = self.environ.get(input_variable(name), "")
        if not value.strip():
            value = self.environ.get(spec.env, "")
        return value if value.strip() else spec.default

    def text(self, name: str) -> str:
        # Single-line inputs are trimmed as the toolkit's getInput does (a block scalar's newline too).
        value = self.raw(name).strip()
        if not value and INPUTS_BY_NAME[name].required:
            self.problem(name, f"{name} is required: set it in `with:` (or {INPUTS_BY_NAME[name].env})")
        return value

    def problem(self, name: str, message: str) -> None:
        self.problems.append(InputProblem(name, message))

    def parsed(self, name: str, parse: Any, fallback: Any) -> Any:
        text = self.raw(name)
        try:
            return parse(text)
        except InputFormatError as error:
            text = str(error)
            self.problem(name, f"{name} {text}" if text.startswith(("is ", "must ")) else f"{name}: {text}")
            return fallback

    def mapping(self, name: str, parse: Any) -> dict[str, Any] | None:
        text = self.raw(name)
        if not text.strip():
            return None
        result: dict[str, Any] | None = self.parsed(name, parse, None)
        return result


def shadowed_variables(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """(variable, input) pairs where a NORTHFLANK_* variable differs from what `with:` gave the input.

    Inside Actions that variable comes from the workflow's or job's `env:` (or GITHUB_ENV): the input wins,
    and the user is told, by name only, since the values may be secrets.
    """
    shadowed = []
    for spec in INPUTS:
        given = environ.get(input_variable(spec.name), "").strip()
        other = environ.get(spec.env)
        if given and other is not None and other.strip() != given:
            shadowed.append((spec.env, spec.name))
    return shadowed


def read_settings(environ: Mapping[str, str], workspace: str | None = None) -> Settings:
    """Build Settings from the environment, or raise SettingsError listing every problem."""
    reader = _Reader(
        environ,
        workspace or environ.get("GITHUB_WORKSPACE", "") or os.getcwd(),
        confined=environ.get("GITHUB_ACTIONS") == "true",
    )
    # Field by field, in the catalogue's order (so problems come in action.yml's order): mypy checks each
    # input's reader against its field's type; tests/e2e/test_action_contract.py checks the catalogue names
    # the field it fills here.
    settings = Settings(
        api_token=API_TOKEN.value(reader),
        project_id=PROJECT_ID.value(reader),
        pipeline_id=PIPELINE_ID.value(reader),
        stage=STAGE.value(reader),
        team_id=TEAM_ID.value(reader),
        run_name=NAME.value(reader),
        run_description=DESCRIPTION.value(reader),
        arguments=ARGUMENTS.value(reader),
        overrides=OVERRIDES.value(reader),
        release_node_overrides=RELEASE_NODE_OVERRIDES.value(reader),
        request_file=REQUEST_FILE.value(reader),
        wait=WAIT.value(reader),
        timeout=TIMEOUT.value(reader),
        poll_interval=POLL_INTERVAL.value(reader),
        abort_on_timeout=ABORT_ON_TIMEOUT.value(reader),
        stop_at_approval=STOP_AT_APPROVAL.value(reader),
        api_url=API_URL.value(reader),
        dry_run=DRY_RUN.value(reader),
        run_id=RUN_ID.value(reader),
    )
    token = settings.api_token
    if token and not _TOKEN.fullmatch(token):
        # Never quote the token: say what is wrong with it instead.
        reader.problem(
            "api-token",
            "api-token contains spaces, line breaks or characters outside ASCII, which no Northflank token has: "
            "copy the token again into the secret",
        )
    if settings.run_id:
        _check_follow(reader, settings)
    if not token and settings.run_id:
        reader.problem(
            "api-token",
            "api-token is required to follow a run (run-id): set it in `with:` (or NORTHFLANK_API_TOKEN) to a token "
            "with Project > Pipelines > General > Read",
        )
    elif not token and not settings.dry_run:  # a dry run sends nothing, so it needs no secret (forks, pull requests)
        reader.problem(
            "api-token", "api-token is required unless dry-run is true: set it in `with:` (or NORTHFLANK_API_TOKEN)"
        )
    settings = dataclasses.replace(
        settings,
        http_timeout=_read_tuning(environ, reader, HTTP_TIMEOUT_ENV, Settings.http_timeout),
        trigger_retry_seconds=_read_tuning(environ, reader, TRIGGER_RETRY_SECONDS_ENV, Settings.trigger_retry_seconds),
        ca_bundle=_read_ca_bundle(environ, reader),
    )
    if reader.problems:
        raise SettingsError(reader.problems, settings)
    return settings


# What a run request is made of: with run-id nothing is requested, so each of these given is a mistake.
_REQUEST_INPUTS = ("name", "description", "arguments", "overrides", "release-node-overrides", "request-file")


def _check_follow(reader: _Reader, settings: Settings) -> None:
    """run-id follows a run that exists: every input that would shape a new run is an error, one per input,
    rather than ignored, since whoever wrote it expects it to change a run, and none will."""
    for name in _REQUEST_INPUTS:
        if reader.raw(name).strip():
            reader.problem(
                name,
                f"{name} has no effect with run-id: the action follows that run and triggers none. Remove {name}, "
                "or remove run-id to trigger a new run",
            )
    if settings.dry_run:
        reader.problem(
            "dry-run",
            "dry-run and run-id do not go together: a dry run plans a new run, run-id follows one that exists. "
            "Remove one of them",
        )


def _run_id(reader: _Reader, name: str) -> str:
    value = reader.text(name)
    if value and not is_run_id(value):
        # The same rule as the run-id output (runs.py): later steps paste it into URLs and commands.
        reader.problem(
            name,
            f"{name} is not a release flow run id: use 1 to 128 letters, digits, '-' and '_', starting and "
            "ending with a letter or digit (pass the run-id output of the step that triggered the run)",
        )
    return value


def _read_id(reader: _Reader, name: str) -> str:
    value = reader.text(name)
    if value and not _ID.fullmatch(value):
        reader.problem(
            name,
            f"{name} {value!r} is not a Northflank id: use only letters, digits and '-' "
            "(copy the id from the Northflank URL, not the display name)",
        )
    return value


def _read_api_url(reader: _Reader, name: str) -> str:
    api_url = read_api_url(reader.text(name))
    if api_url.problem:
        reader.problem(name, api_url.problem)
    return api_url.url


def _read_request_file(reader: _Reader, name: str) -> dict[str, Any] | None:
    value = reader.text(name)
    if not value:
        return None
    path = os.path.join(reader.workspace, value)
    if reader.confined and not is_inside(path, reader.workspace):
        # Whoever can steer this input (a workflow_dispatch input, a file a pull request adds) must not be
        # able to make the action read the container's or a mount's files into the log.
        reader.problem(
            "request-file",
            f"request-file {value!r} resolves (symlinks followed) to a place outside the workspace: inside "
            "GitHub Actions it must be a file in GITHUB_WORKSPACE, such as one in the repository",
        )
        return None
    try:
        data = read_regular_file(path, MAX_REQUEST_FILE_BYTES)
        text = data.decode("utf-8")
    except FileRefused as error:
        hint = " (paths are relative to the workspace)" if str(error) == "does not exist" else ""
        reader.problem("request-file", f"request-file {value!r} {error}{hint}")
        return None
    except UnicodeDecodeError:
        reader.problem("request-file", f"request-file {value!r} is not UTF-8 text: it must be JSON or YAML")
        return None
    if len(data) > MAX_REQUEST_YAML_BYTES and not text.lstrip().startswith("{"):
        reader.problem(
            "request-file",
            f"request-file {value!r} is {len(data)} bytes of YAML; YAML is read up to {MAX_REQUEST_YAML_BYTES} "
            "bytes: write a larger body as JSON",
        )
        return None
    try:
        body = parse_json_or_yaml_object(text)
    except InputFormatError as error:
        reader.problem("request-file", f"request-file {value!r} {error}")
        return None
    # Unknown keys are the schema's to report (request.validate_body), so the body's keys live in one place.
    return body


def _read_ca_bundle(environ: Mapping[str, str], reader: _Reader) -> str:
    for variable in CA_BUNDLE_VARIABLES:
        path = environ.get(variable, "").strip()
        if not path:
            continue
        if not Path(path).exists():
            # The runner rewrites paths under the workspace and runner.temp into the container's
            # (ContainerActionHandler.cs, TranslateToContainerPath); any other host path is not there.
            reader.problems.append(
                InputProblem(
                    variable,
                    f"{variable} names {path!r}, which does not exist in the action's container: keep the CA "
                    f"bundle in the workspace or runner.temp and point {variable} at it there, or unset it",
                )
            )
            return ""
        if unreadable := _ca_bundle_problem(path):
            reader.problems.append(InputProblem(variable, f"{variable} names {path!r}, {unreadable}"))
            return ""
        return path
    return ""


def _ca_bundle_problem(path: str) -> str:
    """Why OpenSSL cannot load these CA certificates, or "" when it can: a bad bundle is an input error, not
    a TLS failure on every request. OpenSSL would open a FIFO or a device and block or read without end, so
    the file is read here first (files.py), and a folder's entries must all be regular files."""
    # Only when a CA bundle is set: about 4.5 ms a dry run need not pay (a trigger loads it with urllib3)
    # (-X importtime, median of 11; tests/e2e/test_lazy_imports.py pins it).
    import ssl

    try:
        if Path(path).is_dir():
            odd = [entry for entry in os.scandir(path) if not (entry.is_file() or entry.is_dir())]
            if odd:
                return f"a folder with {len(odd)} entries that are not regular files (FIFOs, devices or sockets)"
            ssl.create_default_context(capath=path)
        else:
            data = read_regular_file(path, MAX_CA_BUNDLE_BYTES)
            ssl.create_default_context(cadata=data.decode("ascii", errors="ignore"))
    except FileRefused as error:
        return f"which {error}"
    except (ssl.SSLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or error.__class__.__name__
        return f"which holds no CA certificate OpenSSL can read ({reason}): it must be PEM (BEGIN CERTIFICATE)"
    return ""


def _read_tuning(environ: Mapping[str, str], reader: _Reader, variable: str, default: float) -> float:
    text = environ.get(variable, "").strip()
    if not text:
        return default
    try:
        seconds = parse_duration(text)
    except InputFormatError as error:
        reader.problems.append(InputProblem(variable, f"{variable}: {error}"))
        return default
    if seconds <= 0:
        reader.problems.append(InputProblem(variable, f"{variable} must be above 0"))
        return default
    return seconds


# --- The catalogue: one entry per input ---------------------------------------------------------------


@dataclass(frozen=True)
class Input(Generic[T]):
    """One input, everything about it but its action.yml declaration: the variable it can also come from, the
    Settings field it fills, how it is read and checked (problems go to the reader), its default, its
    --help line. tests/e2e/test_action_contract.py keeps this catalogue and action.yml equal; `read`'s type is
    the field's, which mypy checks where read_settings builds Settings field by field."""

    name: str
    env: str
    field: str
    read: Callable[[_Reader, str], T]
    help: str
    default: str = ""
    required: bool = False

    def value(self, reader: _Reader) -> T:
        return self.read(reader, self.name)


def _text(reader: _Reader, name: str) -> str:
    return reader.text(name)


def _boolean(reader: _Reader, name: str) -> bool:
    value: bool = reader.parsed(name, parse_boolean, False)
    return value


def _stage(reader: _Reader, name: str) -> str:
    stage = reader.text(name).lower()
    if stage and stage not in STAGES:
        reader.problem(name, f"stage {stage!r} is not a pipeline stage: use development, staging or production")
    return stage


def _timeout(reader: _Reader, name: str) -> float:
    timeout: float = reader.parsed(name, parse_duration, 1800.0)
    if not 0 < timeout <= MAX_TIMEOUT_SECONDS:
        reader.problem(name, f"timeout must be above 0 and at most 6h (a job's own limit), not {timeout:g}s")
    return timeout


def _poll_interval(reader: _Reader, name: str) -> float:
    interval: float = reader.parsed(name, parse_duration, 10.0)
    if interval < 1:
        reader.problem(name, f"poll-interval must be at least 1s, not {interval:g}s")
    return interval


def _arguments(reader: _Reader, name: str) -> dict[str, Any] | None:
    return reader.mapping(name, parse_arguments)


def _mapping(reader: _Reader, name: str) -> dict[str, Any] | None:
    return reader.mapping(name, parse_json_or_yaml_object)


API_TOKEN = Input(
    "api-token",
    "NORTHFLANK_API_TOKEN",
    "api_token",
    _text,
    "Northflank API token; pass a secret (not needed for a dry run)",
)
PROJECT_ID = Input(
    "project-id", "NORTHFLANK_PROJECT_ID", "project_id", _read_id, "ID of the Northflank project", required=True
)
PIPELINE_ID = Input(
    "pipeline-id", "NORTHFLANK_PIPELINE_ID", "pipeline_id", _read_id, "ID of the pipeline", required=True
)
STAGE = Input(
    "stage", "NORTHFLANK_STAGE", "stage", _stage, "development, staging or production (any case)", required=True
)
TEAM_ID = Input(
    "team-id", "NORTHFLANK_TEAM_ID", "team_id", _read_id, "team ID, for organisation-scoped tokens (team route)"
)
NAME = Input(
    "name", "NORTHFLANK_RUN_NAME", "run_name", _text, "run name; derived from the ref and workflow run when empty"
)
DESCRIPTION = Input(
    "description", "NORTHFLANK_RUN_DESCRIPTION", "run_description", _text, "run description; derived when empty"
)
ARGUMENTS = Input(
    "arguments", "NORTHFLANK_ARGUMENTS", "arguments", _arguments, "JSON object, YAML mapping, or KEY=VALUE lines"
)
OVERRIDES = Input(
    "overrides", "NORTHFLANK_OVERRIDES", "overrides", _mapping, "JSON object or YAML mapping: node ref -> fields"
)
RELEASE_NODE_OVERRIDES = Input(
    "release-node-overrides",
    "NORTHFLANK_RELEASE_NODE_OVERRIDES",
    "release_node_overrides",
    _mapping,
    "JSON object or YAML mapping: service id -> release node spec",
)
REQUEST_FILE = Input(
    "request-file",
    "NORTHFLANK_REQUEST_FILE",
    "request_file",
    _read_request_file,
    "JSON/YAML request body file; inputs override its keys",
)
WAIT = Input(
    "wait", "NORTHFLANK_WAIT", "wait", _boolean, "wait until the run concludes; fail unless it succeeds", "false"
)
TIMEOUT = Input(
    "timeout",
    "NORTHFLANK_TIMEOUT",
    "timeout",
    _timeout,
    "how long to wait (90s, 15m, 1h, or seconds), at most 6h",
    "30m",
)
POLL_INTERVAL = Input(
    "poll-interval",
    "NORTHFLANK_POLL_INTERVAL",
    "poll_interval",
    _poll_interval,
    "base interval between status reads, at least 1s",
    "10s",
)
ABORT_ON_TIMEOUT = Input(
    "abort-on-timeout",
    "NORTHFLANK_ABORT_ON_TIMEOUT",
    "abort_on_timeout",
    _boolean,
    "abort the run when waiting gives up (timeout or job cancelled)",
    "false",
)
STOP_AT_APPROVAL = Input(
    "stop-at-approval",
    "NORTHFLANK_STOP_AT_APPROVAL",
    "stop_at_approval",
    _boolean,
    "with wait, end the step successfully once the run awaits approval (status approval_wait)",
    "false",
)
API_URL = Input("api-url", "NORTHFLANK_API_URL", "api_url", _read_api_url, "API base URL", "https://api.northflank.com")
DRY_RUN = Input(
    "dry-run",
    "NORTHFLANK_DRY_RUN",
    "dry_run",
    _boolean,
    "validate and print the request, and with a token check it against the template; send nothing",
    "false",
)
RUN_ID = Input(
    "run-id",
    "NORTHFLANK_RUN_ID",
    "run_id",
    _run_id,
    "follow this existing run instead of triggering one (with wait: until it concludes)",
)
# The catalogue, in action.yml's order.
INPUTS: tuple[Input[Any], ...] = (
    API_TOKEN,
    PROJECT_ID,
    PIPELINE_ID,
    STAGE,
    TEAM_ID,
    NAME,
    DESCRIPTION,
    ARGUMENTS,
    OVERRIDES,
    RELEASE_NODE_OVERRIDES,
    REQUEST_FILE,
    WAIT,
    TIMEOUT,
    POLL_INTERVAL,
    ABORT_ON_TIMEOUT,
    STOP_AT_APPROVAL,
    API_URL,
    DRY_RUN,
    RUN_ID,
)
INPUTS_BY_NAME = {spec.name: spec for spec in INPUTS}

# Both places a token can arrive from; each is masked before anything is printed.
TOKEN_VARIABLES = (input_variable("api-token"), INPUTS_BY_NAME["api-token"].env)
