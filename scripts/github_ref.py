"""Create or move one git ref through ``gh api``, and say in GitHub's own words why a refusal happened.

The release workflow's steps that hold the release App's token run it with the runner's system Python
(no third-party package)::

    /usr/bin/python3 scripts/github_ref.py create OWNER/REPO tags/v1.2.3 <commit sha>
    /usr/bin/python3 scripts/github_ref.py move OWNER/REPO tags/v1 <commit sha>

``create`` is ``POST /repos/{owner}/{repo}/git/refs``; ``move`` is ``PATCH .../git/refs/{ref}`` with
``force``. Exit 0 when GitHub accepted the write. Otherwise exit 1 and print one line, escaped as
workflow-command data, made of GitHub's status line, its ``message``, and the permissions its
``X-Accepted-GitHub-Permissions`` header says the route takes. That header is what names "workflows"
when a ref write is refused because its target changes ``.github/workflows``: the body then says only
"Resource not accessible by integration" (mkb79/Audible#882, whose 403 named
``contents=write; contents=write,workflows=write`` in that header only).

How ``gh api --include`` prints an answer (cli/cli pkg/cmd/api/api.go, processResponse and
printHeaders): the status line (``HTTP/2.0 403 Forbidden``), then ``Name: value`` header lines ending in
CRLF, an empty CRLF line, then the body, on stdout also for an error status; and for an error status with
a JSON body ``gh: <message> (HTTP <code>)`` on stderr and exit status 1. With no answer at all (DNS,
TLS, a reset) there is no status line and stderr says why.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

USAGE = "usage: github_ref.py create|move OWNER/REPO tags/NAME COMMIT_SHA"


@dataclass(frozen=True)
class Answer:
    """What came back from one ``gh api --include`` call."""

    ok: bool
    status: str  # "403 Forbidden"; "" when GitHub did not answer
    message: str  # GitHub's "message", or what gh said when there was no answer
    accepted_permissions: str  # X-Accepted-GitHub-Permissions, "" when absent


def command(action: str, repository: str, ref: str, sha: str) -> list[str]:
    """The ``gh api`` call for ``action`` (create or move) of ``ref`` (``tags/NAME``) to ``sha``."""
    if action == "create":
        return ["gh", "api", "--include", "--method", "POST", f"repos/{repository}/git/refs",
                "-f", f"ref=refs/{ref}", "-f", f"sha={sha}"]  # fmt: skip
    if action == "move":
        return ["gh", "api", "--include", "--method", "PATCH", f"repos/{repository}/git/refs/{ref}",
                "-f", f"sha={sha}", "-F", "force=true"]  # fmt: skip
    raise ValueError(action)


def read_answer(returncode: int, stdout: str, stderr: str) -> Answer:
    """Split ``gh api --include`` output into status, message and accepted permissions."""
    head, _, body = stdout.replace("\r\n", "\n").partition("\n\n")
    lines = head.split("\n")
    if not lines[0].startswith("HTTP/"):
        said = stderr.strip().splitlines()
        return Answer(returncode == 0, "", said[-1] if said else "gh printed nothing", "")
    status = lines[0].partition(" ")[2].strip()
    accepted = ""
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "x-accepted-github-permissions":
            accepted = value.strip()
    message = ""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        message = parsed["message"].strip()
    return Answer(returncode == 0, status, message, accepted)


def describe(answer: Answer) -> str:
    """One line for an ::error annotation: GitHub's words first."""
    if not answer.status:
        text = f"no answer from GitHub ({answer.message})"
    else:
        text = f"GitHub answered {answer.status}"
        if answer.message:
            text += f": {answer.message}"
        if answer.accepted_permissions:
            text += f" (this route takes: {answer.accepted_permissions})"
    # Workflow-command data escaping (actions/toolkit packages/core/src/command.ts, escapeData): a message
    # such as a ruleset's "Repository rule violations found\n\n..." must not end the annotation.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[0] not in ("create", "move") or not argv[2].startswith("tags/"):
        print(USAGE, file=sys.stderr)
        return 2
    action, repository, ref, sha = argv
    completed = subprocess.run(command(action, repository, ref, sha), capture_output=True, text=True, check=False)
    answer = read_answer(completed.returncode, completed.stdout, completed.stderr)
    if answer.ok:
        return 0
    print(describe(answer))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
