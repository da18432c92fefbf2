"""Settings and the GitHub context -> the request body, validated as the API would validate it.

The schema file states the API's rules. Its patterns are JavaScript regexes that must match the whole
value, while jsonschema applies them with Python's re.search (where `$` also matches before a trailing
newline and `\\s` is a different set), so name and description are also full-matched here with
equivalent Python regexes, and these checks give the user the reasons in words.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from northflank_release.api.target import Target
from northflank_release.context import GitHubContext
from northflank_release.inputs import json_kind, show_key, show_keys
from northflank_release.settings import INPUTS_BY_NAME, InputProblem, Settings
from northflank_release.text import utf16_length

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "release-flow-run-request.schema.json"

# ECMA-262's \s: these code points, and nothing else (Python's \s also takes \x1c-\x1f and \x85).
_JS_WHITESPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_SEP = rf"(?:-|[{_JS_WHITESPACE}])"
NAME_PATTERN = re.compile(rf"[a-zA-Z](?:{_SEP}?[a-zA-Z0-9]+(?:{_SEP}[a-zA-Z0-9]+)*)?")
DESCRIPTION_PATTERN = re.compile(rf"[a-zA-Z0-9.,?{_JS_WHITESPACE}\\/'\"()\[\];`%^&*\-_:!]+")
NAME_MIN, NAME_MAX, DESCRIPTION_MAX = 3, 39, 200
_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_BODY_DEPTH = 64  # far deeper than any release flow override; keeps the schema validator off the recursion limit

# The derived description ends with this word and a random marker, so a run this process created can be
# told apart from the runs of other jobs and matrix legs of the same workflow run (same derived name).
TRIGGER_MARKER_WORD = "trigger"


@dataclass(frozen=True)
class RunRequest:
    """Where to send the run request and what to send."""

    target: Target
    body: dict[str, Any]
    # True when the description is derived, so it carries a random marker no other trigger shares.
    identifiable: bool = False

    @property
    def name(self) -> str:
        return str(self.body.get("name", ""))


class RequestError(Exception):
    def __init__(self, problems: list[InputProblem]) -> None:
        super().__init__(f"{len(problems)} request problem(s)")
        self.problems = problems


def _schema() -> dict[str, Any]:
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return _SCHEMA


_SCHEMA: dict[str, Any] | None = None


def body_keys() -> list[str]:
    """The keys the API accepts in the body: the schema is their one source."""
    return list(_schema()["properties"])


def input_of_key(key: str) -> str:
    """The input a body key is given by (`releaseNodeOverrides` -> `release-node-overrides`), else request-file."""
    name = re.sub(r"[A-Z]", lambda upper: "-" + upper.group().lower(), key)
    return name if key in body_keys() and name in INPUTS_BY_NAME else "request-file"


def build_request(settings: Settings, context: GitHubContext, now: datetime | None = None) -> RunRequest:
    """Merge request-file and inputs, derive what is missing, and validate; raise RequestError on problems."""
    body: dict[str, Any] = dict(settings.request_file or {})
    for key, value in (
        ("arguments", settings.arguments),
        ("overrides", settings.overrides),
        ("releaseNodeOverrides", settings.release_node_overrides),
    ):
        if value is not None:
            base = body.get(key)
            # Key-by-key merge, the input winning; a non-object in the file is left for the schema to report.
            body[key] = {**base, **value} if isinstance(base, dict) else value
    if settings.run_name:
        body["name"] = settings.run_name
    if settings.run_description:
        body["description"] = settings.run_description
    if "name" not in body:
        body["name"] = derive_run_name(context, now)
    identifiable = "description" not in body
    if identifiable:
        body["description"] = derive_description(context)

    # A value read from request-file is never quoted back: the file may be no request body at all.
    from_file = {key for key in ("name", "description") if key in (settings.request_file or {})}
    from_file -= {
        key for key, given in (("name", settings.run_name), ("description", settings.run_description)) if given
    }
    problems = validate_body(body, unquoted=frozenset(from_file))
    if problems:
        raise RequestError(problems)
    target = Target(settings.project_id, settings.pipeline_id, settings.stage, settings.team_id)
    return RunRequest(target, body, identifiable)


def slug(text: str) -> str:
    """Letters and digits with single '-' between groups: the part of a name the API pattern accepts."""
    return "-".join(re.findall(r"[A-Za-z0-9]+", text, re.ASCII))


def derive_run_name(context: GitHubContext, now: datetime | None = None) -> str:
    """`v1-2-3 run 123456789-1` in GitHub; `release 20261128-160102-a3f9` outside it.

    Unique per workflow run attempt, which is what makes looking a run up by name after a lost answer safe.
    """
    # GitHub's run ids have 10 to 12 digits and attempts 1 or 2; the caps keep room for the ref.
    if run_id := slug(context.run_id)[:16].rstrip("-"):
        suffix = f" run {run_id}-{slug(context.run_attempt)[:4].rstrip('-') or '1'}"
    else:
        moment = now or datetime.now(UTC)
        suffix = f" {moment:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
    return _valid_name(context.ref_name, "ref-", NAME_MAX - len(suffix)) + suffix


def derive_description(context: GitHubContext, marker: str | None = None) -> str:
    """Say where the run came from, within the description pattern (no '@' or '#'), ending with a marker.

    The marker (random unless given) makes this trigger identifiable among runs of the same name.
    """
    ending = f", {TRIGGER_MARKER_WORD} {marker or secrets.token_hex(4)}"
    if not context.repository:
        return "Triggered by the Northflank release action outside GitHub Actions" + ending
    parts = [f"Triggered by {context.repository}"]
    if context.ref_name:
        parts.append(f"{context.ref_type or 'ref'} {context.ref_name}")
    if context.sha:
        parts.append(f"commit {context.sha[:7]}")
    if context.run_number:
        workflow = f"workflow {context.workflow} " if context.workflow else "workflow "
        parts.append(f"{workflow}run {context.run_number}")
    if context.job:
        parts.append(f"job {context.job}")
    text = ", ".join(parts)
    allowed = "".join(ch if DESCRIPTION_PATTERN.fullmatch(ch) else "-" for ch in text)
    return allowed[: DESCRIPTION_MAX - len(ending)].strip() + ending


def suggest_name(name: str) -> str:
    """A valid spelling close to what the user wrote, for the error message."""
    suggestion = _valid_name(name, "v", NAME_MAX)
    while len(suggestion) < NAME_MIN:
        suggestion += "-run" if suggestion[-1].isalnum() else "run"
    return suggestion[:NAME_MAX]


def _valid_name(text: str, prefix: str, limit: int) -> str:
    """The slug of text, starting with a letter (prefixed when it does not), at most `limit` long."""
    name = slug(text) or "release"
    if not name[0].isalpha():
        name = prefix + name
    return name[:limit].rstrip("-")


def name_problem(name: str, quote: bool = True) -> str | None:
    """Why the API would refuse this run name, or None when it accepts it; `quote` shows it and a suggestion."""
    length = utf16_length(name)
    if length < NAME_MIN or length > NAME_MAX:
        why = f"it is {length} characters long; names have {NAME_MIN} to {NAME_MAX}"
    elif NAME_PATTERN.fullmatch(name):
        return None
    elif name != name.strip():
        why = "it starts or ends with a space or line break"
    elif not re.match(r"[a-zA-Z]", name):
        why = "it must start with a letter"
    elif bad := sorted({ch for ch in name if not re.fullmatch(rf"[a-zA-Z0-9]|{_SEP}", ch)}):
        why = f"it contains {', '.join(_show(ch) for ch in bad)}, which run names cannot contain"
    else:
        why = "separators ('-' or a space) must stand alone between letters and digits, not doubled or at the end"
    if not quote:
        return f"name (from request-file) is not a valid run name: {why}"
    return f"name {name!r} is not a valid run name: {why}. Try {suggest_name(name)!r}"


def description_problem(description: str, quote: bool = True) -> str | None:
    """Why the API would refuse this description; it names the characters, never quotes the whole of it."""
    length = utf16_length(description)
    if length > DESCRIPTION_MAX:
        return f"description is {length} characters long; the API accepts at most {DESCRIPTION_MAX}"
    if DESCRIPTION_PATTERN.fullmatch(description):
        return None
    bad = sorted({ch for ch in description if not DESCRIPTION_PATTERN.fullmatch(ch)})
    if not bad:
        return "description must not be empty"
    return (
        f"description contains {', '.join(_show(ch) for ch in bad)}, which the API does not accept: "
        "use letters, digits, spaces and . , ? \\ / ' \" ( ) [ ] ; ` % ^ & * - _ : !"
    )


def _show(ch: str) -> str:
    return repr(ch) if ch.isprintable() and not ch.isspace() else f"U+{ord(ch):04X}"


def validate_body(body: dict[str, Any], unquoted: frozenset[str] = frozenset()) -> list[InputProblem]:
    """Every problem with the body: our full-match checks first, then the schema for the rest; the values
    of the `unquoted` keys are described, never shown."""
    problems = _not_json_problems(body)
    if problems:
        return problems
    checked: set[str] = set()
    for key, check in (("name", name_problem), ("description", description_problem)):
        value = body.get(key)
        if isinstance(value, str):
            checked.add(key)
            message = check(value, key not in unquoted)
            if message:
                problems.append(InputProblem(key, message))
    for error in sorted(_schema_validator().iter_errors(body), key=lambda e: list(map(str, e.absolute_path))):
        path = [str(part) for part in error.absolute_path]
        if path and path[0] in checked:
            continue
        problems.append(_schema_problem(path, error.validator, error.validator_value, error.instance))
    return problems


def _not_json_problems(body: dict[str, Any]) -> list[InputProblem]:
    """Values JSON cannot carry (NaN, infinity, from YAML's .nan and .inf), and nesting past any sane depth."""
    problems: list[InputProblem] = []
    stack: list[tuple[list[str], Any]] = [([], body)]
    while stack:
        path, value = stack.pop()
        if len(path) > MAX_BODY_DEPTH:
            problems.append(_problem_at(path, f"is nested more than {MAX_BODY_DEPTH} levels deep"))
        elif isinstance(value, float) and not math.isfinite(value):
            problems.append(_problem_at(path, f"is {value}, which JSON cannot carry: quote it or use a number"))
        elif isinstance(value, str) and _SURROGATE.search(value):
            # Bytes that were not UTF-8 in the environment (Python keeps them as lone surrogates).
            problems.append(_problem_at(path, "holds bytes that are not UTF-8 text"))
        elif isinstance(value, dict):
            for key, item in value.items():
                if _SURROGATE.search(str(key)):
                    problems.append(_problem_at(path, "has a key with bytes that are not UTF-8 text"))
                else:
                    stack.append(([*path, str(key)], item))
        elif isinstance(value, list):
            stack.extend(([*path, str(index)], item) for index, item in enumerate(value))
    return problems


def _problem_at(path: list[str], what: str) -> InputProblem:
    input_name = input_of_key(path[0]) if path else "request-file"
    parts = [part if show_key(part).startswith("'") else "(a key)" for part in path]
    where = ("/".join(parts) if len(parts) <= 6 else "/".join(parts[:5]) + "/...") or "the top level"
    return InputProblem(input_name, f"{input_name}: the value at {where} {what}")


_TYPE_WORDS = {"object": "a JSON object ({...})", "string": "text", "array": "a list"}


def _schema_problem(path: list[str], validator: Any, expected: Any, instance: Any) -> InputProblem:
    """The schema's finding in our words: jsonschema's own message quotes the value, which may come from a
    file that is no request body at all."""
    if not path and validator == "additionalProperties":
        unknown = sorted(set(instance) - set(body_keys()))
        return InputProblem(
            "request-file",
            f"request-file has {len(unknown)} unknown key(s), {show_keys(unknown)}: "
            f"the API accepts only {', '.join(body_keys())}",
        )
    if validator == "type":
        message = f"it must be {_TYPE_WORDS.get(str(expected), str(expected))}, not {json_kind(instance)}"
    elif validator in ("minLength", "maxLength"):
        message = f"its length must be {'at least' if validator == 'minLength' else 'at most'} {expected}"
    else:
        message = f"it does not meet the API's {validator} rule"
    return _problem_at(path, f"is invalid: {message}")


_VALIDATOR: Any = None


def _schema_validator() -> Any:
    global _VALIDATOR
    if _VALIDATOR is None:
        _VALIDATOR = Draft202012Validator(_schema())
    return _VALIDATOR
