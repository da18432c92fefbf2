"""The side-by-side record: the same trigger faults against the official clients, curl and the action.

    scripts/peers [--skip-slow] [--tools sdk,cli,curl,action,action-t] [--cases KEY,...] [--no-write]

Each tool triggers one release-flow run per fault against a fresh NorthflankStandin (testing/northflank_standin.py).
The record counts the runs the stand-in created and whether the tool reported the id of one of them, writes
docs/peers.md and prints it. It is a record, not a test: it exits 0 whatever the tools did.

The official Python SDK and CLI come pinned from scripts/peer-tools/ (hashes for pip, a lock file for npm) into
$NF_PEERS_DIR (default /var/tmp/northflank-release-peers): an environment this script alone uses, never the
action. Both take a plain-http loopback URL, so the stand-in needs no TLS: the SDK through `base_url`, the CLI
through a login context (host and token) in $HOME/.northflank/config.json.

To move a pin, edit scripts/peer-tools/requirements.in or package.json, then in that folder run
`pip-compile --generate-hashes --no-emit-find-links --no-emit-index-url --strip-extras requirements.in` and
`npm install --package-lock-only` (its .npmrc keeps registry addresses out of the lock file).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from testing.northflank_standin import API_TOKEN_DEFAULT, Fault, NorthflankStandin, Outage  # noqa: E402
from testing.runner import run_action  # noqa: E402

PINS = REPO / "scripts" / "peer-tools"
DOC = REPO / "docs" / "peers.md"
CACHE = Path(os.environ.get("NF_PEERS_DIR", "/var/tmp/northflank-release-peers"))
ATTEMPT_LIMIT = 240.0  # seconds one tool may take on one fault before it is killed and recorded as such
# Above the 30 s read timeout of the SDK (ApiClient's `timeout` default) and of the action
# (NORTHFLANK_HTTP_TIMEOUT's default), so the answer comes after both have given up on it.
SLOW_SECONDS = 35.0
OUTAGE_SECONDS = 8.0

PROJECT, PIPELINE, STAGE = "shop", "release-pipeline", "production"
# What the peers send: the body a hand-written step would, with the arguments the action is given.
PEER_BODY = {"name": "Release shop v140", "description": "Triggered by acme/shop", "arguments": {"VERSION": "v1.4.0"}}
ACTION_INPUTS = {"project-id": PROJECT, "pipeline-id": PIPELINE, "stage": STAGE, "arguments": "VERSION=v1.4.0"}


# --- faults ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One way the API misbehaves, made anew for each attempt (a Fault is used up as it fires)."""

    key: str
    label: str
    faults: Callable[[], list[Fault]] = list
    outage: Callable[[], Outage | None] = lambda: None
    slow: bool = False


CONTROL = Case("none", "no fault (control)")
CASES = (
    CONTROL,
    Case(
        "drop-after-create",
        "answer lost: connection closed after the run was created",
        lambda: [Fault("POST", "trigger", "drop", create_first=True)],
    ),
    Case(
        "500-after-create",
        "500 after the run was created",
        lambda: [Fault("POST", "trigger", "status", status=500, create_first=True, message="Internal error")],
    ),
    Case(
        "slow-create",
        f"answer after {SLOW_SECONDS:.0f} s (the run created at once)",
        lambda: [Fault("POST", "trigger", "delay", delay=SLOW_SECONDS, create_first=True)],
        slow=True,
    ),
    Case("no-id", "200 whose JSON lacks the run id (run created)", lambda: [Fault("POST", "trigger", "no_id")]),
    Case("empty-200", "200 with an empty body (run created)", lambda: [Fault("POST", "trigger", "empty")]),
    Case(
        "outage-503",
        f"API away {OUTAGE_SECONDS:.0f} s from the first POST: 503 from the gateway",
        outage=lambda: Outage("503", OUTAGE_SECONDS),
    ),
    Case(
        "outage-reset",
        f"API away {OUTAGE_SECONDS:.0f} s from the first POST: connections reset",
        outage=lambda: Outage("reset", OUTAGE_SECONDS),
    ),
)


