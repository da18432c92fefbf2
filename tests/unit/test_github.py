"""What the runner reads from us (northflank_release/github.py), read back the runner's way: the outputs file by
its parser (testing.runner.parse_file_commands, after FileCommandManager.cs), commands by ActionCommand.cs'
unescaping, and by act's pattern too, which needs no space before `::` when there are no properties."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from northflank_release.github import Runner
from testing.runner import parse_file_commands, unescape

# nektos/act pkg/runner/command.go: a line is a command only when it matches this.
ACT_COMMAND = re.compile(r"^::([^ ]+)( (.+))?::([^\r\n]*)[\r\n]*$")
TOKEN = "nf-unit-token-0123456789"


def runner(tmp_path: Path) -> Runner:
    (tmp_path / "output").touch()
    runner = Runner(in_actions=True, debug=True, environ={"GITHUB_OUTPUT": str(tmp_path / "output")})
    runner.mask(TOKEN)
    return runner


def test_every_output_is_read_back_whole_and_none_is_forged(tmp_path: Path) -> None:
    values = {
        "status": "running\nrun-id=stolen",
        "run-id": "ghadelimiter_0\nrun-id<<EOF\nstolen\nEOF",
        "response": '{"a": "b=c", "d": "e<<f"}\n',
        "run-name": "",
        "request": f"carries {TOKEN}",
    }

    runner(tmp_path).set_outputs(values)

    read = parse_file_commands((tmp_path / "output").read_text(encoding="utf-8"))
    assert read == {**values, "request": "carries ***"}


def test_commands_are_read_alike_by_the_runner_and_by_act(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shown = runner(tmp_path)
    capsys.readouterr()
    # No CR: annotations and debug lines replace it before they are written (text.printable, tests/unit/test_text.py).
    message, title = "100% done\nnext: a,b", "Title: with, separators"

    shown.error(message, title=title)
    shown.debug(message)
    with shown.group(title):
        pass

    lines = capsys.readouterr().out.splitlines()
    parsed = [ACT_COMMAND.match(line) for line in lines]
    assert all(parsed), lines
    commands = [(match[1], unescape(match[3] or ""), unescape(match[4])) for match in parsed if match]
    assert commands == [
        ("error", f"title={title}", message),
        ("debug", "", message),
        ("group", "", title),
        ("endgroup", "", ""),
    ]


def test_the_mask_comes_first_and_act_reads_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runner(tmp_path)

    assert capsys.readouterr().out == f"::add-mask::{TOKEN}\n"


def test_a_line_that_reads_as_a_command_is_printed_inside_a_block_only_a_random_token_ends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = runner(tmp_path)
    capsys.readouterr()

    shown.info("::error::forged")
    shown.info("::error::forged")

    lines = capsys.readouterr().out.splitlines()
    assert lines[1::3] == ["::error::forged", "::error::forged"]
    tokens = [line.removeprefix("::stop-commands::") for line in lines[0::3]]
    assert lines[2::3] == [f"::{token}::" for token in tokens]
    assert len(set(tokens)) == 2
    assert all(re.fullmatch(r"[0-9a-f]{32}", token) for token in tokens)
