"""Point action.yml's ``runs.image`` at a prebuilt image pinned by digest, changing nothing else.

The release workflow runs this on the commit it releases::

    python3 scripts/pin_image.py action.yml ghcr.io/owner/repo:v1.2.3 sha256:<64 hex digits>

and ``runs.image: Dockerfile`` becomes ``docker://ghcr.io/owner/repo:v1.2.3@sha256:...``. Only the value
of that one line changes: comments, quoting, key order and blank lines stay, so the release commit's diff
is one line. It edits lines rather than re-dumping YAML, which would drop comments and reflow text; then
it parses the old and the new text with PyYAML (requirements.txt; the release workflow installs it) and
refuses unless the parsed ``runs.image`` is the reference and nothing else parsed differently. A line
edit alone can be fooled: a quoted key (``"image":``), ``image :``, or an ``image: Dockerfile`` line
inside a multi-line quoted scalar would leave the real ``runs.image`` as ``Dockerfile``.

It refuses, naming the problem and writing nothing: a digest that is not ``sha256:`` and 64 lower-case
hex digits, an image reference that is not ``registry/path:tag`` (lower case, no digest of its own, no
scheme), an action.yml whose ``runs.image`` is not exactly one plain or quoted ``Dockerfile`` on one line
of a block-style top-level ``runs:`` mapping of a docker action, and any result that would change more
than that one value.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# OCI image-spec (descriptor.md, "Digests"): algorithm sha256 is encoded as 64 lower-case hex digits.
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# distribution/reference's grammar (reference.go), narrowed to what we publish: a registry host that is
# unambiguous (has a dot or a port, or is localhost), lower-case path components, and a required tag.
_HOST_LABEL = r"(?:[a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])"
_HOST = rf"(?:{_HOST_LABEL}(?:\.{_HOST_LABEL})+|localhost|{_HOST_LABEL}(?:\.{_HOST_LABEL})*:[0-9]{{1,5}})"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_IMAGE = re.compile(rf"(?P<host>{_HOST})(?:/{_COMPONENT})+:(?P<tag>{_TAG})")
_NAME_MAX = 255  # reference.go: NameTotalLengthMax

_TOP_RUNS = re.compile(r"runs:[ ]*(?:#.*)?")
_KEY_LINE = re.compile(r"(?P<indent>[ ]+)(?P<key>[A-Za-z0-9_-]+):(?:[ ]+(?P<rest>.*))?")
# The value of `image:` as it may be written on main: plain, or single or double quoted, then an optional comment.
_VALUE = re.compile(
    r"(?P<value>'(?P<sq>[^']*)'|\"(?P<dq>[^\"\\]*)\"|(?P<plain>[^\s'\"#&*!|>%@`{}\[\],][^#]*?))"
    r"(?P<tail>[ ]+#.*|[ ]*)"
)
_SOURCE_VALUE = "Dockerfile"


class PinError(Exception):
    """One refusal, in words a release manager can act on."""


@dataclass(frozen=True)
class Pinned:
    text: str
    line_number: int  # 1-based
    old_line: str
    new_line: str


def image_reference(image: str, digest: str) -> str:
    """``docker://IMAGE@DIGEST`` after checking both parts; PinError says which part is wrong and why."""
    if not _DIGEST.fullmatch(digest):
        raise PinError(
            f"digest {digest!r} is not 'sha256:' followed by 64 lower-case hex digits "
            "(the multi-arch index digest the registry returned for the pushed tag)"
        )
    if image.startswith("docker://"):
        raise PinError(f"image {image!r} must not have a scheme; docker:// is added here")
    if "@" in image:
        raise PinError(f"image {image!r} already has a digest; give the tag only")
    match = _IMAGE.fullmatch(image)
    if match is None:
        raise PinError(
            f"image {image!r} is not REGISTRY/PATH:TAG in lower case (for example ghcr.io/owner/repo:v1.2.3)"
        )
    name = image[: image.rindex(":")]
    if len(name) > _NAME_MAX:
        raise PinError(f"image name is {len(name)} characters long; registries accept at most {_NAME_MAX}")
    return f"docker://{image}@{digest}"