# --- what one attempt shows ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """What one tool did against one fault, as the stand-in and the tool's own output show it."""

    created: tuple[str, ...]  # ids of the runs the stand-in created
    reported: str  # the run id the tool gave its caller, as a script would read it ("" for none)
    posts: int  # trigger requests the stand-in received
    exit_code: int | None  # None: killed after ATTEMPT_LIMIT
    seconds: float

    @property
    def runs(self) -> int:
        return len(self.created)

    @property
    def id_state(self) -> str:
        if not self.reported:
            return "no id"
        return "id" if self.reported in self.created else "an id of no run"

    @property
    def duplicated(self) -> bool:
        return self.runs > 1

    @property
    def lost(self) -> bool:
        """A run exists, yet the caller was not told which: someone must look it up by hand."""
        return self.runs > 0 and self.id_state != "id"


@dataclass(frozen=True)
class NotMeasured:
    why: str


Result = Attempt | NotMeasured


def cell(result: Result) -> str:
    if isinstance(result, NotMeasured):
        return f"not measured: {result.why}"
    runs = f"{result.runs} run" + ("" if result.runs == 1 else "s")
    shown = f"**{runs}**" if result.duplicated else runs
    id_state = f"**{result.id_state}**" if result.lost else result.id_state
    ended = f"exit {result.exit_code}" if result.exit_code is not None else f"killed at {ATTEMPT_LIMIT:.0f} s"
    posts = f"{result.posts} POST" + ("" if result.posts == 1 else "s")
    return f"{shown}, {id_state}, {ended} ({posts}, {result.seconds:.0f} s)"


@dataclass(frozen=True)
class Tally:
    measured: int
    duplicated: list[str]  # case keys
    lost: list[str]

    def sentence(self) -> str:
        if not self.measured:
            return "not measured"

        def named(keys: list[str]) -> str:
            return f"{len(keys)}" + (f" ({', '.join(keys)})" if keys else "")

        return (
            f"{self.measured} faults measured; a second run after {named(self.duplicated)}; "
            f"a created run's id not reported after {named(self.lost)}"
        )


def tally(results: Mapping[str, Result]) -> Tally:
    """Per tool: how many faults it was measured on, and on which it made a second run or lost an id."""
    attempts = {key: result for key, result in results.items() if isinstance(result, Attempt)}
    return Tally(
        measured=len(attempts),
        duplicated=[key for key, attempt in attempts.items() if attempt.duplicated],
        lost=[key for key, attempt in attempts.items() if attempt.lost],
    )


# --- the tools -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Launched:
    exit_code: int | None
    reported: str
    output: str


@dataclass
class Tool:
    key: str
    title: str
    token: str
    how: str  # for the document: the command and where the id was read from
    launch: Callable[[NorthflankStandin, Path], Launched] | None = None
    version: str = ""
    unavailable: str = ""  # why it could not be measured at all
    results: dict[str, Result] = field(default_factory=dict)


def run_process(argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> tuple[int | None, str, str]:
    try:
        completed = subprocess.run(
            list(argv), env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=ATTEMPT_LIMIT, check=False
        )
    except subprocess.TimeoutExpired as expired:
        return None, _text(expired.stdout), _text(expired.stderr)
    return completed.returncode, completed.stdout, completed.stderr


def _text(value: bytes | str | None) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else (value or "")


def json_field(text: str, *path: str) -> str:
    """The string at `path` in `text` read as JSON, as `jq -r` would give it a script; "" when absent."""
    try:
        value: object = json.loads(text)
    except ValueError:
        return ""
    for name in path:
        if not isinstance(value, dict):
            return ""
        value = value.get(name)
    return value if isinstance(value, str) else ""


def plain_env(home: Path) -> dict[str, str]:
    # No proxy variables and a home of its own: the tool reaches the stand-in and nothing else.
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "LANG": "C.UTF-8"}


# The SDK as a release step would call it: the documented ApiClient with its defaults, the id read from the
# answer's data. Its defaults, from the installed package: `timeout: float = 30.0` (northflank/client.py,
# ApiClient.__init__), and _retry_sync in northflank/endpoint.py sends a request again, POSTs included, up to 3
# times 0.5 s apart on any URLError/OSError/TimeoutError (a lost answer, a reset, a read timeout).
SDK_SCRIPT = f"""\
import json, os
from northflank import ApiClient

client = ApiClient(os.environ["PEER_TOKEN"], base_url=os.environ["PEER_URL"])
answer = client.run.release_flow(
    project_id="{PROJECT}", pipeline_id="{PIPELINE}", stage="{STAGE}", data=json.loads(os.environ["PEER_BODY"])
)
print(answer.data["id"])
"""


