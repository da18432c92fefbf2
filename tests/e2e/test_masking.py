"""A secret in `arguments` stays maskable: everything the action prints shows it only in a form the runner masks.

The runner's masker, as actions/runner builds it:
- `::add-mask::VALUE` registers VALUE, its command escapes decoded (src/Runner.Common/ActionCommand.cs:
  %25, %0D, %0A);
- every registered value is also masked JSON-escaped and URI-escaped (src/Sdk/DTLogging/Logging/
  ValueEncoders.cs: JsonStringEscape is Newtonsoft's JsonConvert.ToString without the quotes, UriDataEscape
  is .NET's Uri.EscapeDataString);
- the log and the step summary (line by line, src/Runner.Worker/FileCommandManager.cs) go through it.
So a form of the secret that is none of the three (`\\u00e9` for `é`, `&quot;` for `"`) is printed in clear.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest

from northflank_release.main import main
from testing.northflank_standin import NorthflankStandin
from testing.runner import run_action

# Every secret starts with the same letters, which every escaping keeps: seeing them means a form got through.
MARK = "S3cr"
SECRETS = [
    "S3crét-pa\"ss'wd",  # the review's example
    "S3cr<b>&amp;\\path",
    "S3cr\ttab\nnewline\r",
    'S3cr\u2028line-separator\u0085next-line"',
    "S3cr\x01control😀",
    "S3cr%0A%25percent",
]


def newtonsoft_json_escape(value: str) -> str:
    """Newtonsoft's JsonConvert.ToString with its default escape handling, quotes removed: quotes, backslashes,
    control characters, and U+0085, U+2028, U+2029 as \\u escapes; nothing else."""
    text = json.dumps(value, ensure_ascii=False)[1:-1]
    return text.replace("\x85", "\\u0085").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def uri_data_escape(value: str) -> str:
    return quote(value, safe="-_.~")  # .NET's Uri.EscapeDataString keeps RFC 3986's unreserved characters


class RunnerMasker:
    def __init__(self) -> None:
        self.forms: set[str] = set()

    def register_from(self, stdout: str) -> None:
        """Take in the `::add-mask::` commands a step printed, as the runner does."""
        for match in re.finditer(r"^::add-mask(?: [^:]*)?::(.*)$", stdout, re.MULTILINE):
            value = match.group(1).replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")
            self.forms |= {value, newtonsoft_json_escape(value), uri_data_escape(value)} - {""}

    def mask(self, text: str) -> str:
        for form in sorted(self.forms, key=len, reverse=True):
            text = text.replace(form, "***")
        return text


def add_mask(secret: str) -> str:
    """The line an earlier step prints to register the secret (the toolkit's escaping of command data)."""
    return "::add-mask::" + secret.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


@pytest.mark.parametrize("secret", SECRETS)
def test_a_dry_run_prints_a_secret_argument_only_in_forms_the_runner_masks(
    secret: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = tmp_path / "summary.md"
    summary.touch()
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "INPUT_DRY-RUN": "true"}
    env |= {"INPUT_PROJECT-ID": "shop", "INPUT_PIPELINE-ID": "main", "INPUT_STAGE": "staging"}
    env |= {"INPUT_ARGUMENTS": json.dumps({"DB_PASSWORD": secret, "VERSION": "v1.4.0"})}
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    assert main([]) == 0
    log = capsys.readouterr().out
    masker = RunnerMasker()
    masker.register_from(add_mask(secret))

    assert MARK in log  # the body was printed
    assert MARK not in masker.mask(log)
    shown = summary.read_text(encoding="utf-8")
    assert MARK in shown
    for line in shown.splitlines():
        assert MARK not in masker.mask(line)


def test_a_secret_argument_is_masked_in_the_debug_log_and_outputs_of_a_real_run(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    secret = SECRETS[0]
    result = run_action(
        tmp_path,
        {**inputs, "arguments": f"DB_PASSWORD={secret}", "dry-run": "false"},
        job_env={"RUNNER_DEBUG": "1"},
        context={"GITHUB_ACTIONS": "true", "RUNNER_DEBUG": "1"},
    )
    masker = RunnerMasker()
    masker.register_from(add_mask(secret))

    assert result.exit_code == 0, result.log
    assert MARK in result.stdout  # the debug line shows the body
    assert MARK not in masker.mask(result.log)
    assert MARK not in masker.mask(result.outputs["request"])
    assert MARK not in masker.mask(result.summary)


def test_bytes_that_are_not_utf8_are_an_input_error_not_a_crash_when_printed_as_given(
    tmp_path: Path, inputs: dict[str, str]
) -> None:
    """Printing values as given must not meet a lone surrogate (how Python keeps such bytes from the environment)."""
    result = run_action(tmp_path, {**inputs, "arguments": "X=caf\udce9", "dry-run": "true"})

    assert result.exit_code == 1
    [error] = result.errors
    assert error == "Invalid input: arguments: arguments: the value at arguments/X holds bytes that are not UTF-8 text"
    assert "Traceback" not in result.log
