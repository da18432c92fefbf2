"""Refuse, before the build, a release whose tag writes a tag ruleset would refuse to the release App.

The release workflow's preflight runs it with the App's installation token in ``GH_TOKEN`` and the
runner's system Python (no third-party package)::

    /usr/bin/python3 scripts/tag_rulesets.py OWNER/REPO refs/tags/v1.2.3 refs/tags/v1

What GitHub documents ("REST API endpoints for rules", docs.github.com/en/rest/repos/rules, and the
``repository-ruleset`` schema of github/rest-api-description):

- ``GET /repos/{owner}/{repo}/rulesets?includes_parents=true`` lists the rulesets that apply to the
  repository, the organisation's ones too. Its documented example answer holds each ruleset's ``id``,
  ``name``, ``target``, ``source_type``, ``source`` and ``enforcement`` only: no ``conditions``, no
  ``rules``, no ``current_user_can_bypass``. So each tag ruleset is read again with
  ``GET /repos/{owner}/{repo}/rulesets/{ruleset_id}?includes_parents=true``.
- ``enforcement`` is ``active``, ``evaluate`` (reported, not enforced) or ``disabled``; only ``active``
  refuses a write. ``target`` is ``branch``, ``tag``, ``push`` or ``repository``.
- ``conditions.ref_name.include`` / ``exclude`` are fnmatch patterns on the full ref name
  (``refs/tags/v*``), or ``~ALL``.
- ``current_user_can_bypass`` is "the bypass type of the user making the API request for this ruleset",
  "only returned when querying the repository-level endpoint": ``always``, ``pull_requests_only`` or
  ``never``. The request is made with the App's token, so it is the App's. A tag write is no pull
  request: only ``always`` lets it through. (``exempt``, which some clients also accept, after the
  bypass mode that skips the rules altogether, is taken as letting it through too; not found in the
  documentation read for this.)
- ``bypass_actors`` is returned only to a caller with write access to the ruleset, which the App (Contents
  and Workflows only) is not: it is not read.

A ruleset whose rules are all ``deletion`` does not count (the release never deletes a tag). A ruleset
without readable rules counts. When GitHub gives no ``current_user_can_bypass``, or a value it does not
document, the answer is unknown: a warning, not a refusal (the tag write itself then says).

Exit 0 when no active tag ruleset covering one of the refs would refuse the App; otherwise exit 1, with one
``::error`` per refusing ruleset. Any answer but a 200 from GitHub is an ``::error`` too (exit 1): a check
that could not be made is not a pass.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

USAGE = "usage: tag_rulesets.py OWNER/REPO refs/tags/NAME [refs/tags/NAME ...]"
PER_PAGE = 100
LETS_THROUGH = ("always", "exempt")
REFUSES = ("never", "pull_requests_only")
FIX = (
    'Add the release App to its bypass list with "Always allow" (RELEASING.md, Set-up, Tag rulesets), '
    "then run the release again."
)


class GitHubError(Exception):
    """GitHub did not answer 200; the message says what it said."""


def escape(text: str) -> str:
    """Workflow-command data escaping (actions/toolkit packages/core/src/command.ts, escapeData)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def get(path: str) -> Any:
    """``gh api path``, parsed; GitHubError with gh's words for anything but a 200."""
    completed = subprocess.run(["gh", "api", path], capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        said = completed.stderr.strip().splitlines()
        raise GitHubError(said[-1] if said else "gh printed nothing")
    try:
        return json.loads(completed.stdout)
    except ValueError as error:
        raise GitHubError(f"an answer that is not JSON ({error})") from None


def listed(repository: str) -> list[dict[str, Any]]:
    """Every ruleset that applies to the repository, page by page."""
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        answer = get(f"repos/{repository}/rulesets?includes_parents=true&per_page={PER_PAGE}&page={page}")
        if not isinstance(answer, list) or not all(isinstance(item, dict) for item in answer):
            raise GitHubError("a ruleset list that is not a list of objects")
        found += answer
        if len(answer) < PER_PAGE:
            return found
        page += 1


def _patterns(conditions: Any, key: str) -> list[str] | None:
    """conditions.ref_name[key] as a list of strings; None when it is not one."""
    ref_name = conditions.get("ref_name") if isinstance(conditions, dict) else None
    value = ref_name.get(key, []) if isinstance(ref_name, dict) else None
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        return None
    return value


def covered(ruleset: dict[str, Any], refs: list[str]) -> list[str]:
    """The refs the ruleset's ref_name conditions cover; all of them when the conditions cannot be read."""
    include = _patterns(ruleset.get("conditions"), "include")
    exclude = _patterns(ruleset.get("conditions"), "exclude") or []
    if include is None:
        return list(refs)
    return [
        ref
        for ref in refs
        if any(p == "~ALL" or fnmatchcase(ref, p) for p in include) and not any(fnmatchcase(ref, p) for p in exclude)
    ]


def only_deletion(ruleset: dict[str, Any]) -> bool:
    rules = ruleset.get("rules")
    if not isinstance(rules, list) or not rules:
        return False
    return all(isinstance(rule, dict) and rule.get("type") == "deletion" for rule in rules)


@dataclass(frozen=True)
class Finding:
    refuses: bool  # False: a warning (GitHub did not say)
    text: str


def judge(ruleset: dict[str, Any], refs: list[str]) -> Finding | None:
    """What one ruleset, read in full, means for the App's writes of ``refs``; None when nothing."""
    if ruleset.get("target") != "tag" or ruleset.get("enforcement") != "active" or only_deletion(ruleset):
        return None
    hit = covered(ruleset, refs)
    if not hit:
        return None
    name = f'"{ruleset.get("name", "?")}" (id {ruleset.get("id", "?")}, from {ruleset.get("source", "?")})'
    bypass = ruleset.get("current_user_can_bypass")
    if bypass in LETS_THROUGH:
        return None
    if bypass in REFUSES:
        return Finding(True, f"Ruleset {name} covers {', '.join(hit)} and GitHub says the release App may bypass "
                             f"it: {bypass}. {FIX}")  # fmt: skip
    said = "no current_user_can_bypass" if bypass is None else f"current_user_can_bypass {json.dumps(bypass)}"
    return Finding(False, f"Ruleset {name} covers {', '.join(hit)} and GitHub gave {said} for the release App: "
                          "whether it may bypass the ruleset is unknown, so the tag write may be refused after "
                          "the build.")  # fmt: skip


def check(repository: str, refs: list[str]) -> list[Finding]:
    findings: list[Finding] = []
    for summary in listed(repository):
        # The list's target, when given, spares a read of the other rulesets; an active tag ruleset is read.
        if summary.get("target") not in (None, "tag") or summary.get("enforcement") not in (None, "active"):
            continue
        ruleset = get(f"repos/{repository}/rulesets/{summary.get('id')}?includes_parents=true")
        if not isinstance(ruleset, dict):
            raise GitHubError(f"ruleset {summary.get('id')} is not an object")
        finding = judge(ruleset, refs)
        if finding:
            findings.append(finding)
    return findings


def main(argv: list[str]) -> int:
    if len(argv) < 2 or not all(ref.startswith("refs/tags/") for ref in argv[1:]):
        print(USAGE, file=sys.stderr)
        return 2
    repository, refs = argv[0], argv[1:]
    try:
        findings = check(repository, refs)
    except GitHubError as error:
        print(f"::error title=Cannot read the tag rulesets::{escape(str(error))} Whether a tag ruleset refuses "
              "the release App is unknown; run the release again later.")  # fmt: skip
        return 1
    for finding in findings:
        if finding.refuses:
            print(f"::error title=Tag ruleset refuses the release App::{escape(finding.text)}")
        else:
            print(f"::warning title=Tag ruleset::{escape(finding.text)}")
    if any(finding.refuses for finding in findings):
        return 1
    print(f"No active tag ruleset refuses the release App's writes of {', '.join(refs)}.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