def sdk_launcher(python: Path) -> Callable[[NorthflankStandin, Path], Launched]:
    def launch(standin: NorthflankStandin, home: Path) -> Launched:
        script = home / "trigger.py"
        script.write_text(SDK_SCRIPT, encoding="utf-8")
        env = {
            **plain_env(home),
            "PEER_TOKEN": standin.token,
            "PEER_URL": standin.url,
            "PEER_BODY": json.dumps(PEER_BODY),
        }
        code, stdout, stderr = run_process([str(python), str(script)], env, home)
        lines = stdout.strip().splitlines()
        return Launched(code, lines[-1].strip() if lines else "", stdout + stderr)

    return launch


def cli_launcher(northflank: Path) -> Callable[[NorthflankStandin, Path], Launched]:
    def launch(standin: NorthflankStandin, home: Path) -> Launched:
        config = home / ".northflank" / "config.json"
        config.parent.mkdir(parents=True, exist_ok=True)
        # What `northflank login --token T --host URL` stores: the context provider of @northflank/js-client
        # (dist/cjs/api-client.js) reads `contexts` and `current` from ~/.northflank/config.json and sends to the
        # current context's host as given, http included. Without lastUpdateCheck, getLastUpdateCheck() answers
        # "now", so checkUpdate (the CLI's dist/utils.js) skips its version look-up on the registry. The client's
        # fetch has no timeout, and retries a request that failed on the network 3 times, 500 ms apart.
        context = {"name": "standin", "host": standin.url, "token": standin.token}
        config.write_text(json.dumps({"contexts": [context], "current": "standin"}), encoding="utf-8")
        config.chmod(0o600)
        argv = [
            str(northflank),
            "run",
            "release-flow",
            "--projectId",
            PROJECT,
            "--pipelineId",
            PIPELINE,
            "--stage",
            STAGE,
            "--input",
            json.dumps(PEER_BODY),
            "--output",
            "json",
        ]
        code, stdout, stderr = run_process(argv, plain_env(home), home)
        return Launched(code, json_field(stdout, "id"), stdout + stderr)

    return launch


CURL_OPTIONS = ("--silent", "--show-error", "--fail", "--retry", "3", "--retry-all-errors")


def curl_launcher(curl: str) -> Callable[[NorthflankStandin, Path], Launched]:
    def launch(standin: NorthflankStandin, home: Path) -> Launched:
        headers, body = home / "headers", home / "body.json"
        # Headers from a file, so the token is not in the process list.
        headers.write_text(f"Authorization: Bearer {standin.token}\nContent-Type: application/json\n", encoding="utf-8")
        body.write_text(json.dumps(PEER_BODY), encoding="utf-8")
        url = f"{standin.url}/v1/projects/{PROJECT}/pipelines/{PIPELINE}/release-flows/{STAGE}/runs"
        argv = [curl, *CURL_OPTIONS, "-X", "POST", "-H", f"@{headers}", "--data-binary", f"@{body}", url]
        code, stdout, stderr = run_process(argv, plain_env(home), home)
        return Launched(code, json_field(stdout, "data", "id"), stdout + stderr)

    return launch


def action_launch(standin: NorthflankStandin, home: Path) -> Launched:
    inputs = {**ACTION_INPUTS, "api-token": standin.token, "api-url": standin.url}
    try:
        # run_action checks the step's log, outputs and summary for the token as it finishes.
        result = run_action(home, inputs, timeout=ATTEMPT_LIMIT)
    except subprocess.TimeoutExpired:
        return Launched(None, "", "")
    except AssertionError as leak:
        raise SystemExit(f"the action printed its token: {leak}") from leak
    return Launched(result.exit_code, result.outputs.get("run-id", ""), result.log)


# --- the pinned environment ------------------------------------------------------------------------------


def digest(*files: Path) -> str:
    return hashlib.sha256(b"".join(path.read_bytes() for path in files)).hexdigest()


def installed(folder: Path, pins: Sequence[Path], install: Callable[[], None]) -> None:
    """Run `install` into `folder` unless the pins are those it was last installed from."""
    stamp, wanted = folder / ".pins.sha256", digest(*pins)
    if stamp.exists() and stamp.read_text(encoding="utf-8") == wanted:
        return
    print(f"installing {folder.name} into {folder} from {', '.join(path.name for path in pins)} ...", flush=True)
    install()
    stamp.write_text(wanted, encoding="utf-8")


