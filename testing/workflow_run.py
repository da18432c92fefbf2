"""Run a release workflow's jobs the way GitHub schedules them, its shell steps for real, against fakes.

What GitHub does and this runner copies (docs.github.com, "Workflow syntax for GitHub Actions" and
"Re-running workflows and jobs"):

- a job runs when every job it ``needs`` succeeded and its ``if:`` holds (an ``if:`` without a status
  function has ``success() &&`` in front); otherwise it is skipped, and so are the jobs that need it;
- a step runs while no earlier step failed (``continue-on-error`` keeps the job going, the step's
  ``outcome`` is still ``failure``); a ``run:`` step is ``bash --noprofile --norc -eo pipefail``;
  ``GITHUB_OUTPUT``, ``GITHUB_PATH`` and ``GITHUB_STEP_SUMMARY`` are files per step; ``GITHUB_PATH`` lines
  come first on PATH for the job's later steps;
- a matrix job fails when one of its legs fails;
- an environment's variables and secrets reach a job only when the job names the environment and the run's
  ref passes the environment's deployment branch policy (here: main only);
- ``GITHUB_TOKEN`` is minted per job with the job's ``permissions``; it never has Workflows;
- "Re-run failed jobs" runs the failed jobs and every job that depends on them again, with the same
  ``GITHUB_SHA``, ref and inputs, and the outputs of the jobs that succeeded.

The ``uses:`` steps are stood in for here (:meth:`Run._uses`): checkout writes the commit's files from the
fake repository, create-github-app-token mints a token in the fake GitHub by the App's set-up, the Docker
actions succeed (each build pushes a new digest, as a real rebuild does: its SBOM and provenance carry
the build's time), the attestation action records an attestation of the digest in the fake GitHub, signed
as the workflow file on the run's ref, and ``uses: ./`` succeeds unless the scenario makes a runner fail it
(the real pull-by-digest and start are tests/container/test_release_rehearsal.py's). ``gh`` is
testing/fake_github.py; ``docker``, ``curl`` and ``python3``'s ``-m venv`` are the small programs below.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from testing import fake_github
from testing.fake_github import GITHUB_ACTIONS, RELEASE_APP, Repository
from testing.runner import REPO

# Spelled as README.md's provenance command spells it; the verify job runs that command.
REPOSITORY = "northflank-release/action"
IMAGE = "ghcr.io/northflank-release/action"
DIGEST = "sha256:" + "b" * 64  # the first build's; each rebuild pushes another
REBUILT = ["sha256:" + c * 64 for c in "cdef"]
# Files of the project a checkout needs for the release workflow's steps.
CHECKOUT_FILES = ("action.yml", "requirements.txt", "README.md", "scripts/pin_image.py", "scripts/image_index.py",
                  "scripts/github_ref.py", "scripts/tag_rulesets.py")  # fmt: skip


@dataclass
class App:
    """The release App as the repository's owner set it up."""

    installed: bool = True
    permissions: tuple[str, ...] = ("contents", "workflows")
    in_environment: bool = True  # RELEASE_APP_CLIENT_ID and RELEASE_APP_PRIVATE_KEY set in `release`


@dataclass
class World:
    """What the run meets besides GitHub's API: the App, the registry, the runners."""

    app: App = field(default_factory=App)
    image_public: bool = True
    verify_fails_on: set[str] = field(default_factory=set)  # runners on which `uses: ./` fails


@dataclass
class JobResult:
    result: str  # success, failure, skipped
    outputs: dict[str, str]
    log: str


def _fake_programs(bin_dir: Path, folder: Path) -> None:
    """docker, curl and a python3 whose ``-m venv`` makes a logging venv without the network."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    index = json.dumps({"mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"digest": DIGEST, "platform": {"os": "linux", "architecture": a}} for a in ("amd64", "arm64")]})  # fmt: skip
    programs = {
        "docker": f"""#!/bin/bash
