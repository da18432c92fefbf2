"""The lazy imports keep their promises, as the runner starts the action: each module below is imported inside
a function only so that the runs named here never load it (the comments at those imports give the saving).
A promise no test holds is no reason for a lazy import."""

from __future__ import annotations

import re
from pathlib import Path

from testing.northflank_standin import NorthflankStandin
from testing.runner import start_action

_IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \| +(\S+)$", re.MULTILINE)


def imported(tmp_path: Path, inputs: dict[str, str]) -> set[str]:
    result = start_action(tmp_path, inputs, python_flags=["-X", "importtime"]).finish()
    assert result.exit_code == 0, result.log
    modules = set(_IMPORTED.findall(result.stderr))
    assert "northflank_release.main" in modules  # the profile was read
    return modules


def test_a_dry_run_without_a_token_loads_no_http_library_and_no_tls(tmp_path: Path, inputs: dict[str, str]) -> None:
    modules = imported(tmp_path, {**inputs, "api-token": "", "dry-run": "true"})

    assert "jsonschema" in modules  # the body is still validated
    loaded = modules & {"requests", "urllib3", "ssl", "northflank_release.release"}
    assert not loaded, f"a dry run imported {sorted(loaded)}"


def test_a_trigger_without_wait_loads_no_waiting_code_no_yaml_and_no_argparse(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    modules = imported(tmp_path, inputs)  # KEY=VALUE arguments, no command-line flags, as in the container

    assert len(standin.requests_to("trigger")) == 1
    assert "requests" in modules
    loaded = modules & {"northflank_release.waiting", "yaml", "argparse", "northflank_release.cli"}
    assert not loaded, f"a trigger without wait imported {sorted(loaded)}"