def failure(what: str, error: subprocess.CalledProcessError | OSError) -> str:
    if isinstance(error, subprocess.CalledProcessError):
        lines = (_text(error.stderr) + _text(error.stdout)).strip().splitlines()
        return f"{what} failed: {lines[-1] if lines else f'exit {error.returncode}'}"
    return f"{what} failed: {error}"


def prepare_sdk(tool: Tool) -> None:
    venv, pins = CACHE / "sdk", [PINS / "requirements.txt"]

    def install() -> None:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, capture_output=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "--require-hashes", "-r", str(pins[0])], check=True, capture_output=True, text=True)

    try:
        installed(venv, pins, install)
        version = subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import importlib.metadata as m; print(m.version('northflank'))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (subprocess.CalledProcessError, OSError) as error:
        tool.unavailable = failure("pip install of the SDK", error)
        return
    tool.version, tool.launch = version, sdk_launcher(venv / "bin" / "python")


def prepare_cli(tool: Tool) -> None:
    folder, pins = CACHE / "cli", [PINS / "package.json", PINS / "package-lock.json", PINS / ".npmrc"]
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        tool.unavailable = "Node.js and npm are not installed (apt-get install nodejs npm)"
        return

    def install() -> None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for path in pins:
            shutil.copy2(path, folder / path.name)
        # npm ci installs exactly the lock file's versions, checked against its integrity hashes.
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=folder,
            check=True,
            capture_output=True,
            text=True,
        )

    try:
        installed(folder, pins, install)
    except (subprocess.CalledProcessError, OSError) as error:
        tool.unavailable = failure("npm ci of the CLI", error)
        return
    package = folder / "node_modules" / "@northflank" / "cli" / "package.json"
    node_version = subprocess.run([node, "--version"], check=True, capture_output=True, text=True).stdout.strip()
    tool.version = f"{json.loads(package.read_text(encoding='utf-8'))['version']} (Node.js {node_version})"
    tool.launch = cli_launcher(folder / "node_modules" / ".bin" / "northflank")


def prepare_curl(tool: Tool) -> None:
    curl = shutil.which("curl")
    if curl is None:
        tool.unavailable = "curl is not installed"
        return
    first = subprocess.run([curl, "--version"], check=True, capture_output=True, text=True).stdout.split()
    tool.version, tool.launch = first[1], curl_launcher(curl)


def prepare_action(tool: Tool) -> None:
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    tool.version, tool.launch = f"commit {commit.stdout.strip() or 'unknown'}", action_launch


def the_tools() -> list[tuple[Tool, Callable[[Tool], None]]]:
    """Each tool with its preparation, in the order of the table's columns."""
    return [
        (
            Tool(
                "sdk",
                "Python SDK",
                API_TOKEN_DEFAULT,
                "`ApiClient(token, base_url=URL).run.release_flow(...)`, its defaults (30 s timeout, up to 3 resends "
                'on a network error); the id read as `answer.data["id"]`',
            ),
            prepare_sdk,
        ),
        (
            Tool(
                "cli",
                "CLI",
                API_TOKEN_DEFAULT,
                "`northflank run release-flow --projectId ... --input BODY --output json` with a login context "
                "naming the stand-in (no timeout of its own; up to 3 resends on a network error); the id read "
                "from the printed run's `id`",
            ),
            prepare_cli,
        ),
        (
            Tool(
                "curl",
                "curl",
                API_TOKEN_DEFAULT,
                f"`curl {' '.join(CURL_OPTIONS)} -X POST -H @headers --data-binary @body URL` (no timeout); "
                "the id read as `.data.id`",
            ),
            prepare_curl,
        ),
        (
            Tool(
                "action",
                "the action",
                API_TOKEN_DEFAULT,
                "entrypoint.py started as the runner starts the container's entrypoint (testing/runner.py), "
                "default tuning (30 s read timeout, 120 s trigger budget); the id read from the `run-id` output",
            ),
            prepare_action,
        ),
        (
            Tool("action-t", 'the action, token "T"', "T", 'the same, with the one-letter token "T"'),
            prepare_action,
        ),
    ]


# --- running and writing ---------------------------------------------------------------------------------