def _runs_block(lines: list[str]) -> tuple[int, int]:
    """Indices [start, end) of the lines inside the single top-level block-style `runs:` mapping."""
    starts = [i for i, line in enumerate(lines) if line.startswith("runs:")]
    if not starts:
        raise PinError("action.yml has no top-level 'runs:' key")
    if len(starts) > 1:
        raise PinError("action.yml has more than one top-level 'runs:' key")
    start = starts[0]
    if not _TOP_RUNS.fullmatch(lines[start]):
        raise PinError("action.yml's 'runs:' must be a block mapping on the following lines, not a flow or alias")
    end = start + 1
    while end < len(lines):
        line = lines[end]
        if line and not line[0].isspace() and not line.startswith("#"):
            break
        end += 1
    return start + 1, end


def _block_indent(lines: list[str], start: int, end: int) -> str:
    for line in lines[start:end]:
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return line[: len(line) - len(line.lstrip(" "))]
    raise PinError("action.yml's 'runs:' mapping is empty")


def _top_level_keys(lines: list[str], start: int, end: int, indent: str) -> dict[str, list[int]]:
    keys: dict[str, list[int]] = {}
    for i in range(start, end):
        match = _KEY_LINE.fullmatch(lines[i])
        if match and match["indent"] == indent:
            keys.setdefault(match["key"], []).append(i)
    return keys


def _scalar(rest: str | None, key: str) -> re.Match[str]:
    match = _VALUE.fullmatch(rest or "")
    if match is None:
        raise PinError(
            f"runs.{key} must be a plain or quoted value on its own line (no block scalar, anchor, alias, tag or flow)"
        )
    return match


def _unquoted(match: re.Match[str]) -> str:
    for group in ("plain", "sq", "dq"):
        if match[group] is not None:
            return match[group]
    raise AssertionError("the value pattern always captures one form")


def _key_value(lines: list[str], index: int, key: str) -> tuple[re.Match[str], re.Match[str]]:
    key_match = _KEY_LINE.fullmatch(lines[index])
    assert key_match is not None, "found by _top_level_keys with this pattern"
    return key_match, _scalar(key_match["rest"], key)


def pin(text: str, reference: str) -> Pinned:
    """The action.yml text with runs.image set to ``reference`` (from :func:`image_reference`)."""
    if "\t" in text:
        raise PinError("action.yml contains a tab; YAML indentation must be spaces")
    if "\r" in text:
        raise PinError("action.yml has CR line endings; the release commit would rewrite every line")
    if any(line.startswith(("---", "...")) for line in text.splitlines()[1:]):
        raise PinError("action.yml holds more than one YAML document")
    lines = text.split("\n")
    start, end = _runs_block(lines)
    indent = _block_indent(lines, start, end)
    keys = _top_level_keys(lines, start, end, indent)

    using = keys.get("using", [])
    if len(using) != 1:
        raise PinError("runs.using must appear exactly once")
    using_value = _unquoted(_key_value(lines, using[0], "using")[1])
    if using_value != "docker":
        raise PinError(f"runs.using is {using_value!r}; only a docker action runs an image")

    images = keys.get("image", [])
    if not images:
        raise PinError("runs.image is missing")
    if len(images) > 1:
        raise PinError("runs.image appears more than once")
    index = images[0]
    key_match = _KEY_LINE.fullmatch(lines[index])
    assert key_match is not None
    value = _scalar(key_match["rest"], "image")
    current = (
        value["plain"] if value["plain"] is not None else (value["sq"] if value["sq"] is not None else value["dq"])
    )
    parsed = _parse(text, "the original")
    seen = parsed["runs"].get("image") if isinstance(parsed, dict) and isinstance(parsed.get("runs"), dict) else None
    if seen != current:
        raise PinError(
            f"the 'image:' line {index + 1} holds {current!r} but a YAML reader sees runs.image as {seen!r}: "
            "that line is not the key runs.image (quoted key, space before ':', or a line inside a multi-line scalar?)"
        )
    if current != _SOURCE_VALUE:
        raise PinError(
            f"runs.image is {current!r}, not {_SOURCE_VALUE!r}: release from a commit of main, "
            "not from a release commit"
        )
    if value["sq"] is not None:
        new_value = f"'{reference}'"
    elif value["dq"] is not None:
        new_value = f'"{reference}"'
    else:
        new_value = reference
    prefix = lines[index][: key_match.start("rest")]
    new_line = f"{prefix}{new_value}{value['tail']}"
    new_lines = [*lines[:index], new_line, *lines[index + 1 :]]
    new_text = "\n".join(new_lines)

    # The promise, checked on the result rather than trusted: one line differs, and it is the image line.
    changed = [i for i, (a, b) in enumerate(zip(lines, new_lines, strict=True)) if a != b]
    if changed != [index]:
        raise PinError(f"internal check failed: lines {changed} would change")
    _check_parsed(text, new_text, reference)
    return Pinned(text=new_text, line_number=index + 1, old_line=lines[index], new_line=new_line)


