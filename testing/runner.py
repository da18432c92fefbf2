"""Run the action the way the GitHub runner runs a container action, and read what it leaves behind.

The environment is built in the runner's order (actions/runner):
- src/Runner.Worker/ActionRunner.cs: the step environment starts from the env context, which holds the
  workflow's, job's and step's `env:` and GITHUB_ENV (`job_env` here), and every declared input gets its
  `with:` value or its action.yml default;
- src/Runner.Worker/Handlers/Handler.cs (AddInputsToEnvironment): `INPUT_<NAME>` for each input, upper-cased,
  spaces as `_`, hyphens kept, overwriting whatever was there;
- src/Runner.Worker/Handlers/ContainerActionHandler.cs: action.yml's `runs.env`, `${{ inputs.x }}` filled in,
  added only for keys the step environment does not already have; then the GITHUB_* context variables.
The outputs and summary files are real files, parsed with the runner's own rules.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from testing.northflank_standin import NorthflankStandin

REPO = Path(__file__).resolve().parent.parent
ENTRYPOINT = REPO / "entrypoint.py"
# The interpreter flags of the image's ENTRYPOINT (["python", flags..., "/action/entrypoint.py"]), so the
# emulation runs Python exactly as the container does.
_ENTRYPOINT_LINE = next(
    line for line in (REPO / "Dockerfile").read_text(encoding="utf-8").splitlines() if line.startswith("ENTRYPOINT")
)
INTERPRETER_FLAGS: list[str] = json.loads(_ENTRYPOINT_LINE.removeprefix("ENTRYPOINT"))[1:-1]
ACTION = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
_INPUT_REF = re.compile(r"\$\{\{\s*inputs\.([A-Za-z0-9_-]+)\s*\}\}")

GITHUB_CONTEXT = {
    "GITHUB_ACTIONS": "true",
    "CI": "true",
    "GITHUB_REPOSITORY": "acme/shop",
    "GITHUB_REF": "refs/tags/v1.4.0",
    "GITHUB_REF_NAME": "v1.4.0",
    "GITHUB_REF_TYPE": "tag",
    "GITHUB_SHA": "4f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39",
    "GITHUB_WORKFLOW": "Release",
    "GITHUB_RUN_ID": "8123456789",
    "GITHUB_RUN_NUMBER": "57",
    "GITHUB_RUN_ATTEMPT": "1",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_EVENT_NAME": "push",
}


def runs_env(inputs: Mapping[str, str]) -> dict[str, str]:
    """action.yml's runs.env with the expressions evaluated as the runner evaluates them."""
    declared: dict[str, Any] = ACTION["inputs"]
    unknown = set(inputs) - set(declared)
    if unknown:
        raise KeyError(f"not inputs of action.yml: {sorted(unknown)}")

    def value_of(match: re.Match[str]) -> str:
        name = match.group(1)
        return inputs.get(name, str(declared[name].get("default", "")))

    return {key: _INPUT_REF.sub(value_of, str(template)) for key, template in ACTION["runs"]["env"].items()}


def input_variable(name: str) -> str:
    """The runner's name for an input's variable (Handler.cs), written out here rather than taken from the
    action, so the emulation cannot share a mistake with the code it tests."""
    return f"INPUT_{name.replace(' ', '_').upper()}"


def input_variables(inputs: Mapping[str, str]) -> dict[str, str]:
    declared: dict[str, Any] = ACTION["inputs"]
    return {input_variable(name): inputs.get(name, str(spec.get("default", ""))) for name, spec in declared.items()}


