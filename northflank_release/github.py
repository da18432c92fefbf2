"""Everything the runner reads from us: workflow commands on stdout, the outputs file, the step summary.

The forms are the runner's own (each cited where it is written): a command's escaping, and the outputs file's
multi-line records with a fresh random delimiter per value. They were github-action-utils' until its import
(with subprocess, for a mode we never use) cost the trigger about 2.5 ms of 130; tests/unit/test_github.py
reads what is written here as the runner parses it. This module also decides what is safe to print and what
to do outside GitHub, where workflow commands would only be noise (or, for add-mask, print the secret).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO

from northflank_release.redaction import Redactor
from northflank_release.text import json_safe, maskable_json, printable, shorten, well_formed

# GitHub drops a step summary over 1 MiB whole (actions/runner src/Runner.Worker/FileCommandManager.cs,
# AttachmentSizeLimit), and caps a job's outputs at 1 MiB in all: a large flow must be cut, not lost.
SUMMARY_LIMIT_BYTES = 1024 * 1024
JSON_OUTPUT_LIMIT_BYTES = 256 * 1024  # response and request, each; written twice at most, with room to spare
_CUT_NOTE = "\n\n*The rest of this summary was cut: GitHub shows at most 1 MiB per step.*\n"


class Runner:
    """Talks to the runner when running in GitHub Actions, and to a human terminal otherwise."""

    def __init__(self, *, in_actions: bool, debug: bool, environ: Mapping[str, str] | None = None) -> None:
        self.in_actions = in_actions
        self.debug_enabled = debug
        env = os.environ if environ is None else environ
        self.outputs_file = env.get("GITHUB_OUTPUT", "")
        self.summary_file = env.get("GITHUB_STEP_SUMMARY", "")
        self.redact = Redactor()  # the one redactor (redaction.py), as the API client's
        self._summary_cut = False  # once cut, nothing more goes after the note that says so

    def mask(self, secret: str) -> None:
        """Hide the secret: the runner masks it, and this class redacts it from all it writes."""
        if not secret:
            return
        # Only the runner understands add-mask; on a terminal the command would print the secret itself.
        if self.in_actions:
            _print(_command("add-mask", secret))
        # Also the forms an exception message, a JSON dump or a URL would show it in (redaction.py).
        self.redact.add(secret)

    def info(self, text: str) -> None:
        """Print a log line that may hold text from outside (API messages, run names) safely."""
        line = self.line(text)
        if self.in_actions and ("::" in line or "##[" in line):
            # The runner would read such a line as a command; stop-commands makes it plain text until the
            # token, which is random so the line cannot end the block (actions/runner
            # src/Runner.Worker/ActionCommandManager.cs, the stop-commands handling in TryProcessCommand).
            token = secrets.token_hex(16)
            _print(_command("stop-commands", token))
            _print(line)
            _print(f"::{token}::")
        else:
            _print(line)

    def line(self, text: str) -> str:
        """Text as one log line: secrets out, then controls, bidi overrides and line breaks replaced (text.py),
        as the summary replaces them, so no answer can recolour, reorder or forge what follows it."""
        return printable(self.redact(text))

    def info_now(self, text: str) -> None:
        """A log line written straight to the file descriptor, for a signal handler: the handler may run while
        print() is half way through a line, and print() is not reentrant. No workflow command can start it."""
        line = self.line(text).replace("::", ": :").replace("##[", "# #[")
        with contextlib.suppress(OSError, ValueError):  # no stdout left: nothing else can be done for the line
            os.write(sys.stdout.fileno(), (line + "\n").encode("utf-8", errors="replace"))

    def debug(self, text: str) -> None:
        text = printable(self.redact(text), one_line=False)
        if self.debug_enabled:
            if self.in_actions:
                _print(_command("debug", text))
            else:
                _print(f"debug: {text}", stream=sys.stderr)

    def error(self, message: str, title: str) -> None:
        self._annotate("error", message, title)

    def warning(self, message: str, title: str) -> None:
        self._annotate("warning", message, title)

    def notice(self, message: str, title: str) -> None:
        self._annotate("notice", message, title)

    def _annotate(self, level: str, message: str, title: str) -> None:
        message, title = printable(self.redact(message), one_line=False), self.line(title)
        if self.in_actions:
            _print(_command(level, message, title=title))
        else:
            _print(f"{level}: {title}: {message}", stream=sys.stderr)

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        title = self.line(title)
        if self.in_actions:
            _print(_command("group", title))
            try:
                yield
            finally:
                _print("::endgroup::")
        else:
            _print(title)
            yield

    def set_outputs(self, outputs: Mapping[str, str]) -> None:
        """Write outputs in the runner's file-command format; print them when there is no outputs file."""
        if self.outputs_file:
            # well_formed: a lone surrogate would stop the UTF-8 write half way through the outputs.
            records = "".join(output_record(name, well_formed(self.redact(value))) for name, value in outputs.items())
            with open(self.outputs_file, "a", encoding="utf-8") as file:
                file.write(records)
        elif not self.in_actions:
            for name, value in outputs.items():
                self.info(f"output {name}={value}")

    def append_summary(self, markdown: str) -> None:
        if not self.summary_file or self._summary_cut:
            return
        text = self.redact(markdown)
        try:
            used = os.path.getsize(self.summary_file)
        except OSError:
            used = 0
        room = SUMMARY_LIMIT_BYTES - used
        if room <= len(_CUT_NOTE):
            return
        if len(text.encode("utf-8")) > room:
            kept = text.encode("utf-8")[: room - len(_CUT_NOTE) - _FENCE_ROOM].decode("utf-8", errors="ignore")
            kept = kept[: kept.rfind("\n") + 1]  # whole lines only, so no table row is half drawn
            text = kept + _closing_fence(kept) + _CUT_NOTE
            self._summary_cut = True
        with open(self.summary_file, "a", encoding="utf-8") as summary:
            summary.write(text)


