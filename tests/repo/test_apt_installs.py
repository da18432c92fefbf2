"""Every Debian install the scripts may ask for (scripts/test-machine.sh, scripts/docker-engine.sh) is one apt
accepts on this machine.

The sets are read from the scripts themselves (scripts/apt.sh's install_unless_found calls), then simulated
with `apt-get install -s`, which resolves dependencies and conflicts exactly as the real install would,
without installing or locking anything. A set is simulated when the script would ask for it here (none of
its commands is found), and also when every package in it is installed already (a no-op that still proves
apt's state holds it). A set whose tool came from elsewhere (npm bundled with NodeSource's Node.js) is not
asked for by the script, so it is not simulated either: that is the decision issue 16 was about.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The shell scripts: a Python script's text may name an apt command in a hint, but none runs one.
SCRIPTS = [ROOT / ".ci" / "run", *sorted(p for p in (ROOT / "scripts").iterdir() if p.is_file() and p.suffix != ".py")]
HELPER = ROOT / "scripts" / "apt.sh"

pytestmark = pytest.mark.skipif(
    shutil.which("apt-get") is None or shutil.which("dpkg-query") is None,
    reason="apt is absent here, so there is nothing to simulate the scripts' installs against",
)


@dataclass(frozen=True)
class Install:
    where: str
    commands: tuple[str, ...]
    arguments: tuple[str, ...]

    @property
    def packages(self) -> tuple[str, ...]:
        return tuple(a for a in self.arguments if not a.startswith("-"))


def _installs(path: Path) -> list[Install]:
    found = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.lstrip().startswith("install_unless_found "):
            continue
        words = shlex.split(line, comments=True)
        at = words.index("install_unless_found")
        commands, _why, *rest = words[at + 1 :]
        arguments = tuple(rest[: rest.index("||")] if "||" in rest else rest)
        found.append(Install(f"{path.relative_to(ROOT)}:{number}", tuple(commands.split("|")), arguments))
    return found


def _all_installs() -> list[Install]:
    return [install for path in SCRIPTS for install in _installs(path)]


def _installed(package: str) -> bool:
    status = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Status}", package], capture_output=True, text=True, check=False
    )
    return status.stdout.strip() == "install ok installed"


def test_every_apt_get_install_goes_through_the_one_helper() -> None:
    # A bare apt-get install elsewhere would escape both the per-tool decision and this simulation.
    for path in SCRIPTS:
        if path == HELPER:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            assert not re.search(r"apt-get\s+(-\S+\s+)*install", code), f"{path.name}:{number}: {line.strip()}"


def test_the_scripts_declare_each_tool_on_its_own() -> None:
    installs = _all_installs()
    where = {i.where.split(":")[0] for i in installs}
    assert {"scripts/test-machine.sh", "scripts/docker-engine.sh"} <= where
    by_tool = {i.commands[0]: i.packages for i in installs}
    # npm is never asked for in the same set as Chromium: one refusal must not take the other down.
    assert by_tool["npm"] == ("npm",)
    assert "npm" not in by_tool["chromium"]


@pytest.mark.parametrize("install", _all_installs(), ids=lambda i: f"{i.commands[0]}@{i.where}")
def test_apt_accepts_what_the_script_would_ask_for_here(install: Install) -> None:
    found = [c for c in install.commands if shutil.which(c) or os.access(c, os.X_OK)]
    if found and not all(_installed(p) for p in install.packages):
        # The tool came from elsewhere (npm with NodeSource's Node.js): the script must not ask apt at all,
        # since apt would refuse. Run the helper with an apt-get that records being called.
        decided = subprocess.run(
            ["bash", "-c", 'source "$0"; apt-get() { echo ASKED; return 100; }; install_unless_found "$@"', HELPER,
             "|".join(install.commands), "test", *install.arguments],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert decided.returncode == 0, decided.stderr
        assert "ASKED" not in decided.stdout, f"{install.where}: apt was asked for {found[0]}, which is already here"
        return
    simulated = subprocess.run(
        ["apt-get", "install", "-s", "-y", *install.arguments],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"},
    )
    said = simulated.stdout + simulated.stderr
    explanation = said[said.find("unmet dependencies") :] if "unmet dependencies" in said else said[-2000:]
    assert simulated.returncode == 0, f"{install.where}: apt refuses {' '.join(install.arguments)}:\n{explanation}"