def step_environment(
    inputs: Mapping[str, str], context: Mapping[str, str], job_env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """What the runner hands a container action, in the runner's order (see the module docstring)."""
    env = {**(job_env or {}), **input_variables(inputs)}
    for key, value in runs_env(inputs).items():
        env.setdefault(key, value)  # ContainerActionHandler: `if (!this.Environment.ContainsKey(env.Key))`
    return {**env, **context}


def parse_file_commands(text: str) -> dict[str, str]:
    """The runner's parser for GITHUB_OUTPUT (and GITHUB_ENV): `k=v` lines and `k<<DELIM` heredocs."""
    result: dict[str, str] = {}
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line:
            continue
        equals, heredoc = line.find("="), line.find("<<")
        if equals >= 0 and (heredoc < 0 or equals < heredoc):
            name, value = line.split("=", 1)
        elif heredoc >= 0:
            name, delimiter = line.split("<<", 1)
            if not name or not delimiter:
                raise ValueError(f"invalid heredoc line {line!r}")
            body: list[str] = []
            while True:
                if index >= len(lines):
                    raise ValueError(f"matching delimiter not found for {name!r}")
                current = lines[index]
                index += 1
                if current == delimiter:
                    break
                body.append(current)
            value = "\n".join(body)
        else:
            raise ValueError(f"invalid format {line!r}")
        if not name:
            raise ValueError("empty name")
        result[name] = value
    return result


@dataclass
class ActionRun:
    exit_code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str
    raw_outputs: str = field(repr=False, default="")
    peak_memory: int = 0  # bytes of resident memory at the process's peak (finish(measure=True) only)
    seconds: float = 0.0  # from start to exit (finish(measure=True) only)

    @property
    def errors(self) -> list[str]:
        """The `::error` annotations, as `title: message`."""
        return [f"{title}: {message}" for title, message in self.annotations]

    @property
    def annotations(self) -> list[tuple[str, str]]:
        """The `::error` annotations as (title, message), escapes decoded as the runner decodes them."""
        found = []
        for line in self.stdout.splitlines():
            match = re.match(r"^::error(?: (?P<props>[^:]*))?::(?P<message>.*)$", line)
            if match:
                props = dict(part.split("=", 1) for part in (match.group("props") or "").split(",") if "=" in part)
                title = unescape(props.get("title", ""))
                found.append((title, unescape(match.group("message"))))
        return found

    def annotations_of(self, level: str) -> list[tuple[str, str]]:
        """The `::warning` or `::notice` (or `::error`) annotations as (title, message), decoded as the runner does."""
        found = []
        for line in self.stdout.splitlines():
            match = re.match(rf"^::{level}(?: (?P<props>[^:]*))?::(?P<message>.*)$", line)
            if match:
                props = dict(part.split("=", 1) for part in (match.group("props") or "").split(",") if "=" in part)
                found.append((unescape(props.get("title", "")), unescape(match.group("message"))))
        return found

    @property
    def log(self) -> str:
        return self.stdout + self.stderr


def unescape(text: str) -> str:
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",").replace("%25", "%")


@dataclass
class StartedAction:
    """A running action process, and where it writes; finish() waits and reads what it left."""

    process: subprocess.Popen[str]
    env: dict[str, str]
    outputs_file: Path
    summary_file: Path
    started: float = field(default_factory=time.monotonic)

    def finish(self, timeout: float = 60, *, measure: bool = False) -> ActionRun:
        """Wait for the exit; `measure` also takes the process's own peak memory and run time (wait4)."""
        peak, seconds = 0, 0.0
        if measure:
            stdout, stderr, peak, seconds = self._reap_measured(timeout)
        else:
            stdout, stderr = self.process.communicate(timeout=timeout)
        raw = self.outputs_file.read_text(encoding="utf-8")
        result = ActionRun(
            exit_code=self.process.returncode,
            stdout=stdout,
            stderr=stderr,
            outputs=parse_file_commands(raw),
            summary=self.summary_file.read_text(encoding="utf-8"),
            raw_outputs=raw,
            peak_memory=peak,
            seconds=seconds,
        )
        for variable in ("INPUT_API-TOKEN", "NORTHFLANK_API_TOKEN"):
            assert_token_not_leaked(result, self.env.get(variable, ""))
        return result

    def _reap_measured(self, timeout: float) -> tuple[str, str, int, float]:
        """Reap the process, noting its peak resident memory: VmHWM in /proc, read until it exits (the mark
        only rises, so the last reading holds the peak but for the final moments). Not ru_maxrss: Linux
        carries the parent's high-water mark across fork and exec into the child's, so it would report
        pytest's own size whenever that is larger."""
        captured: dict[str, str] = {}
        streams = {"stdout": self.process.stdout, "stderr": self.process.stderr}
        readers = [
            threading.Thread(target=lambda name=name, stream=stream: captured.update({name: stream.read()}))
            for name, stream in streams.items()
            if stream is not None
        ]
        for reader in readers:
            reader.start()
        give_up = time.monotonic() + timeout
        peak = 0
        while True:
            peak = max(peak, _resident_peak(self.process.pid))
            pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > give_up:
                self.process.kill()
                raise subprocess.TimeoutExpired(self.process.args, timeout)
            time.sleep(0.02)
        seconds = time.monotonic() - self.started
        self.process.returncode = os.waitstatus_to_exitcode(status)
        for reader in readers:
            reader.join()
        if not peak:  # no /proc: the upper bound is all there is
            peak = usage.ru_maxrss * 1024
        return captured.get("stdout", ""), captured.get("stderr", ""), peak, seconds