printf '%s\\n' "docker $*" >> "{folder}/docker.log"
case "$*" in
  "logout "*) echo "Removing login credentials for $2" ;;
  "image inspect "*) grep -qxF "$3" "$RUNNER_TEMP/images" 2>/dev/null \\
    || {{ echo "Error: No such image: $3" >&2; exit 1; }} ;;
  "buildx imagetools inspect "*"--raw"*) echo '{index}' ;;
  "buildx imagetools inspect "*) printf '{{"digest": "%s"}}\\n' "$(cat "{folder}/registry-digest")" ;;
  "buildx imagetools create "*) ;;
  *) echo "fake docker: $*" >&2; exit 1 ;;
esac
""",
        "curl": f"""#!/bin/bash
case "$*" in
  *\\?scope=*) echo '{{"token":"anonymous"}}' ;;
  *--head*/manifests/*) if [[ -e "{folder}/public" ]]; then printf 200; else printf 401; fi ;;
  *) exit 6 ;;
esac
""",
        "python3": f"""#!/bin/bash
if [[ "$1 $2" == "-m venv" ]]; then
  mkdir -p "$3/bin"
  log="{folder}/pin-venv-python.log"
  python="{sys.executable}"
  printf '#!/bin/bash\\nprintf "%%s\\\\n" "$NF_STEP" >> "%s"\\nexec %s "$@"\\n' "$log" "$python" > "$3/bin/python"
  cp "$3/bin/python" "$3/bin/python3"
  printf '#!/bin/bash\\nprintf "%%s %%s\\\\n" "$NF_JOB" "$*" >> "%s"\\n' "{folder}/pip.log" > "$3/bin/pip"
  printf '[[ " $* " == *" --require-hashes "* ]] || exit 3\\n' >> "$3/bin/pip"
  chmod +x "$3/bin/python" "$3/bin/python3" "$3/bin/pip"
  exit 0
fi
exec {sys.executable} "$@"
""",
    }
    for name, text in programs.items():
        path = bin_dir / name
        path.write_text(text, encoding="utf-8")
        path.chmod(0o755)


_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


class Run:
    """One dispatch of ``workflow`` on ``ref`` at ``sha``; :meth:`attempt` runs it, again for a re-run."""

    def __init__(
        self, workflow: Path, folder: Path, github: Repository, world: World, *, version: str, ref: str, sha: str
    ) -> None:
        self.workflow: dict[str, Any] = yaml.safe_load(workflow.read_text(encoding="utf-8"))
        self.folder = folder
        self.github = github
        self.world = world
        self.inputs = {"version": version}
        self.ref = ref
        self.sha = sha
        self.jobs: dict[str, JobResult] = {}
        self.bin = folder / "bin"
        fake_github.install_gh(self.bin, github.path)
        _fake_programs(self.bin, folder)
        self.between_jobs: dict[str, Callable[[], None]] = {}
        self.tokens = 0
        self.builds: list[str] = []  # the digest each build pushed
        self.minted_in: list[str] = []  # the job of each App token minted

    # scheduling

    def attempt(self) -> dict[str, str]:
        """Run every job not yet successful (all of them at first; a re-run of failed jobs later)."""
        rerun = {name for name, job in self.jobs.items() if job.result != "success"}
        world_folder(self.folder, self.world)
        for name in self._order():
            if name in self.jobs and name not in rerun:
                continue
            self.jobs[name] = self._job(name)
            hook = self.between_jobs.pop(name, None)
            if hook:
                hook()
        return {name: job.result for name, job in self.jobs.items()}

    def _needs(self, name: str) -> list[str]:
        needs = self.workflow["jobs"][name].get("needs", [])
        return [needs] if isinstance(needs, str) else list(needs)

    def _order(self) -> list[str]:
        done: list[str] = []
        while len(done) < len(self.workflow["jobs"]):
            for name in self.workflow["jobs"]:
                if name not in done and all(n in done for n in self._needs(name)):
                    done.append(name)
        return done

    def _job(self, name: str) -> JobResult:
        job = self.workflow["jobs"][name]
        if any(self.jobs[n].result != "success" for n in self._needs(name)):
            return JobResult("skipped", {}, "a job it needs did not succeed")
        if "if" in job and not self._truth(str(job["if"]), {}):
            return JobResult("skipped", {}, f"if: {job['if']}")
        runners = job.get("strategy", {}).get("matrix", {}).get("runner") or [job["runs-on"]]
        results = [self._leg(name, job, {"runner": runner}) for runner in runners]
        failed = [r for r in results if r.result != "success"]
        outputs = {k: self._render(str(v), results[-1].outputs_context) for k, v in job.get("outputs", {}).items()}
        return JobResult("failure" if failed else "success", outputs, "\n".join(r.log for r in results))

    @dataclass
    class _Leg:
        result: str
        log: str
        outputs_context: dict[str, Any]

    def _leg(self, name: str, job: dict[str, Any], matrix: dict[str, str]) -> Run._Leg:
        workspace = self.folder / "work" / f"{name}-{matrix['runner']}"
        temp = self.folder / "temp" / f"{name}-{matrix['runner']}"
        for folder in (workspace, temp):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
        self.tokens += 1
        github_token = f"ghs_actions_{self.tokens}"
        contents = job.get("permissions", {}).get("contents", "none")
        self.github.reload()
        self.github.add_token(github_token, GITHUB_ACTIONS, contents=contents, workflows=False)
        self.github.save()
        in_environment = job.get("environment") == "release" and self.ref == "refs/heads/main"
        app = self.world.app
        context: dict[str, Any] = {
            "inputs": self.inputs,
            "github": {"token": github_token, "actor": "releaser", "sha": self.sha, "ref": self.ref},
            "secrets": {"GITHUB_TOKEN": github_token},
            "vars": {},
            "needs": {n: {"outputs": self.jobs[n].outputs, "result": self.jobs[n].result} for n in self._needs(name)},
            "matrix": matrix,
            "job": name,
            "env": {k: str(v) for k, v in self.workflow.get("env", {}).items()},
            "steps": {},
            "workspace": workspace,
            "temp": temp,
            "path": [],
            "minted": [],
        }
        if in_environment and app.in_environment:
            context["vars"]["RELEASE_APP_CLIENT_ID"] = "Iv1.release"
            context["secrets"]["RELEASE_APP_PRIVATE_KEY"] = "-----BEGIN RSA PRIVATE KEY-----"
        log: list[str] = []
        failed = False
        for index, step in enumerate(job["steps"]):
            label = str(step.get("name", step.get("uses", index)))
            condition = str(step.get("if", "success()"))
            if "success()" not in condition and "always()" not in condition and "failure()" not in condition:
                condition = f"success() && {condition}"
            if not self._truth(condition, context, failed=failed):
                log.append(f"--- {label}: skipped")
                continue
            outcome, outputs, text = self._step(step, label, context)
            log.append(f"--- {label}: {outcome}\n{text}")
            conclusion = "success" if step.get("continue-on-error") else outcome
            context["steps"][step.get("id", f"_{index}")] = {"outcome": outcome, "conclusion": conclusion,
                                                             "outputs": outputs}  # fmt: skip
            if conclusion != "success":
                failed = True
        # Post steps: create-github-app-token revokes what it minted (lib/post.js), pass or fail.
        self.github.reload()
        for token in [github_token, *context["minted"]]:
            self.github.revoke(token)
        self.github.save()
        return Run._Leg("failure" if failed else "success", "\n".join(log), context)

    # expressions

    def _value(self, expression: str, context: dict[str, Any]) -> Any:
        expression = expression.strip()
        if m := re.fullmatch(r"'([^']*)'", expression):
            return m[1]
        top, *rest = expression.split(".")
        if top not in ("inputs", "github", "secrets", "vars", "needs", "matrix", "steps", "env"):
            raise ValueError(f"workflow_run cannot read {expression!r}")
        if top not in context:
            raise ValueError(f"{expression!r} cannot be read here")
        value: Any = context[top]
        for part in rest:
            value = value.get(part, "") if isinstance(value, dict) else ""
        return value

    def _truth(self, condition: str, context: dict[str, Any], *, failed: bool = False) -> bool:
        context = context or {"needs": {n: {"outputs": j.outputs} for n, j in self.jobs.items()}}
        terms = [t.strip() for t in condition.split("&&")]
        for term in terms:
            if term == "success()":
                ok = not failed
            elif m := re.fullmatch(r"(.+?)\s*(==|!=)\s*(.+)", term):
                left, right = str(self._value(m[1], context)), str(self._value(m[3], context))
                ok = (left == right) == (m[2] == "==")
            else:
                raise ValueError(f"workflow_run cannot evaluate {term!r}")
            if not ok:
                return False
        return True

    def _render(self, text: str, context: dict[str, Any]) -> str:
        return _EXPRESSION.sub(lambda m: str(self._value(m[1], context)), text)

    # steps

    def _step(self, step: dict[str, Any], label: str, context: dict[str, Any]) -> tuple[str, dict[str, str], str]:
        if "uses" in step:
            return self._uses(step, context)
        files = {k: context["temp"] / f"{k}-{len(context['steps'])}" for k in ("output", "path", "summary")}
        for file in files.values():
            file.touch()
        env = {k: self._render(str(v), context) for k, v in step.get("env", {}).items()}
        environment = {
            # GITHUB_PATH lines go first, before the runner's own programs (the fakes stand among those).
            "PATH": os.pathsep.join([*reversed(context["path"]), str(self.bin), os.environ["PATH"]]),
            "HOME": str(context["temp"]),
            "RUNNER_TEMP": str(context["temp"]),
            "GITHUB_OUTPUT": str(files["output"]),
            "GITHUB_PATH": str(files["path"]),
            "GITHUB_STEP_SUMMARY": str(files["summary"]),
            "GITHUB_REPOSITORY": self.github.data["repository"],
            "GITHUB_SHA": self.sha,
            "GITHUB_REF": self.ref,
            "NF_STEP": label,
            "NF_JOB": str(context.get("job", "")),
            **context["env"],
            **env,
        }
        script = self._render(str(step["run"]), context)
        completed = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=context["workspace"], env=environment, capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        context["path"].extend(files["path"].read_text(encoding="utf-8").split())
        outputs = dict(
            line.split("=", 1) for line in files["output"].read_text(encoding="utf-8").splitlines() if "=" in line
        )
        outcome = "success" if completed.returncode == 0 else "failure"
        return outcome, outputs, completed.stdout + completed.stderr

    def _uses(self, step: dict[str, Any], context: dict[str, Any]) -> tuple[str, dict[str, str], str]:
        action = str(step["uses"]).split("@")[0]
        inputs = {k: self._render(str(v), context) for k, v in step.get("with", {}).items()}
        if action == "actions/checkout":
            return self._checkout(inputs.get("ref") or self.sha, context["workspace"])
        if action == "actions/create-github-app-token":
            return self._mint(inputs, context)
        if action == "./":
            runner = context["matrix"]["runner"]
            pinned = (context["workspace"] / "action.yml").read_text(encoding="utf-8")
            image = re.search(r"^  image: docker://(\S+):[^:@\s]+@(sha256:[0-9a-f]{64})$", pinned, re.MULTILINE)
            if runner in self.world.verify_fails_on or image is None or not self.world.image_public:
                return "failure", {}, f"the action did not start on {runner}"
            with (context["temp"] / "images").open("a", encoding="utf-8") as images:
                images.write(f"{image[1]}@{image[2]}\n")
            return "success", {"request": '{"arguments": {}}'}, f"pulled {image[1]}@{image[2]} and ran it"
        if action == "docker/build-push-action":
            digest = ([DIGEST, *REBUILT])[len(self.builds)]
            self.builds.append(digest)
            (self.folder / "registry-digest").write_text(digest, encoding="utf-8")
            return "success", {"digest": digest}, f"built and pushed {digest}"
        if action == "actions/attest-build-provenance":
            # The certificate's subject: the workflow file as GitHub spells the repository, @ the run's ref.
            identity = f"https://github.com/{self.github.data['repository']}/.github/workflows/release.yml@{self.ref}"
            self.github.reload()
            self.github.attest(inputs["subject-name"], inputs["subject-digest"], identity)
            self.github.save()
            return "success", {}, f"attested {inputs['subject-name']}@{inputs['subject-digest']}"
        if action.startswith("docker/"):
            if action == "docker/metadata-action":
                return "success", {"tags": f"{IMAGE}:x", "labels": ""}, ""
            return "success", {}, ""
        raise ValueError(f"workflow_run has no stand-in for {action}")

    def _checkout(self, sha: str, workspace: Path) -> tuple[str, dict[str, str], str]:
        self.github.reload()
        files = self.github.files(sha)
        for name in CHECKOUT_FILES:
            target = workspace / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if name in files:
                target.write_bytes(self.github.blob_content(files[name]))
            else:
                shutil.copyfile(REPO / name, target)
        subprocess.run(["git", "init", "-q"], cwd=workspace, check=True)
        subprocess.run(["git", "add", "action.yml"], cwd=workspace, check=True)
        return "success", {}, f"checked out {sha}"

    def _mint(self, inputs: dict[str, str], context: dict[str, Any]) -> tuple[str, dict[str, str], str]:
        """actions/create-github-app-token (main.js, lib/main.js): a token for this repository's installation."""
        app = self.world.app
        if not inputs.get("client-id"):
            return (
                "failure",
                {},
                "Error: The 'client-id' (or deprecated 'app-id') input must be set to a non-empty string.",
            )
        if not app.installed:
            return "failure", {}, "Error: Not Found (the App is not installed on this repository)"
        wanted = {k.removeprefix("permission-") for k, v in inputs.items() if k.startswith("permission-") and v}
        if not wanted <= set(app.permissions):
            return "failure", {}, "Error: The permissions requested are not granted to this installation."
        self.tokens += 1
        token = f"ghs_app_{self.tokens}"
        self.github.reload()
        self.github.add_token(token, RELEASE_APP, contents=inputs.get("permission-contents", "read"),
                              workflows="workflows" in wanted)  # fmt: skip
        self.github.save()
        context["minted"].append(token)
        self.minted_in.append(str(context.get("job", "")))
        return "success", {"token": token}, "minted"


def _files_of(repo: Path) -> dict[str, bytes]:
    return {name: (repo / name).read_bytes() for name in CHECKOUT_FILES}


def main_commit(github: Repository, *, workflows: str, parent: str | None = None) -> str:
    """A commit of main with the project's files and a .github/workflows whose content is ``workflows``."""
    files = {name: github.blob(content) for name, content in _files_of(REPO).items()}
    files[".github/workflows/release.yml"] = github.blob(workflows.encode())
    return github.commit(github.tree(files), [parent] if parent else [], f"main: {workflows}")


def release_commit(github: Repository, main: str, version: str) -> str:
    """What an earlier release made: main's commit with action.yml pinned."""
    files = github.files(main)
    pinned = (
        (REPO / "action.yml")
        .read_text(encoding="utf-8")
        .replace("  image: Dockerfile", f"  image: docker://{IMAGE}:{version}@{DIGEST}")
    )
    files["action.yml"] = github.blob(pinned.encode())
    return github.commit(github.tree(files), [main], f"Release {version}")


def new_repository(folder: Path, repository: str = REPOSITORY) -> Repository:
    """A repository as GitHub spells its name (``repository``; GHCR's image name is the lower-case one)."""
    folder.mkdir(parents=True, exist_ok=True)
    github = Repository(folder / "github.json")
    github.data["repository"] = repository
    github.save()
    return github


def world_folder(folder: Path, world: World) -> None:
    """Files the fake programs read for the world's state."""
    public = folder / "public"
    if world.image_public:
        public.touch()
    else:
        public.unlink(missing_ok=True)