_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_FENCE_ROOM = 64  # for the line that closes a code block the cut left open


def _closing_fence(markdown: str) -> str:
    """The line that closes the fenced code block `markdown` leaves open, or "" (CommonMark's rule: a closing
    fence is the opening's character, at least as many times, alone on its line)."""
    opened = ""
    for line in markdown.splitlines():
        match = _FENCE.match(line)
        if match is None:
            continue
        fence = match.group(1)
        if not opened:
            opened = fence
        elif fence[0] == opened[0] and len(fence) >= len(opened) and not line.strip()[len(fence) :]:
            opened = ""
    return opened[: _FENCE_ROOM - 2] + "\n" if opened else ""


def json_output(value: Any, limit: int = JSON_OUTPUT_LIMIT_BYTES) -> str:
    """One line of JSON within `limit` bytes: still valid JSON when cut, and saying what was left out.

    The biggest members go first (for a run, its flow template `spec`), so the id and status stay. Each member
    is measured once and the kept ones are written once, so the time grows with the answer's size, not with
    its number of keys times its size (a run of 24,000 small keys once took 508 s to fit).
    """
    value = json_safe(value)  # no NaN, lone surrogate or nesting the encoder cannot follow, whoever built it
    text = _compact(value)
    size = len(text.encode("utf-8"))
    if size <= limit or not isinstance(value, dict):
        return text
    # A member's share of the object: `"key":value` and its comma.
    sizes = {key: len(_compact({key: item}).encode("utf-8")) - 1 for key, item in value.items()}
    room = limit - 300  # for the `_truncated` note
    total = sum(sizes.values()) + 1
    left_out: list[str] = []
    for key in sorted(sizes, key=lambda name: sizes[name], reverse=True):
        if total <= room:
            break
        left_out.append(key)
        total -= sizes[key]
    dropped = set(left_out)
    kept = {key: item for key, item in value.items() if key not in dropped}
    names = shorten(", ".join(left_out[:50]), 200)
    kept["_truncated"] = f"cut from {size} bytes to fit GitHub's output limit; left out: {names}"
    return _compact(kept)


def _compact(value: Any) -> str:
    # allow_nan=False: `NaN` is not JSON, and fromJSON() in a later step would fail on it.
    return maskable_json(value, separators=(",", ":"), allow_nan=False)


def _command(name: str, data: str, **properties: str) -> str:
    """A workflow command line, escaped as the runner unescapes it (actions/runner
    src/Runner.Common/ActionCommand.cs, TryParseV2: `::name key=value,...::data`). With no properties there is
    no space before "::": act (and the Gitea and Forgejo runners built on it) reads a command only by the
    pattern `^::([^ ]+)( (.+))?::` (nektos/act pkg/runner/command.go), and would print `::add-mask ::VALUE`,
    secret and all (tests/act/test_engine_semantics.py)."""
    listed = ",".join(f"{key}={_escape_property(value)}" for key, value in properties.items())
    return f"::{name}{' ' + listed if listed else ''}::{_escape_data(data)}"


def _escape_data(value: str) -> str:
    # The runner's escaping of command data (ActionCommand.cs, _escapeDataMappings).
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    # A property value also escapes the separators between properties (ActionCommand.cs, _escapePropertyMappings).
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def output_record(name: str, value: str) -> str:
    """One output as the outputs file holds it: `name<<DELIMITER`, the value, the delimiter (actions/runner
    src/Runner.Worker/FileCommandManager.cs, SetOutputFileCommand and EnvFileKeyValuePairs; actions/toolkit
    packages/core/src/file-command.ts, prepareKeyValueMessage). The delimiter is random and found in neither
    name nor value, so no value can end its record early and forge another output. The names are the
    action's own (no `=`, which the runner would read first). "\n" ends each line: container actions run on
    Linux runners only."""
    delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
    while delimiter in value or delimiter in name:
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def _print(text: str, stream: TextIO | None = None) -> None:
    print(text, file=stream or sys.stdout, flush=True)