def _parse(text: str, which: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PinError(f"{which} action.yml is not YAML that parses: {exc}") from None


def _check_parsed(old_text: str, new_text: str, reference: str) -> None:
    """What a YAML reader sees, not what the lines look like: only runs.image changed, to the reference."""
    old, new = _parse(old_text, "the original"), _parse(new_text, "the pinned")
    if not (isinstance(old, dict) and isinstance(old.get("runs"), dict)):
        raise PinError("action.yml does not parse to a mapping with a 'runs' mapping")
    if old["runs"].get("image") != _SOURCE_VALUE:
        raise PinError(
            f"a YAML reader sees runs.image as {old['runs'].get('image')!r}, not {_SOURCE_VALUE!r}; "
            "the 'image:' line found is not the key runs.image (quoted key, space before ':', or a line "
            "inside a multi-line scalar?)"
        )
    if not (isinstance(new, dict) and isinstance(new.get("runs"), dict)) or new["runs"].get("image") != reference:
        raise PinError(
            "after the edit a YAML reader does not see runs.image as the pinned reference; the line "
            "changed is not runs.image (quoted key, space before ':', or a line inside a multi-line scalar?)"
        )
    expected = {**old, "runs": {**old["runs"], "image": reference}}
    if new != expected:
        raise PinError("after the edit a YAML reader sees more changed than runs.image; refusing")


def _write_atomically(path: Path, text: str) -> None:
    mode = path.stat().st_mode & 0o777
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="", dir=path.parent, delete=False) as handle:
        handle.write(text)
        temporary = Path(handle.name)
    temporary.chmod(mode)
    temporary.replace(path)


def _report(message: str) -> None:
    if os.environ.get("GITHUB_ACTIONS") == "true":
        # Workflow-command data escaping (actions/toolkit, packages/core/src/command.ts escapeData).
        escaped = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        print(f"::error title=Cannot pin the image::{escaped}", file=sys.stderr)
    else:
        print(f"pin_image: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("action", type=Path, help="path of action.yml, rewritten in place")
    parser.add_argument("image", help="REGISTRY/PATH:TAG, for example ghcr.io/owner/repo:v1.2.3")
    parser.add_argument("digest", help="the pushed multi-arch index digest, sha256:<64 hex digits>")
    args = parser.parse_args(argv)
    try:
        reference = image_reference(args.image, args.digest)
        try:
            text = args.action.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PinError(f"cannot read {args.action}: {exc}") from None
        pinned = pin(text, reference)
        _write_atomically(args.action, pinned.text)
    except PinError as exc:
        _report(str(exc))
        return 1
    print(f"{args.action}:{pinned.line_number}: {pinned.old_line.strip()} -> {pinned.new_line.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