def _resident_peak(pid: int) -> int:
    """The process's peak resident memory in bytes (Linux's VmHWM), or 0 when it cannot be read."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return 0
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else 0


def start_action(
    tmp_path: Path,
    inputs: Mapping[str, str],
    *,
    job_env: Mapping[str, str] | None = None,
    context: Mapping[str, str] | None = None,
    outside_github: bool = False,
    docker_step: bool = False,
    args: list[str] | None = None,
    python_flags: Sequence[str] = (),
) -> StartedAction:
    """Start entrypoint.py as a subprocess with the environment the runner would give the container.

    `job_env` is the workflow's, job's and step's `env:` (and GITHUB_ENV): it comes before `with:` and
    `runs.env` exactly as the runner orders them; outside GitHub it is just more variables.
    `docker_step` runs it as `uses: docker://image`: no action.yml, so ActionRunner.cs merges no defaults
    and there is no runs.env; only the `with:` keys given become INPUT_<NAME>.
    `python_flags` go to the interpreter after the image's own (`-X importtime`, say).
    """
    workspace, file_commands = tmp_path / "workspace", tmp_path / "file_commands"
    workspace.mkdir(exist_ok=True)
    file_commands.mkdir(exist_ok=True)
    outputs_file, summary_file = file_commands / "set_output", file_commands / "step_summary"
    outputs_file.touch()
    summary_file.touch()
    runner_context = {
        **(GITHUB_CONTEXT if context is None else context),
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(outputs_file),
        "GITHUB_STEP_SUMMARY": str(summary_file),
    }
    if outside_github:
        # `docker run -e NORTHFLANK_...` or another CI: only the variables, whatever else the shell has.
        launched = {**runs_env(inputs), **(job_env or {})}
    elif docker_step:
        given = {input_variable(name): value for name, value in inputs.items()}
        launched = {**(job_env or {}), **given, **runner_context}
    else:
        launched = step_environment(inputs, runner_context, job_env)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **launched}
    process = subprocess.Popen(
        [sys.executable, *INTERPRETER_FLAGS, *python_flags, str(ENTRYPOINT), *(args or [])],
        env=env,
        cwd=workspace,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return StartedAction(process, env, outputs_file, summary_file)


def run_action(
    tmp_path: Path,
    inputs: Mapping[str, str],
    *,
    job_env: Mapping[str, str] | None = None,
    context: Mapping[str, str] | None = None,
    outside_github: bool = False,
    docker_step: bool = False,
    args: list[str] | None = None,
    timeout: float = 60,
) -> ActionRun:
    """Run the action to its end; see start_action."""
    started = start_action(
        tmp_path,
        inputs,
        job_env=job_env,
        context=context,
        outside_github=outside_github,
        docker_step=docker_step,
        args=args,
    )
    return started.finish(timeout)


def assert_token_not_leaked(result: ActionRun, token: str) -> None:
    """Every run of the action is a leak test: the token may appear only in the runner's add-mask command."""
    token = token.strip()
    if len(token) < 8:  # too short to tell apart from ordinary text
        return
    # Also the forms a Python error message or a JSON dump would show the token in.
    forms = {token, repr(token)[1:-1], json.dumps(token)[1:-1]}
    for form in forms - {token}:
        assert form not in result.log + result.raw_outputs + result.summary, "the API token leaked (escaped)"
    stdout_lines = [line for line in result.stdout.splitlines() if token in line]
    allowed = [f"::add-mask::{token}", f"::add-mask ::{token}"]
    leaked_stdout = [line for line in stdout_lines if line not in allowed]
    places = {
        "stdout": bool(leaked_stdout),
        "stderr": token in result.stderr,
        "outputs file": token in result.raw_outputs,
        "step summary": token in result.summary,
    }
    leaks = [place for place, leaked in places.items() if leaked]
    assert not leaks, f"the API token leaked into: {', '.join(leaks)}"
    if stdout_lines:
        lines = result.stdout.splitlines()
        before = lines[: lines.index(stdout_lines[0])]
        assert stdout_lines[0] in allowed, "add-mask must come before anything else is printed"
        assert all(line.startswith("::add-mask") for line in before), "add-mask must come before anything else"


def trigger_bodies(standin: NorthflankStandin) -> list[dict[str, Any]]:
    """The JSON bodies of every trigger request the stand-in received, in order."""
    bodies: list[dict[str, Any]] = []
    for request in standin.requests_to("trigger"):
        assert isinstance(request.body_json, dict), request.body_text
        bodies.append(request.body_json)
    return bodies
