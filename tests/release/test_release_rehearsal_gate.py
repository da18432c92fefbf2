"""When the release rehearsal may skip: only with a stated reason, and arm64 only when release-tools said why.

The rehearsal must run under CI=true (.ci/run); these two skips are its only exceptions, so each is tested
here without a Docker engine: the opt-out GitHub's CI job sets, and the marker release-tools writes when
binfmt_misc cannot be used (scripts/docker-engine.sh run against a fake binfmt_misc folder).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from testing import release_rehearsal as rehearsal
from testing.runner import REPO

ENGINE_SCRIPT = REPO / "scripts" / "docker-engine.sh"
REHEARSAL_TESTS = REPO / "tests" / "container" / "test_release_rehearsal.py"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, None),
        ("skip: no root here", "no root here"),
        ("skip:  spaced  ", "spaced"),
    ],
)
def test_the_opt_out_needs_skip_and_a_reason(value: str | None, reason: str | None) -> None:
    environ = {} if value is None else {rehearsal.OPT_OUT: value}
    assert rehearsal.opted_out(environ) == reason


@pytest.mark.parametrize("value", ["", "skip", "skip:", "skip:   ", "1", "true", "run: x"])
def test_anything_else_in_the_opt_out_is_an_error_not_a_quiet_skip(value: str) -> None:
    with pytest.raises(ValueError, match=rehearsal.OPT_OUT):
        rehearsal.opted_out({rehearsal.OPT_OUT: value})


def test_only_githubs_ci_job_opts_out_and_dot_ci_run_never_does() -> None:
    ci = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    env = ci["jobs"]["test"]["env"]
    assert env["CI"] is True
    assert rehearsal.opted_out(env) is not None
    for path in (REPO / ".ci" / "run", REPO / "scripts" / "test", ENGINE_SCRIPT):
        assert rehearsal.OPT_OUT not in path.read_text(encoding="utf-8"), path


def _pytest_rehearsal(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("NF_RELEASE_REHEARSAL", "DOCKER_HOST")}
    # No engine answers on this socket: the opt-out must skip before one is asked for.
    environment |= {"CI": "true", "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock", **env}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "0", "-q", "-rs", "-p", "no:cacheprovider", str(REHEARSAL_TESTS)],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_under_ci_the_opt_out_skips_the_rehearsal_with_its_reason(tmp_path: Path) -> None:
    result = _pytest_rehearsal(tmp_path, NF_RELEASE_REHEARSAL="skip: the reason we gave")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "the reason we gave" in result.stdout
    assert " passed" not in result.stdout
    assert " failed" not in result.stdout


def test_under_ci_a_malformed_opt_out_fails_the_rehearsal(tmp_path: Path) -> None:
    result = _pytest_rehearsal(tmp_path, NF_RELEASE_REHEARSAL="yes")
    assert result.returncode != 0
    assert "must be 'skip: <reason>'" in result.stdout + result.stderr


def test_aarch64_entry_must_be_enabled_with_flag_f(tmp_path: Path) -> None:
    entry = tmp_path / "qemu-aarch64"
    entry.write_text("enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POF\n")
    assert rehearsal.aarch64_entry_ok(entry)
    entry.write_text("disabled\ninterpreter /x\nflags: POF\n")
    assert not rehearsal.aarch64_entry_ok(entry)
    entry.write_text("enabled\ninterpreter /x\nflags: PO\n")
    assert not rehearsal.aarch64_entry_ok(entry)
    assert not rehearsal.aarch64_entry_ok(tmp_path / "absent")


def test_the_marker_is_the_reason_arm64_is_skipped(tmp_path: Path) -> None:
    marker = tmp_path / "arm64-unavailable"
    assert rehearsal.arm64_unavailable(marker) is None
    marker.write_text("cannot mount binfmt_misc at /proc/sys/fs/binfmt_misc\n")
    assert rehearsal.arm64_unavailable(marker) == "cannot mount binfmt_misc at /proc/sys/fs/binfmt_misc"


_TOOLS = ("docker-registry", "buildah", "qemu-aarch64-static", "debootstrap")
needs_tools = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in _TOOLS),
    reason="release-tools would apt-get its tools first; run scripts/docker-engine.sh release-tools",
)


def _release_tools(tmp_path: Path, binfmt: Path) -> subprocess.CompletedProcess[str]:
    engine_dir = tmp_path / "engine"
    engine_dir.mkdir(exist_ok=True)
    # A cached arm64 rootfs, so a working binfmt ends the command without debootstrap.
    (engine_dir / "python-3.12-slim-standin-arm64.tar").write_bytes(b"cached")
    conf = tmp_path / "qemu-aarch64.conf"
    conf.write_text(":qemu-aarch64:M::\\x7fELF:\\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:POCF\n")
    env = os.environ | {
        "NF_DOCKER_DIR": str(engine_dir),
        "NF_BINFMT_DIR": str(binfmt),
        "NF_QEMU_AARCH64_CONF": str(conf),
    }
    return subprocess.run(
        ["bash", str(ENGINE_SCRIPT), "release-tools"], env=env, capture_output=True, text=True, check=False, timeout=60
    )


@needs_tools
def test_release_tools_carries_on_without_binfmt_misc_and_says_why(tmp_path: Path) -> None:
    result = _release_tools(tmp_path, tmp_path / "no-such-mount-point")
    assert result.returncode == 0, result.stderr
    assert "WARNING: cannot mount binfmt_misc" in result.stderr
    reason = rehearsal.arm64_unavailable(tmp_path / "engine" / "arm64-unavailable")
    assert reason is not None
    assert "cannot mount binfmt_misc" in reason


@needs_tools
def test_release_tools_re_registers_a_disabled_entry_or_one_without_flag_f(tmp_path: Path) -> None:
    binfmt = tmp_path / "binfmt"
    binfmt.mkdir()
    (binfmt / "register").write_text("")
    (binfmt / "qemu-aarch64").write_text("disabled\ninterpreter /x\nflags: PO\n")
    result = _release_tools(tmp_path, binfmt)
    assert "re-registering" in result.stderr
    # The kernel's interface: -1 removes the entry, the conf line written to register adds it again.
    assert (binfmt / "qemu-aarch64").read_text() == "-1\n"
    assert (binfmt / "register").read_text() == (tmp_path / "qemu-aarch64.conf").read_text()
    # A folder is not the kernel: the entry did not come back, so release-tools says arm64 is out and carries on.
    assert result.returncode == 0, result.stderr
    assert rehearsal.arm64_unavailable(tmp_path / "engine" / "arm64-unavailable") is not None


@needs_tools
def test_release_tools_accepts_a_good_entry_and_clears_an_old_marker(tmp_path: Path) -> None:
    binfmt = tmp_path / "binfmt"
    binfmt.mkdir()
    (binfmt / "register").write_text("")
    (binfmt / "qemu-aarch64").write_text("enabled\ninterpreter /x\nflags: POF\n")
    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "arm64-unavailable").write_text("old reason\n")
    result = _release_tools(tmp_path, binfmt)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "engine" / "arm64-unavailable").exists()
    assert (binfmt / "register").read_text() == ""


def test_the_rehearsal_runs_the_verify_jobs_own_step_with_its_version_filled_in() -> None:
    step = rehearsal.verify_step("v9.9.9-x")
    assert step["uses"] == "./"
    inputs = step["with"]
    assert isinstance(inputs, dict)
    assert inputs["dry-run"] is True
    assert "v9.9.9-x" in str(inputs["arguments"])
    assert not any("${{" in str(value) for value in inputs.values())