def measure(tool: Tool, case: Case) -> Result:
    assert tool.launch is not None
    with NorthflankStandin(tool.token) as standin, tempfile.TemporaryDirectory(prefix="peers-") as folder:
        for fault in case.faults():
            standin.add_fault(fault)
        standin.outage = case.outage()
        started = time.monotonic()
        launched = tool.launch(standin, Path(folder))
        seconds = time.monotonic() - started
        created = tuple(str(run["id"]) for run in standin.runs())
        posts = len(standin.requests_to("trigger"))
    attempt = Attempt(created, launched.reported, posts, launched.exit_code, seconds)
    said = [line for line in launched.output.strip().splitlines() if line.strip()]
    print(f"  {tool.key:<9} {case.key:<18} {cell(attempt)}", flush=True)
    if said:
        print(f"  {'':<9} {'':<18} last line: {said[-1][:150]}", flush=True)
    return attempt


def document(tools: Sequence[Tool], cases: Sequence[Case], when: datetime) -> str:
    lines = [
        "# The action beside the official clients",
        "",
        f"Generated by `scripts/peers` on {when:%Y-%m-%d %H:%M} UTC; do not edit by hand.",
        "",
        "Each cell is one trigger of a release-flow run by one tool against a fresh local stand-in of the "
        "Northflank API (`testing/northflank_standin.py`) that misbehaves in one way: the runs the stand-in "
        "created, whether the tool reported the id of one of them to its caller, its exit code, and (in "
        "brackets) the trigger requests it sent and the time it took. **Bold** marks a second run, or a "
        "created run whose id the caller never got.",
        "",
        "| fault | " + " | ".join(tool.title for tool in tools) + " |",
        "|---|" + "---|" * len(tools),
    ]
    for case in cases:
        row = [cell(tool.results[case.key]) for tool in tools]
        lines.append(f"| {case.label} | " + " | ".join(row) + " |")
    lines += ["", "## In short", ""]
    for tool in tools:
        faults = {key: result for key, result in tool.results.items() if key != CONTROL.key}
        lines.append(f"- **{tool.title}**: {tally(faults).sentence()}.")
    lines += ["", "## The tools", ""]
    for tool in tools:
        version = f" {tool.version}" if tool.version else ""
        lines.append(f"- **{tool.title}**{version}: {tool.how}.")
    lines += [
        "",
        "The SDK and the CLI are the registries' packages pinned in `scripts/peer-tools/` (pip hashes, an npm "
        "lock file), installed under `$NF_PEERS_DIR` for this script alone. Each peer sends "
        f"`{json.dumps(PEER_BODY)}` with a {len(API_TOKEN_DEFAULT)}-character token; the action sends the body it "
        "derives from its inputs. A 200 without an id, or an empty one, created the run on the stand-in as it "
        "would on the API; so did the answer lost, the 500 and the slow answer. During an outage the stand-in "
        "creates nothing.",
        "",
    ]
    return "\n".join(lines)


def selected(given: str | None, known: Sequence[str], what: str) -> list[str]:
    if given is None:
        return list(known)
    chosen = [key.strip() for key in given.split(",") if key.strip()]
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise SystemExit(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})")
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-slow", action="store_true", help=f"leave out the {SLOW_SECONDS:.0f} s answer")
    parser.add_argument("--tools", help="comma-separated tool keys (default: all)")
    parser.add_argument("--cases", help="comma-separated fault keys (default: all)")
    parser.add_argument("--no-write", action="store_true", help=f"print only; leave {DOC.relative_to(REPO)} alone")
    options = parser.parse_args(argv)
    everything = the_tools()
    tool_keys = selected(options.tools, [tool.key for tool, _ in everything], "tools")
    case_keys = selected(options.cases, [case.key for case in CASES], "faults")
    tools = [tool for tool, _ in everything if tool.key in tool_keys]
    cases = [case for case in CASES if case.key in case_keys]
    CACHE.mkdir(parents=True, exist_ok=True)
    for tool, prepare in everything:
        if tool in tools:
            prepare(tool)
            print(f"{tool.title}: {tool.version or tool.unavailable}", flush=True)
    when = datetime.now(UTC)
    for case in cases:
        print(f"\n== {case.label} ==", flush=True)
        for tool in tools:
            if tool.launch is None:
                tool.results[case.key] = NotMeasured(tool.unavailable)
            elif case.slow and options.skip_slow:
                tool.results[case.key] = NotMeasured("left out (--skip-slow)")
            else:
                tool.results[case.key] = measure(tool, case)
    text = document(tools, cases, when)
    print("\n" + text)
    if not options.no_write:
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(text, encoding="utf-8")
        print(f"written to {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
